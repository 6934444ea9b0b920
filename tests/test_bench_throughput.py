"""bench/throughput.py end to end on a tiny input: the real command, the local web, the baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_throughput_bench_reports_sane_figures(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    urls = 6
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "throughput.py"),
            "--urls",
            str(urls),
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
    results = json.loads(out.read_text(encoding="utf-8"))

    first = results["archive"]
    # Each post URL gives two captures: the post and the article behind its short link.
    assert first["captures"] == 2 * urls
    assert first["statuses"] == {"ok": 2 * urls}
    assert first["changes"] == {"first": 2 * urls}
    assert first["captures_per_s"] > 0
    assert 0 < first["cpu_s_per_capture"] < 60
    assert 20 < first["max_rss_mb"] < 4000
    assert first["db_bytes"] > 0

    again = results["rearchive"]
    assert again["captures"] == 2 * urls
    assert again["changes"] == {"unchanged": 2 * urls}
    assert again["db_growth_bytes"] >= 0

    bound = results["extraction_bound"]
    assert bound["pages"] == 2 * urls
    assert bound["pages_per_s"] > 0 and bound["cpu_s_per_page"] > 0
    assert results["sequential"]["pages"] == 4
    assert results["ratios"]["vs_extraction_bound"] > 0
    assert results["ratios"]["vs_sequential"] > 0
    assert [m["urls"] for m in results["memory"]] == [3, 6]
    assert set(results["targets"]) >= {
        "throughput_vs_extraction_bound",
        "throughput_vs_sequential",
        "peak_memory_mb",
        "memory_flat_ratio",
        "rearchive_bytes_per_capture",
    }
    assert results["machine"]["cores"] >= 1
