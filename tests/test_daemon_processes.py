"""Daemons as real processes: killed with SIGKILL, stopped with SIGTERM, two on one database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.queue import JobState, enqueue, write_session
from archiver.store.db import open_database
from archiver.store.models import Capture, Exchange, Job, JobAttempt, Link
from tests.site_server import Site, article

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def write_config(path: Path, db_url: str, **daemon: float) -> Path:
    settings = {
        "workers": 4,
        "poll_seconds": 0.1,
        "lease_seconds": 2,
        "per_host_delay_seconds": 0,
        "per_host_concurrency": 50,
        **daemon,
    }
    lines = [
        f"database_url = {db_url!r}",
        "[fetch]",
        "allow_private_networks = true",
        "[archive]",
        "depth = 0",
        "[daemon]",
        *(f"{key} = {value}" for key, value in settings.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class DaemonProcess:
    """`archiver daemon` in a child process, its output going to a file (a pipe could fill up)."""

    def __init__(self, config: Path, *args: str) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().endswith("_PROXY") and not k.startswith("ARCHIVER_")
        }
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "archiver", "--config", str(config), "daemon", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait(self, timeout: float) -> str:
        """Wait for the exit; the output, after checking the exit status was 0."""
        try:
            code = self.process.wait(timeout)
        finally:
            self.kill()
        output = self.log.read_text(encoding="utf-8")
        assert code == 0, output
        return output

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def count_jobs(engine: Engine, state: str) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.state == state))
            or 0
        )


def queue_pages(engine: Engine, site: Site, n: int, delay: float) -> list[str]:
    urls = []
    for i in range(n):
        site.set(f"/p{i}", article(f"Page {i}", f"Paragraph of page {i}."), delay=delay)
        urls.append(site.url(f"/p{i}"))
    with write_session(engine) as session:
        enqueue(session, urls, depth=0, now=datetime.now(UTC))
    return urls


def assert_each_job_captured_once(engine: Engine, urls: list[str]) -> None:
    with Session(engine) as session:
        jobs = session.scalars(sa.select(Job)).all()
        assert len(jobs) == len(urls)
        assert {j.state for j in jobs} == {JobState.DONE}
        per_url = dict(
            session.execute(sa.select(Capture.url, sa.func.count()).group_by(Capture.url)).all()
        )
        assert per_url == {url: 1 for url in urls}
        captures = session.scalars(sa.select(Capture)).all()
        assert {c.status for c in captures} == {"ok"}
        assert sorted(c.id for c in captures) == sorted(j.capture_id or 0 for j in jobs)
        assert {c.job_id for c in captures} == {j.id for j in jobs}
        # Every capture is whole: its response exchange is there; nothing points at no capture.
        with_response = set(
            session.scalars(sa.select(Exchange.capture_id).where(Exchange.role == "response"))
        )
        assert with_response == {c.id for c in captures}
        ids = sa.select(Capture.id)
        for table in (Exchange, Link):
            orphans = session.scalar(
                sa.select(sa.func.count()).select_from(table).where(table.capture_id.not_in(ids))  # type: ignore[attr-defined]
            )
            assert orphans == 0


def test_a_daemon_killed_mid_run_loses_nothing_and_duplicates_nothing(
    db: Engine, db_url: str, site: Site, tmp_path: Path
) -> None:
    urls = queue_pages(db, site, 24, delay=0.4)
    # Leases short enough to expire soon after the kill, long enough that a busy machine does
    # not let one lapse between renewals (every lease_seconds / 3) while the daemon is alive.
    config = write_config(tmp_path / "config.toml", db_url, lease_seconds=4)
    first = DaemonProcess(config)
    try:
        wait_for(lambda: count_jobs(db, JobState.DONE) >= 6, 60, "six jobs done")
        # Requests are in flight now: four workers, each page takes 0.4 s to answer.
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(10) == -signal.SIGKILL
    finally:
        first.kill()
    done_before = count_jobs(db, JobState.DONE)
    leased = count_jobs(db, JobState.LEASED)
    assert leased > 0 and done_before < 24
    time.sleep(4.2)  # lease_seconds: the dead daemon's leases expire
    # The second daemon leases for longer, so that on a slow machine none of its own leases
    # expires: every expired attempt counted below is one the killed daemon left.
    patient = write_config(tmp_path / "patient.toml", db_url, lease_seconds=60)
    DaemonProcess(patient, "--once").wait(120)
    assert_each_job_captured_once(db, urls)
    with Session(db) as session:
        retried = session.scalars(
            sa.select(JobAttempt).where(JobAttempt.outcome == "expired")
        ).all()
    assert len(retried) == leased


def test_two_daemons_on_one_database_never_capture_a_job_twice(
    db: Engine, db_url: str, site: Site, tmp_path: Path
) -> None:
    # No lease may expire here (a slow machine must not look like a dead daemon): every job
    # leased twice would then be a real double claim.
    config = write_config(tmp_path / "config.toml", db_url, lease_seconds=60)
    daemons = [DaemonProcess(config) for _ in range(2)]
    try:
        # Jobs are queued once both daemons are up, so that both compete for them.
        wait_for(lambda: all("started" in d.output() for d in daemons), 60, "both daemons")
        urls = queue_pages(db, site, 60, delay=0.15)
        wait_for(lambda: count_jobs(db, JobState.DONE) == 60, 120, "all jobs done")
    finally:
        for daemon in daemons:
            daemon.process.send_signal(signal.SIGTERM)
        outputs = [daemon.wait(30) for daemon in daemons]
    assert_each_job_captured_once(db, urls)
    with Session(db) as session:
        attempts = session.scalars(sa.select(JobAttempt)).all()
    assert len(attempts) == 60  # no job was leased twice
    workers = {a.worker for a in attempts}
    assert len(workers) == 2, outputs
    assert all(len(site.requests(f"/p{i}")) == 1 for i in range(60))


def test_sigterm_lets_the_running_capture_finish(
    db: Engine, db_url: str, site: Site, tmp_path: Path
) -> None:
    [url] = queue_pages(db, site, 1, delay=1.5)
    config = write_config(tmp_path / "config.toml", db_url, lease_seconds=60)
    daemon = DaemonProcess(config, "--grace", "20")
    try:
        wait_for(lambda: bool(site.requests("/p0")), 60, "the capture to start")
        started = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
    finally:
        err = daemon.wait(30)
    assert time.monotonic() - started < 15
    assert "received SIGTERM" in err
    assert f"url={url} status=ok" in err  # the per-capture log line
    assert "1 done" in err
    assert_each_job_captured_once(db, [url])
