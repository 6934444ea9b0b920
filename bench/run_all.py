"""Run every benchmark and write BENCHMARKS.md: the figures, their baselines and the machine.

Each benchmark runs as its own process (so one's imports and memory never colour another's) and
hands back JSON; a benchmark that is missing or fails is reported as such, not skipped silently.

    python bench/run_all.py --out BENCHMARKS.md [--quick] [--only throughput,extraction,fetch_pool,query]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import machine  # noqa: E402

BENCH = ROOT / "bench"


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str
    #: Arguments for a full run and for --quick.
    full: tuple[str, ...]
    quick: tuple[str, ...]
    #: True when the script takes `--json PATH`; False when `--json` prints JSON on stdout.
    json_to_file: bool = True


BENCHMARKS = (
    Benchmark("extraction", "extraction.py", (), ("--limit", "20", "--repeat", "1")),
    Benchmark(
        "throughput",
        "throughput.py",
        (),
        ("--urls", "200", "--baseline-urls", "20", "--memory-urls", "100,400"),
    ),
    Benchmark("fetch_pool", "fetch_pool.py", (), ("--requests", "300", "--origins", "1,4")),
    Benchmark(
        "query",
        "query.py",
        (),
        ("--captures", "5000", "--queries", "30"),
        json_to_file=False,
    ),
)


def run_one(bench: Benchmark, quick: bool, say: Callable[[str], None]) -> dict[str, Any]:
    """Run one benchmark; returns {"ok": True, "data": ...} or {"ok": False, "error": ...}."""
    script = BENCH / bench.script
    if not script.exists():
        return {"ok": False, "error": f"bench/{bench.script} is not in this checkout"}
    args = list(bench.quick if quick else bench.full)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with tempfile.TemporaryDirectory(prefix="archiver-bench-") as tmp:
        out = Path(tmp) / f"{bench.name}.json"
        command = [sys.executable, str(script), *args]
        command += ["--json", str(out)] if bench.json_to_file else ["--json"]
        say(f"== {bench.name}: {' '.join(command[1:])}")
        started = time.monotonic()
        # stderr passes through: progress from long runs stays visible.
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        seconds = round(time.monotonic() - started, 1)
        if done.returncode != 0:
            return {"ok": False, "error": f"exited with {done.returncode}", "seconds": seconds}
        try:
            text = out.read_text(encoding="utf-8") if bench.json_to_file else done.stdout
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            return {"ok": False, "error": f"no JSON report ({exc})", "seconds": seconds}
    return {"ok": True, "data": data, "seconds": seconds, "args": args}


# --- rendering ----------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _met(target: dict[str, Any] | None) -> str:
    if target is None:
        return ""
    return "yes" if target["met"] else "**no**"


def render_throughput(data: dict[str, Any]) -> list[str]:
    """The throughput section: figures next to their same-run baselines and the targets."""
    a, bound, seq = data["archive"], data["extraction_bound"], data["sequential"]
    ratios, targets, params = data["ratios"], data["targets"], data["params"]
    lines = [
        f"{params['urls']:,} post URLs, each linking through a 301 short link to an article "
        f"(copies of the {params['distinct_pages']} benchmark pages, each made unique), served "
        f"from 127.0.0.1 with {params['delay_s'] * 1000:.0f} ms of delay on every response, "
        f"archived by `archiver archive --from-file` (depth 1, archive.concurrency = "
        f"{params.get('concurrency', 8)}, no per-host limit: the one local host stands in for "
        "many sites) into a fresh SQLite database.",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| captures per second, `archiver archive` | {_fmt(a['captures_per_s'])} "
        f"({a['captures']:,} captures in {_fmt(a['wall_s'])} s; steady state "
        f"{_fmt(a['steady_captures_per_s'])}) | | |",
        f"| baseline: extraction only, from memory, {bound['processes']} processes | "
        f"{_fmt(bound['pages_per_s'])} pages/s (runs: "
        f"{', '.join(_fmt(r['pages_per_s']) for r in bound['runs'])}) | | |",
        f"| baseline: sequential httpx + trafilatura loop | {_fmt(seq['pages_per_s'])} pages/s "
        f"({seq['pages']} pages) | | |",
        f"| throughput / extraction bound | {_fmt(ratios['vs_extraction_bound'], 2)} | ≥ 0.80 | "
        f"{_met(targets.get('throughput_vs_extraction_bound'))} |",
        f"| throughput / sequential loop | {_fmt(ratios['vs_sequential'], 1)}× | ≥ 5× | "
        f"{_met(targets.get('throughput_vs_sequential'))} |",
        f"| CPU per capture (all processes) | {_fmt(a['cpu_s_per_capture'] * 1000)} ms | | |",
        f"| extraction CPU per page (baseline) | {_fmt(bound['cpu_s_per_page'] * 1000)} ms | | |",
    ]
    if a.get("main_cpu_s_per_capture") is not None:
        lines.append(
            "| CPU per capture: the `archiver` process (fetching, writing) / its extraction "
            f"workers | {_fmt(a['main_cpu_s_per_capture'] * 1000)} ms / "
            f"{_fmt(a['workers_cpu_s_per_capture'] * 1000)} ms | | |"
        )
    lines += [
        f"| extraction's share of the CPU per capture | "
        f"{_fmt(ratios['cpu_extraction_share'], 2)} | | |",
        f"| CPU ceiling: captures/s with every core busy at this CPU per capture, "
        f"/ extraction bound | {_fmt(ratios.get('cpu_ceiling_captures_per_s'))} / "
        f"{_fmt(ratios.get('cpu_ceiling_vs_extraction_bound'), 2)} "
        f"(cores busy in the run: {_fmt(a.get('cores_busy'), 2)}) | | |",
        f"| CPU per capture of the local web server (same cores, counted in the ceiling) | "
        f"{_fmt((a.get('server_cpu_s_per_capture') or 0) * 1000)} ms | | |",
    ]
    floor = data.get("fetch_floor")
    if floor:
        lines.append(
            "| fetching alone (httpx in threads, nothing stored): CPU per capture, client / "
            f"server; ceiling of fetch + extract, / extraction bound | "
            f"{_fmt(floor['cpu_s_per_capture'] * 1000)} ms / "
            f"{_fmt(floor['server_cpu_s_per_capture'] * 1000)} ms; "
            f"{_fmt(ratios.get('fetch_and_extract_ceiling_vs_extraction_bound'), 2)} | | |"
        )
    least = data.get("store_floor")
    if least:
        lines.append(
            "| storing the least (hash, zstd, plain sqlite3 row, FTS5, passage fingerprints): "
            "CPU per capture; ceiling of fetch + extract + that, / extraction bound | "
            f"{_fmt(least['cpu_s_per_capture'] * 1000)} ms; "
            f"{_fmt(ratios.get('minimal_archive_ceiling_vs_extraction_bound'), 2)} | | |"
        )
    lines += [
        f"| peak memory: largest process (ru_maxrss) / whole tree (PSS) | "
        f"{_fmt(a['max_rss_mb'], 0)} MB / {_fmt(a['peak_pss_mb'], 0)} MB | < 300 MB | "
        f"{_met(targets.get('peak_memory_mb'))} |",
        f"| database size per capture, first run | "
        f"{_fmt(a['db_bytes'] / max(a['captures'], 1) / 1024)} KB | | |",
    ]
    if "rearchive" in data:
        r = data["rearchive"]
        lines.append(
            f"| re-archiving unchanged pages: database growth per capture | "
            f"{_fmt(r['db_growth_bytes_per_capture'], 0)} bytes ({_fmt(r['captures_per_s'])} "
            f"captures/s) | < 1 KB | {_met(targets.get('rearchive_bytes_per_capture'))} |"
        )
    for m in data.get("memory", []):
        lines.append(
            f"| peak memory at {m['urls']:,} URLs ({m['captures']:,} captures): largest process "
            f"/ tree PSS | {_fmt(m['max_rss_mb'], 0)} MB / {_fmt(m['peak_pss_mb'], 0)} MB "
            f"({_fmt(m['captures_per_s'])} captures/s) | | |"
        )
    if "memory_flat_ratio" in targets:
        t = targets["memory_flat_ratio"]
        lines.append(
            f"| memory growth, largest vs smallest run (PSS) | {_fmt(t['value'], 2)}× | "
            f"≤ {t['target']}× | {_met(t)} |"
        )
    return lines


def render_extraction(data: dict[str, Any]) -> list[str]:
    results: dict[str, dict[str, Any]] = data.get("results", {})
    columns = ["precision", "recall", "f1", "accuracy", "pages_per_s", "peak_rss_mib"]
    lines = [
        f"Main-text extraction on {data.get('pages', '?')} article-extraction benchmark pages "
        "(the benchmark's own metric).",
        "",
        "| extractor | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, row in results.items():
        cells = [
            _fmt(row.get(c), 4 if c in ("precision", "recall", "f1", "accuracy") else 1)
            for c in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def render_fetch_pool(data: dict[str, Any]) -> list[str]:
    params = data.get("params", {})
    lines = [
        f"archiver's Fetcher in {params.get('threads', '?')} threads against local sites (each "
        f"answer delayed {params.get('delay_s', 0) * 1000:.0f} ms), with its LinearPool and with "
        f"httpcore's stock ConnectionPool, alternately, best of {params.get('rounds', '?')} "
        "rounds each.",
        "",
        "| sites | requests | wall s, LinearPool / stock | CPU ms per request, LinearPool / "
        "stock | ratio wall | ratio CPU |",
        "|---|---|---|---|---|---|",
    ]
    for case in data.get("cases", []):
        linear, stock = case["runs"]["linear"], case["runs"]["stock"]
        lines.append(
            f"| {case['origins']} | {case['requests']:,} | "
            f"{_fmt(min(r['wall_s'] for r in linear))} / {_fmt(min(r['wall_s'] for r in stock))}"
            f" | {_fmt(min(r['cpu_ms_per_request'] for r in linear), 2)} / "
            f"{_fmt(min(r['cpu_ms_per_request'] for r in stock), 2)} | "
            f"{_fmt(case['wall_ratio'], 2)} | {_fmt(case['cpu_ratio'], 2)} |"
        )
    return lines


def render_query(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{data.get('captures', '?'):,} synthetic captures, {data.get('queries', '?')} timed "
        "queries per question.",
        "",
        "| backend | question | median ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for backend, results in data.get("backends", {}).items():
        for name, values in results.items():
            lines.append(
                f"| {backend} | {name} | {_fmt(values.get('median_ms'), 2)} | "
                f"{_fmt(values.get('p95_ms'), 2)} |"
            )
    return lines


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "throughput": render_throughput,
    "extraction": render_extraction,
    "fetch_pool": render_fetch_pool,
    "query": render_query,
}
TITLES = {
    "throughput": "Capture throughput (`bench/throughput.py`)",
    "extraction": "Extraction quality and speed (`bench/extraction.py`)",
    "fetch_pool": "Fetching from many sites: connection pool (`bench/fetch_pool.py`)",
    "query": "Query latency (`bench/query.py`)",
}


def render(results: dict[str, dict[str, Any]], command: str, info: dict[str, Any]) -> str:
    """BENCHMARKS.md from the benchmarks' reports."""
    lines = [
        "# Benchmarks",
        "",
        f"Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB "
        f"RAM, Python {info['python']}, {info['system']}"
        + (f", commit {info['commit']}" if info.get("commit") else "")
        + ".",
        "",
        f"Reproduce with `make bench`, which runs `{command}`. Figures from shared or busy "
        "machines move from run to run; the baselines are measured in the same run for that "
        "reason, and the ratios against them are the figures to compare.",
    ]
    for name in RENDERERS:
        if name not in results:
            continue
        outcome = results[name]
        lines += ["", f"## {TITLES[name]}", ""]
        if not outcome["ok"]:
            lines.append(f"Not measured: {outcome['error']}.")
            continue
        try:
            lines += RENDERERS[name](outcome["data"])
        except (KeyError, TypeError, ValueError) as exc:
            lines.append(f"The report could not be read ({type(exc).__name__}: {exc}).")
            continue
        args = " ".join(outcome.get("args") or [])
        lines += [
            "",
            f"Ran `python bench/{name}.py{' ' + args if args else ''}` in {outcome['seconds']} s.",
        ]
    return "\n".join(lines) + "\n"


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return done.stdout.strip() or None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of {', '.join(b.name for b in BENCHMARKS)}",
    )
    args = parser.parse_args(argv)
    wanted = {x.strip() for x in args.only.split(",") if x.strip()}
    unknown = wanted - {b.name for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    info = machine()
    info["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    info["commit"] = _commit()
    results = {
        b.name: run_one(b, args.quick, say) for b in BENCHMARKS if not wanted or b.name in wanted
    }
    command = "python bench/run_all.py --out BENCHMARKS.md" + (" --quick" if args.quick else "")
    args.out.write_text(render(results, command, info), encoding="utf-8")
    say(f"wrote {args.out}")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
