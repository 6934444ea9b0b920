"""bench/query.py runs end to end on a tiny archive (the real run uses 100,000 captures)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa

from archiver.store.db import open_database

ROOT = Path(__file__).resolve().parent.parent


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_query", ROOT / "bench" / "query.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_fill_writes_captures_index_and_queries(tmp_path: Path) -> None:
    bench = load_bench()
    engine = open_database(f"sqlite:///{tmp_path / 'bench.sqlite3'}")
    try:
        corpus = bench.fill(engine, 400, 3, lambda _message: None)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM captures")).scalar() == 400
            assert conn.execute(sa.text("SELECT count(*) FROM shingles")).scalar_one() > 400
            copies = conn.execute(
                sa.text("SELECT count(*) FROM captures WHERE url LIKE 'https://copies%'")
            ).scalar_one()
        assert copies > 0
        assert corpus.passages and corpus.search_terms and corpus.urls
        results = bench.measure(engine, corpus, 3, 3)
    finally:
        engine.dispose()
    assert set(results) == {"show", "search", "provenance"}
    assert all(r["median_ms"] > 0 and r["p95_ms"] >= r["median_ms"] for r in results.values())


def test_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "query.py"),
            "--captures",
            "200",
            "--queries",
            "2",
            "--postgres",
            "",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["captures"] == 200
    assert set(report["backends"]) == {"sqlite"}
    assert set(report["backends"]["sqlite"]) == {"show", "search", "provenance"}
