"""Main-text extraction benchmark: archiver's extract_page against trafilatura's defaults.

Runs both extractors over the article-extraction benchmark pages in the same process and prints
precision, recall, F1 and accuracy (the benchmark's own metric, see bench/aeb_metric.py), pages
per second (CPU time, best of --repeat rounds) and peak RSS, with the ratios
archiver/trafilatura, as a Markdown table.

    python bench/extraction.py [--data DIR] [--limit N] [--json OUT] [--repeat N] [--no-memory]

The data directory holds `ground-truth.json` and `html/<id>.html.gz`; by default it is
`../shared/data/aeb-dev` next to the repository, or $ARCHIVER_AEB_DATA.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.aeb_metric import Summary, evaluate  # noqa: E402

Extractor = Callable[[bytes, str], str]


def default_data() -> Path:
    env = os.environ.get("ARCHIVER_AEB_DATA")
    if env:
        return Path(env)
    # ../shared/data/aeb-dev beside the checkout; a worktree sits one level deeper.
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data" / "aeb-dev"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "aeb-dev"


def load_pages(
    data: Path, limit: int | None
) -> tuple[dict[str, str], dict[str, str], dict[str, bytes]]:
    """Ground truth, page URLs and raw page bytes, in the ground truth's order."""
    truth_file = data / "ground-truth.json"
    if not truth_file.is_file():
        raise SystemExit(f"no {truth_file}: pass --data DIR or set ARCHIVER_AEB_DATA")
    truth_doc = json.loads(truth_file.read_text(encoding="utf-8"))
    ids = sorted(truth_doc)[:limit] if limit else sorted(truth_doc)
    truth = {k: truth_doc[k]["articleBody"] for k in ids}
    urls = {k: truth_doc[k].get("url", "") for k in ids}
    pages = {}
    for k in ids:
        path = data / "html" / f"{k}.html.gz"
        pages[k] = (
            gzip.decompress(path.read_bytes())
            if path.exists()
            else (data / "html" / f"{k}.html").read_bytes()
        )
    return truth, urls, pages


def archiver_extract(html: bytes, url: str) -> str:
    from archiver.extract import extract_page

    return extract_page(html, url).text or ""


def trafilatura_extract(html: bytes, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html) or ""


EXTRACTORS: dict[str, Extractor] = {
    "trafilatura": trafilatura_extract,
    "archiver": archiver_extract,
}


def run(
    extract: Extractor, urls: dict[str, str], pages: dict[str, bytes]
) -> tuple[dict[str, str], float]:
    """Predictions and the CPU seconds one pass over all pages took."""
    gc.collect()
    start = time.process_time()
    predicted = {k: extract(html, urls[k]) for k, html in pages.items()}
    return predicted, time.process_time() - start


def peak_rss(name: str, data: Path, limit: int | None) -> float:
    """Peak resident memory (MiB) of a fresh interpreter that runs one extractor over all pages.

    A subprocess per extractor, because most of the memory is libxml2's, which tracemalloc does
    not see, and because RSS never shrinks within a process. The figure includes the interpreter
    and the imports, which both extractors share.
    """
    args = [sys.executable, str(Path(__file__).resolve()), "--data", str(data), "--rss-child", name]
    if limit:
        args += ["--limit", str(limit)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _reset_peak_rss() -> None:
    # A child inherits its parent's high-water mark across fork and exec; Linux resets it on
    # request (clear_refs 5). Where it cannot, the figure is an upper bound.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _rss_child(name: str, urls: dict[str, str], pages: dict[str, bytes]) -> None:
    import resource

    extract = EXTRACTORS[name]
    for k, html in pages.items():
        extract(html, urls[k])
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                print(int(line.split()[1]) / 1024)  # kB
                return
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3f}" if a is not None and b else "–"


def table(results: dict[str, dict[str, float | None]]) -> str:
    cols = ["precision", "recall", "f1", "accuracy", "pages_per_s", "peak_rss_mib"]
    lines = ["| extractor | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in results.items():
        cells = [
            f"{row[c]:.4f}"
            if c in ("precision", "recall", "f1", "accuracy") and row[c] is not None
            else f"{row[c]:.1f}"
            if row[c] is not None
            else "–"
            for c in cols
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    a, t = results["archiver"], results["trafilatura"]
    lines.append(
        "| archiver / trafilatura | " + " | ".join(_ratio(a[c], t[c]) for c in cols) + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="benchmark directory")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds (best counts)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-RSS runs")
    parser.add_argument("--rss-child", choices=sorted(EXTRACTORS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    if args.rss_child:
        _reset_peak_rss()
    data = args.data or default_data()
    truth, urls, pages = load_pages(data, args.limit)
    if args.rss_child:
        _rss_child(args.rss_child, urls, pages)
        return 0
    extractors = EXTRACTORS
    first = next(iter(pages))
    for extract in extractors.values():  # warm-up: imports and lazy set-up are not timed
        extract(pages[first], urls[first])
    # CPU time, best of several alternating rounds: other load on the machine slows a round
    # down but never speeds it up.
    best: dict[str, float] = {}
    predictions: dict[str, dict[str, str]] = {}
    for round_no in range(max(1, args.repeat)):
        order = list(extractors) if round_no % 2 == 0 else list(reversed(extractors))
        for name in order:
            predictions[name], seconds = run(extractors[name], urls, pages)
            best[name] = min(best.get(name, float("inf")), seconds)
    results: dict[str, dict[str, float | None]] = {}
    for name in extractors:
        summary: Summary = evaluate(truth, predictions[name])
        results[name] = {
            "precision": summary.precision,
            "recall": summary.recall,
            "f1": summary.f1,
            "accuracy": summary.accuracy,
            "pages_per_s": len(pages) / best[name] if best[name] > 0 else None,
            "peak_rss_mib": None if args.no_memory else peak_rss(name, data, args.limit),
        }
    print(f"{len(pages)} pages from {data}\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"pages": len(pages), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
