"""Crash safety of the SQLite archive: `archiver archive` killed with SIGKILL at any moment leaves no
half-written capture, and a CLI run shares its database file with other writing processes."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fixtures.cli import ArchiverCLI
from tests.hostile_server import HostileServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_env_proxies")]

# Direct connections to 127.0.0.1: what is tested here is the database, not the address guard.
#: URLs of the captures the second writer makes (they have no exchanges).
WRITER = "https://writer.example/"
CONFIG = {"fetch": {"allow_private_networks": True}, "archive": {"concurrency": 4}}


def _invariants(database: Path) -> dict[str, int]:
    """Check that every capture is whole; returns row counts."""
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("captures"):
                return dict.fromkeys(("captures", "exchanges", "links", "bodies"), 0)

            def scalar(sql: str) -> int:
                return int(conn.execute(sa.text(sql)).scalar_one())

            def rows(sql: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in conn.execute(sa.text(sql)).all()]

            assert rows("PRAGMA integrity_check") == [("ok",)]
            assert rows("PRAGMA foreign_key_check") == []
            # Every capture has its exchanges (all captures here are fetched, none embedded),
            # numbered 0..n-1 without gaps, and exactly one response when it succeeded.
            assert (
                rows(
                    "SELECT c.id FROM captures c LEFT JOIN exchanges e ON e.capture_id = c.id "
                    f"WHERE c.url NOT LIKE '{WRITER}%' "
                    "GROUP BY c.id HAVING COUNT(e.id) = 0 OR MAX(e.seq) != COUNT(e.id) - 1"
                )
                == []
            )
            assert (
                rows(
                    "SELECT c.id FROM captures c WHERE c.status = 'ok' AND (SELECT COUNT(*) FROM "
                    "exchanges e WHERE e.capture_id = c.id AND e.role = 'response') != 1"
                )
                == []
            )
            # No exchange or link without its capture, no body referenced but missing.
            assert (
                rows("SELECT id FROM exchanges WHERE capture_id NOT IN (SELECT id FROM captures)")
                == []
            )
            assert (
                rows("SELECT id FROM links WHERE capture_id NOT IN (SELECT id FROM captures)") == []
            )
            assert (
                rows(
                    "SELECT id FROM captures WHERE sha256 IS NOT NULL "
                    "AND sha256 NOT IN (SELECT sha256 FROM bodies)"
                )
                == []
            )
            assert (
                rows(
                    "SELECT id FROM exchanges WHERE sha256 IS NOT NULL "
                    "AND sha256 NOT IN (SELECT sha256 FROM bodies)"
                )
                == []
            )
            # Pages are written with all their outlinks, and every capture is sealed.
            assert (
                rows(
                    "SELECT c.id FROM captures c WHERE c.status = 'ok' AND c.url LIKE '%/slow?%' "
                    "AND c.url NOT LIKE '%/ok?%' "
                    "AND (SELECT COUNT(*) FROM links l WHERE l.capture_id = c.id) != 3"
                )
                == []
            )
            assert (
                rows("SELECT id FROM captures WHERE meta_hash IS NULL OR chain_hash IS NULL") == []
            )
            return {
                table: scalar(f"SELECT COUNT(*) FROM {table}")
                for table in ("captures", "exchanges", "links", "bodies")
            }
    finally:
        engine.dispose()


def _verify(cli: ArchiverCLI) -> None:
    result = cli.run("verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 problems" in result.stderr


def _captures(database: Path) -> int:
    try:
        with sqlite3.connect(database, timeout=30) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0])
    except sqlite3.OperationalError:  # no file or no schema yet
        return 0


def _kill_while_writing(proc: subprocess.Popen[bytes], database: Path, delay: float) -> bool:
    """SIGKILL `proc` `delay` seconds after its first capture is stored; False if it ended first."""
    before = _captures(database)
    deadline = time.monotonic() + 30
    while _captures(database) == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    return True


def test_sigkill_at_random_moments_leaves_whole_captures(
    hostile_server: HostileServer, tmp_path: Path
) -> None:
    cli = ArchiverCLI(tmp_path, CONFIG)
    rng = random.Random(20261126)
    kills = 0
    for run in range(6):
        # Slow pages, each linking to three more, keep the run writing for a couple of seconds.
        urls = [hostile_server.url(f"/slow?seconds=0.3&run={run}&i={i}") for i in range(16)]
        proc = cli.start("archive", *urls)
        if run == 0:
            # While it starts: importing, creating and migrating the database.
            time.sleep(rng.uniform(0.5, 3.0))
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            kills += _kill_while_writing(proc, cli.database, rng.uniform(0, 1.5))
        assert proc.wait(timeout=60) in (-signal.SIGKILL, 0)
        _invariants(cli.database)
    assert kills >= 5
    counts = _invariants(cli.database)
    # The archive is still usable and whole: a full run on top of it, then verify.
    done = cli.run("archive", hostile_server.url("/slow?seconds=0&run=last"))
    assert done.returncode == 0, done.stderr
    after = _invariants(cli.database)
    assert after["captures"] == counts["captures"] + 4
    _verify(cli)


# SIGKILL from inside the transaction, after the capture row, its exchanges and links are written
# and before the commit: deterministic where the random kills above are not.
_KILL_MID_TRANSACTION = """
import os, pathlib, signal, sys
from archiver import cli
from archiver.archiving import batch

real = batch.save_captures
saved = 0

def save_then_die(session, records):
    global saved
    rows = real(session, records)
    if saved + len(rows) >= int(os.environ["DIE_AT"]):
        session.flush()
        # What earlier transactions committed; this one's rows are written but never committed.
        pathlib.Path(os.environ["COMMITTED_FILE"]).write_text(str(saved))
        os.kill(os.getpid(), signal.SIGKILL)
    saved += len(rows)
    return rows

batch.save_captures = save_then_die
sys.argv = ["archiver", *sys.argv[1:]]
cli.main()
"""


def test_sigkill_inside_the_transaction_writes_nothing(
    hostile_server: HostileServer, tmp_path: Path
) -> None:
    cli = ArchiverCLI(tmp_path, {**CONFIG, "archive": {"concurrency": 1}})
    script = tmp_path / "die.py"
    script.write_text(textwrap.dedent(_KILL_MID_TRANSACTION))
    urls = [hostile_server.url(f"/slow?seconds=0&i={i}") for i in range(3)]
    proc = subprocess.run(
        [sys.executable, str(script), "--config", str(cli.config), "archive", *urls],
        env={**cli.env, "DIE_AT": "3", "COMMITTED_FILE": str(tmp_path / "committed")},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # The batch being written was flushed (rows, exchanges, links, bodies) and lost whole; what
    # earlier transactions committed is all there.
    counts = _invariants(cli.database)
    assert counts["captures"] == int((tmp_path / "committed").read_text())
    _verify(cli)


# A second writer: saves captures in a loop through archiver's own store code, holding each write
# transaction for a while, the way a daemon sharing the file would.
_WRITER = """
import pathlib, sys, time
from datetime import UTC, datetime
from archiver import integrity
from archiver.model import Platform, Status
from archiver.store.captures import NewCapture, save_capture
from archiver.store.db import make_engine, session_factory

engine = make_engine(sys.argv[1])
sessions = session_factory(engine)
stop = pathlib.Path(sys.argv[2])
deadline = time.monotonic() + 60
n = 0
while not stop.exists() and time.monotonic() < deadline:
    with sessions.begin() as session:
        integrity.lock_chain(session)
        row = save_capture(session, NewCapture(
            url=f"https://writer.example/{n}", platform=Platform.WEB,
            captured_at=datetime.now(UTC), status=Status.FAILED, error="test writer",
        ))
        integrity.seal(session, row)
        time.sleep(0.05)
    n += 1
    time.sleep(0.05)
print(n)
"""


def test_cli_and_another_writer_share_the_database(
    hostile_server: HostileServer, tmp_path: Path
) -> None:
    cli = ArchiverCLI(tmp_path, CONFIG)
    assert cli.run("db", "upgrade").returncode == 0
    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, cli.env["ARCHIVER_DATABASE_URL"], str(stop)],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        other = subprocess.Popen(
            cli.command(
                "archive", *[hostile_server.url(f"/slow?seconds=0.05&o={i}") for i in range(10)]
            ),
            env=cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        urls = [hostile_server.url(f"/slow?seconds=0.05&i={i}") for i in range(10)]
        result = cli.run("archive", *urls)
        other_err = other.communicate(timeout=60)[1]
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=60)
    assert "locked" not in result.stderr + other_err + err
    assert result.returncode == 0, result.stderr
    assert other.returncode == 0, other_err
    assert writer.returncode == 0, err
    written = int(out)
    counts = _invariants(cli.database)
    assert written >= 5  # the writer really wrote alongside the two runs (timing varies with load)
    assert counts["captures"] == written + 2 * 10 * 4
    _verify(cli)
    with sqlite3.connect(cli.database) as conn:  # WAL mode, as the store promises
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
