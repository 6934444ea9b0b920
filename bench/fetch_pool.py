"""Fetching from many sites at once: archiver's connection pool against httpcore's own.

Local sites (one server process each, like bench/throughput.py's local web, every answer
delayed) are fetched by archiver's Fetcher from a pool of threads, once with its LinearPool and
once with httpcore's stock ConnectionPool swapped in, alternately for several rounds so that
load from elsewhere on the machine hits both. Reported: wall time and CPU per request of the
fetching process, and their ratios (LinearPool / stock) per number of sites.

    python bench/fetch_pool.py [--requests 3000] [--origins 1,12] [--threads 32] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpcore  # noqa: E402
import httpx  # noqa: E402

from archiver.config import FetchConfig  # noqa: E402
from archiver.fetch import Fetcher  # noqa: E402
from bench.throughput import (  # noqa: E402
    Site,
    default_data,
    load_pages,
    local_web,
    machine,
    process_cpu,
)


def fetch_all(urls: Sequence[str], threads: int, stock: bool) -> dict[str, float]:
    """Wall seconds and CPU seconds per request for fetching `urls` in `threads` threads."""
    with Fetcher(FetchConfig(allow_private_networks=True)) as fetcher:
        if stock:
            limits = httpx.Limits()
            # The pool httpx builds itself, as DirectTransport did before LinearPool.
            fetcher._client._transport._pool = httpcore.ConnectionPool(  # type: ignore[attr-defined]
                ssl_context=httpx.create_ssl_context(),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
            )
        cpu, started = process_cpu(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(lambda url: fetcher.get(url).status, urls))
        wall, spent = time.perf_counter() - started, process_cpu() - cpu
    if any(status != 200 for status in statuses):
        raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")
    return {"wall_s": round(wall, 3), "cpu_ms_per_request": round(spent / len(urls) * 1000, 3)}


def measure(sites: Sequence[Site], requests: int, threads: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(len(sites))
    urls = [rng.choice(sites).post_url(n) for n in range(requests)]
    runs: dict[str, list[dict[str, float]]] = {"linear": [], "stock": []}
    for _ in range(rounds):
        for name in ("stock", "linear"):
            runs[name].append(fetch_all(urls, threads, stock=name == "stock"))

    def best(name: str, key: str) -> float:
        return min(run[key] for run in runs[name])

    return {
        "origins": len(sites),
        "requests": requests,
        "runs": runs,
        # Least of the rounds: the run least disturbed by the rest of the machine.
        "wall_ratio": round(best("linear", "wall_s") / best("stock", "wall_s"), 3),
        "cpu_ratio": round(
            best("linear", "cpu_ms_per_request") / best("stock", "cpu_ms_per_request"), 3
        ),
    }


def render(results: dict[str, Any]) -> str:
    lines = []
    for case in results["cases"]:
        linear, stock = case["runs"]["linear"], case["runs"]["stock"]
        lines.append(
            f"{case['origins']} sites, {case['requests']} requests: LinearPool "
            f"{min(r['wall_s'] for r in linear):.1f} s, "
            f"{min(r['cpu_ms_per_request'] for r in linear):.2f} ms CPU/request; stock "
            f"{min(r['wall_s'] for r in stock):.1f} s, "
            f"{min(r['cpu_ms_per_request'] for r in stock):.2f} ms CPU/request; ratios "
            f"{case['wall_ratio']:.2f} wall, {case['cpu_ratio']:.2f} CPU"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--origins", default="1,12", help="comma-separated numbers of sites")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds every answer waits")
    parser.add_argument("--data", type=Path, default=None, help="folder of *.html.gz pages")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    # A few pages are enough: the posts served are small, what is measured is the pool.
    pages = load_pages(args.data or default_data())[:3]
    results: dict[str, Any] = {
        "machine": machine(),
        "params": {"threads": args.threads, "delay_s": args.delay, "rounds": args.rounds},
        "cases": [],
    }
    for count in (int(x) for x in args.origins.split(",") if x.strip()):
        print(f"{count} sites …", file=sys.stderr, flush=True)
        with contextlib.ExitStack() as stack:
            sites = [stack.enter_context(local_web(pages, args.delay)) for _ in range(count)]
            results["cases"].append(measure(sites, args.requests, args.threads, args.rounds))
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
