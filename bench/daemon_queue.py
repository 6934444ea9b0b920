"""Queue and daemon throughput on SQLite and PostgreSQL, against a local site. Run by hand.

    python -m bench.daemon_queue [--postgres URL] [--jobs 2000] [--pages 200] [--delay 0.1]

1. Queue overhead: claim + finish of N jobs with no capture, by 1 and by 4 claimers (threads with
   their own engines), i.e. what the database costs per job.
2. Daemon: `pages` local pages answering after `delay` seconds, captured by one daemon with 4,
   8 and 16 workers.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from archiver.config import ArchiveConfig, Config, DaemonConfig, FetchConfig
from archiver.daemon import Daemon, archive_job
from archiver.fetch import Fetcher
from archiver.model import Status
from archiver.queue import JobResult, claim, enqueue, finish, write_session
from archiver.store.db import open_database
from tests.site_server import Site, article

FREE = DaemonConfig(per_host_delay_seconds=0, per_host_concurrency=10_000, workers=16)


def fresh(kind: str, postgres: str, tmp: Path) -> tuple[str, object]:
    """A new database URL and a cleanup callable."""
    if kind == "sqlite":
        path = tmp / f"{uuid.uuid4().hex}.sqlite3"
        return f"sqlite:///{path}", lambda: None
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    name = f"archiver_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(postgres).set(database=name).render_as_string(hide_password=False), drop


def queue_overhead(url: str, jobs: int, claimers: int) -> float:
    engine = open_database(url)
    now = datetime.now(UTC)
    with write_session(engine) as session:
        enqueue(session, [f"https://h{i % 50}.example/{i}" for i in range(jobs)], depth=0, now=now)
    engine.dispose()

    def work() -> None:
        engine = open_database(url)
        rng = random.Random()
        while True:
            with write_session(engine) as session:
                batch = claim(session, worker="bench", now=now, limit=8, config=FREE)
            if not batch:
                break
            for job in batch:
                with write_session(engine) as session:
                    finish(session, job, JobResult(Status.OK, 1), now=now, config=FREE, rng=rng)
        engine.dispose()

    threads = [threading.Thread(target=work) for _ in range(claimers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return jobs / (time.perf_counter() - started)


def daemon_run(url: str, site: Site, pages: int, workers: int) -> float:
    engine = open_database(url)
    config = Config(
        database_url=url,
        fetch=FetchConfig(allow_private_networks=True),
        archive=ArchiveConfig(depth=0),
        daemon=FREE,
    )
    with write_session(engine) as session:
        enqueue(session, [site.url(f"/p{i}") for i in range(pages)], depth=0, now=datetime.now(UTC))
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(
            config=config,
            engine=engine,
            capture=archive_job(config, engine, fetcher=fetcher),
            workers=workers,
        )
        started = time.perf_counter()
        daemon.run_once(poll_seconds=0.02)
        elapsed = time.perf_counter() - started
    assert daemon.stats.done == pages, daemon.stats
    engine.dispose()
    return pages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    site = Site()
    for i in range(args.pages):
        site.set(f"/p{i}", article(f"Page {i}", "A paragraph of text. " * 40), delay=args.delay)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgres"):
            for claimers in (1, 4):
                url, drop = fresh(kind, args.postgres, Path(tmp))
                rate = queue_overhead(url, args.jobs, claimers)
                drop()  # type: ignore[operator]
                print(f"{kind:8} queue only, {claimers} claimer(s): {rate:7.0f} jobs/s")
            for workers in (4, 8, 16):
                url, drop = fresh(kind, args.postgres, Path(tmp))
                rate = daemon_run(url, site, args.pages, workers)
                drop()  # type: ignore[operator]
                print(
                    f"{kind:8} daemon, {workers:2} workers, pages answering in {args.delay}s: "
                    f"{rate:6.1f} captures/s"
                )
    site.stop()


if __name__ == "__main__":
    main()
