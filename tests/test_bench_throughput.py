"""bench/throughput.py end to end on a tiny input, and run_all's report built from its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import run_all

ROOT = Path(__file__).resolve().parent.parent
URLS = 6

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "throughput.json"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "throughput.py"),
            "--urls",
            str(URLS),
            "--delay",
            "0.01",
            "--data",
            str(ROOT / "tests" / "data" / "e2e"),
            "--baseline-urls",
            "2",
            "--memory-urls",
            "3,6",
            "--json",
            str(out),
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_throughput_bench_reports_sane_figures(results: dict[str, Any]) -> None:
    first = results["archive"]
    # Each post URL gives two captures: the post and the article behind its short link.
    assert first["captures"] == 2 * URLS
    assert first["statuses"] == {"ok": 2 * URLS}
    assert first["changes"] == {"first": 2 * URLS}
    assert first["captures_per_s"] > 0
    assert 0 < first["cpu_s_per_capture"] < 60
    # The archiver process's own CPU, sampled while it ran, is part of the whole tree's.
    assert 0 < first["main_cpu_s"] <= first["cpu_s"]
    assert first["main_cpu_s_per_capture"] + first["workers_cpu_s_per_capture"] == pytest.approx(
        first["cpu_s_per_capture"], abs=1e-4
    )
    assert 20 < first["max_rss_mb"] < 4000
    assert first["db_bytes"] > 0

    again = results["rearchive"]
    assert again["captures"] == 2 * URLS
    assert again["changes"] == {"unchanged": 2 * URLS}
    assert again["db_growth_bytes"] >= 0

    bound = results["extraction_bound"]
    assert bound["pages"] == 2 * URLS
    assert bound["pages_per_s"] > 0 and bound["cpu_s_per_page"] > 0
    assert len(bound["runs"]) == 2
    assert results["sequential"]["pages"] == 4
    assert results["ratios"]["vs_extraction_bound"] > 0
    assert results["ratios"]["vs_sequential"] > 0
    # The local server answered every request of the run, on the same cores: its CPU counts.
    assert first["server_cpu_s_per_capture"] > 0
    ceiling = results["ratios"]["cpu_ceiling_captures_per_s"]
    assert ceiling == pytest.approx(
        results["machine"]["cores"]
        / (first["cpu_s_per_capture"] + first["server_cpu_s_per_capture"]),
        rel=0.01,
    )
    floor = results["fetch_floor"]
    assert floor["captures"] == 2 * URLS and floor["bytes"] > 0
    assert floor["cpu_s_per_capture"] > 0 and floor["server_cpu_s_per_capture"] > 0
    # Fetching alone costs less than the whole capture, so its ceiling is the higher one.
    assert floor["cpu_s_per_capture"] < first["cpu_s_per_capture"]
    least = results["store_floor"]
    assert least["captures"] == 2 * URLS and least["cpu_s_per_capture"] > 0
    # Each floor adds work, so each ceiling is lower than the one before it.
    assert (
        results["ratios"]["fetch_and_extract_ceiling_vs_extraction_bound"]
        > results["ratios"]["minimal_archive_ceiling_vs_extraction_bound"]
        > 0
    )
    assert [m["urls"] for m in results["memory"]] == [3, 6]
    assert set(results["targets"]) >= {
        "throughput_vs_extraction_bound",
        "throughput_vs_sequential",
        "peak_memory_mb",
        "memory_flat_ratio",
        "rearchive_bytes_per_capture",
    }
    assert results["machine"]["cores"] >= 1


def test_run_all_writes_the_figures_and_says_what_was_not_measured(
    results: dict[str, Any],
) -> None:
    info = {**results["machine"], "date": "2026-01-01 00:00 UTC", "commit": "abc1234"}
    missing = run_all.run_one(
        run_all.Benchmark("nothing", "no-such-bench.py", (), ()), False, lambda _: None
    )
    text = run_all.render(
        {"throughput": {"ok": True, "data": results, "seconds": 1.0}, "query": missing},
        "python bench/run_all.py --out BENCHMARKS.md",
        info,
    )
    ratio = results["ratios"]["vs_extraction_bound"]
    assert f"| throughput / extraction bound | {ratio:,.2f} | ≥ 0.80 |" in text
    reachable = results["ratios"]["fetch_and_extract_ceiling_vs_extraction_bound"]
    assert "ceiling of fetch + extract, / extraction bound | " in text
    assert f"; {reachable:,.2f} | | |" in text
    least = results["ratios"]["minimal_archive_ceiling_vs_extraction_bound"]
    assert "ceiling of fetch + extract + that, / extraction bound | " in text
    assert f"; {least:,.2f} | | |" in text
    assert f"{results['archive']['captures_per_s']:,.1f}" in text
    assert results["machine"]["cpu"] in text and "commit abc1234" in text
    assert "`python bench/run_all.py --out BENCHMARKS.md`" in text
    assert "## Query latency" in text
    assert "Not measured: bench/no-such-bench.py is not in this checkout." in text
