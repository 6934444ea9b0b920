"""bench/fetch_pool.py end to end on a tiny input, and its section of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import run_all

ROOT = Path(__file__).resolve().parent.parent


def test_fetch_pool_bench_compares_both_pools_per_number_of_sites(tmp_path: Path) -> None:
    out = tmp_path / "fetch_pool.json"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "fetch_pool.py"),
            *("--requests", "24", "--origins", "1,3", "--threads", "4", "--rounds", "1"),
            *("--delay", "0.005", "--data", str(ROOT / "tests" / "data" / "e2e")),
            *("--json", str(out)),
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [case["origins"] for case in data["cases"]] == [1, 3]
    for case in data["cases"]:
        assert case["requests"] == 24
        for name in ("linear", "stock"):
            [run] = case["runs"][name]
            assert run["wall_s"] > 0 and run["cpu_ms_per_request"] > 0
        linear, stock = case["runs"]["linear"][0], case["runs"]["stock"][0]
        assert case["wall_ratio"] == round(linear["wall_s"] / stock["wall_s"], 3)
        assert case["cpu_ratio"] == round(
            linear["cpu_ms_per_request"] / stock["cpu_ms_per_request"], 3
        )

    info = {**data["machine"], "date": "2026-01-01 00:00 UTC", "commit": "abc1234"}
    text = run_all.render({"fetch_pool": {"ok": True, "data": data, "seconds": 1.0}}, "x", info)
    assert "## Fetching from many sites: connection pool (`bench/fetch_pool.py`)" in text
    last = data["cases"][-1]
    assert "| 3 | 24 | " in text and f"| {last['cpu_ratio']:,.2f} |" in text
