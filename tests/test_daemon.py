"""The daemon against a local website: schedules, change detection, retries, politeness."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.archiving import archive
from archiver.config import ArchiveConfig, Config, DaemonConfig, FetchConfig
from archiver.daemon import Daemon, archive_job
from archiver.fetch import Fetcher
from archiver.history import diff_captures, timeline
from archiver.queue import JobState, claim, enqueue, write_session
from archiver.schedule import serve
from archiver.store.models import Capture, HostState, Job, JobAttempt, Link
from archiver.watches import add_watch, list_watches
from tests.site_server import Site, article

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


def make_config(**daemon: float) -> Config:
    settings: dict[str, float] = {"per_host_delay_seconds": 0, **daemon}
    return Config(
        database_url="unused",
        fetch=FetchConfig(allow_private_networks=True, total_timeout=20),
        archive=ArchiveConfig(depth=0),
        daemon=DaemonConfig(**settings),  # type: ignore[arg-type]
    )


def run_once(engine: Engine, config: Config, clock: Clock, seed: int = 1) -> Daemon:
    daemon = Daemon(
        config=config,
        engine=engine,
        capture=archive_job(config, engine, now=clock),
        clock=clock,
        rng=random.Random(seed),
    )
    daemon.run_once(poll_seconds=0.05)
    return daemon


def queue(engine: Engine, *urls: str, now: datetime) -> list[int]:
    with write_session(engine) as session:
        return enqueue(session, urls, depth=0, now=now)


def test_a_watch_is_recaptured_on_schedule_and_changes_are_told_apart(
    engine: Engine, site: Site
) -> None:
    url = site.url("/story")
    site.set("/story", article("Budget vote", "The council voted 7 to 2 for the budget."))
    config = make_config()
    clock = Clock(T0)
    with write_session(engine) as session:
        add_watch(session, url, every_seconds=3600, depth=0, now=T0)

    run_once(engine, config, clock)  # due at once
    clock.advance(minutes=30)
    assert run_once(engine, config, clock).stats.captures == 0  # not due yet
    clock.advance(minutes=30)
    run_once(engine, config, clock)  # same page: unchanged
    site.set("/story", article("Budget vote", "The council voted 5 to 4 for the budget."))
    clock.advance(hours=1)
    run_once(engine, config, clock)  # edited: changed
    site.set("/story", b"<html><body>Not found</body></html>", status=404)
    clock.advance(hours=1)
    run_once(engine, config, clock)  # deleted: gone
    site.set("/story", article("Budget vote", "The council voted 5 to 4 for the budget."))
    clock.advance(hours=1)
    run_once(engine, config, clock)  # restored: back

    with Session(engine) as session:
        entries = timeline(session, url)
        assert [(e.status, e.change) for e in entries] == [
            ("ok", "first"),
            ("ok", "unchanged"),
            ("ok", "changed"),
            ("gone", "gone"),
            ("ok", "back"),
        ]
        assert [e.captured_at for e in entries] == [T0 + timedelta(hours=h) for h in range(5)]
        assert len(site.requests("/story")) == 5
        diff = diff_captures(session, url, from_id=entries[1].id, to_id=entries[2].id)
        assert "-The council voted 7 to 2 for the budget.\n" in diff.text_diff
        assert "+The council voted 5 to 4 for the budget.\n" in diff.text_diff
        [watch] = list_watches(session, now=clock())
        assert (watch.last_capture_id, watch.last_status) == (entries[-1].id, "ok")
        assert watch.last_change_at == T0 + timedelta(hours=4)
        assert watch.next_due_at == T0 + timedelta(hours=5)
        jobs = session.scalars(sa.select(Job).order_by(Job.id)).all()
        assert [j.state for j in jobs] == [JobState.DONE] * 5
        assert [j.capture_id for j in jobs] == [e.id for e in entries]
        assert {c.job_id for c in session.scalars(sa.select(Capture))} == {j.id for j in jobs}


def test_a_failure_is_retried_after_its_backoff(engine: Engine, site: Site) -> None:
    url = site.url("/flaky")
    site.set("/flaky", b"oops", status=502)
    config = make_config(backoff_base_seconds=60, backoff_max_seconds=600)
    clock = Clock(T0)
    [job_id] = queue(engine, url, now=T0)
    run_once(engine, config, clock, seed=3)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.QUEUED and job.attempts == 1
        retry_at = job.not_before.replace(tzinfo=UTC)
    # 60 s for the first retry, jittered into 30..60 s.
    assert T0 + timedelta(seconds=30) <= retry_at <= T0 + timedelta(seconds=60)
    site.set("/flaky", article("Back up", "The server answers again."))
    clock.now = retry_at - timedelta(seconds=1)
    assert run_once(engine, config, clock).stats.captures == 0
    clock.now = retry_at
    assert run_once(engine, config, clock).stats.done == 1
    with Session(engine) as session:
        attempts = session.scalars(sa.select(JobAttempt).order_by(JobAttempt.id)).all()
        assert [(a.attempt, a.outcome) for a in attempts] == [(1, "retry"), (2, "done")]
        assert attempts[0].error == "HTTP 502 Bad Gateway"
        statuses = session.scalars(sa.select(Capture.status).order_by(Capture.id)).all()
        assert statuses == ["failed", "ok"]
        host = session.get(HostState, "127.0.0.1")
        assert host is not None and host.consecutive_failures == 0


def test_retry_after_is_honoured(engine: Engine, site: Site) -> None:
    url = site.url("/limited")
    site.set("/limited", b"slow down", status=429, headers={"Retry-After": "120"})
    config = make_config()
    clock = Clock(T0)
    [job_id] = queue(engine, url, now=T0)
    run_once(engine, config, clock)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        host = session.get(HostState, "127.0.0.1")
        assert job is not None and host is not None
        assert job.not_before.replace(tzinfo=UTC) == T0 + timedelta(seconds=120)
        assert (job.last_error or "").startswith("rate-limited")
        assert host.backoff_until is not None
        assert host.backoff_until.replace(tzinfo=UTC) == T0 + timedelta(seconds=120)
    site.set("/limited", article("Patience", "Rewarded."))
    clock.advance(seconds=119)
    assert run_once(engine, config, clock).stats.captures == 0
    clock.advance(seconds=1)
    assert run_once(engine, config, clock).stats.done == 1
    assert len(site.requests("/limited")) == 2


def test_per_host_delay_spaces_requests_to_one_host(engine: Engine, site: Site) -> None:
    for i in range(4):
        site.set(f"/a{i}", article(f"A{i}", "Text."))
    site.set("/b", article("B", "Text."))
    config = make_config(per_host_delay_seconds=0.6, per_host_concurrency=4, workers=4)
    # 127.0.0.1 and localhost are two hosts to the daemon, served by one server here.
    queue(
        engine,
        *[site.url(f"/a{i}") for i in range(4)],
        site.url("/b", host="localhost"),
        now=datetime.now(UTC),
    )
    with Fetcher(config.fetch) as fetcher:
        capture = archive_job(config, engine, fetcher=fetcher)
        daemon = Daemon(config=config, engine=engine, capture=capture)
        daemon.run_once(poll_seconds=0.02)
    assert daemon.stats.done == 5
    with Session(engine) as session:
        claims = session.scalars(
            sa.select(JobAttempt.started_at).join(Job).where(Job.url.contains("/a"))
        ).all()
    claimed = sorted(c.replace(tzinfo=UTC) for c in claims)
    assert min(b - a for a, b in itertools.pairwise(claimed)) >= timedelta(seconds=0.6)
    starts = sorted(t for i in range(4) for t in site.requests(f"/a{i}"))
    # Requests follow their claims after some thread latency, so their spacing is looser; but
    # they were not sent in a burst: four requests span three delays, give or take that latency.
    assert starts[-1] - starts[0] >= 3 * 0.6 - 0.4, starts
    # The other host was not held back behind the first one's delay.
    assert site.requests("/b")[0] - starts[0] < 0.5


def test_serve_stops_gracefully_and_releases_what_did_not_finish(
    engine: Engine, site: Site
) -> None:
    site.set("/quick", article("Quick", "Fast answer."), delay=0.3)
    site.set("/slow", article("Slow", "Slow answer."), delay=5)
    config = make_config(workers=2, poll_seconds=0.05)
    quick_id, slow_id = queue(engine, site.url("/quick"), site.url("/slow"), now=datetime.now(UTC))
    daemon = Daemon(config=config, engine=engine, capture=archive_job(config, engine))
    stop = threading.Event()
    released: list[int] = []
    runner = threading.Thread(
        target=lambda: released.extend(
            serve(daemon, stop=stop, poll_seconds=0.05, lease_seconds=60, grace_seconds=2.5)
        )
    )
    runner.start()
    while not (site.requests("/quick") and site.requests("/slow")):
        threading.Event().wait(0.02)
    stop.set()
    runner.join(timeout=15)
    assert not runner.is_alive()
    assert released == [slow_id]
    with Session(engine) as session:
        quick, slow = session.get(Job, quick_id), session.get(Job, slow_id)
        assert quick is not None and slow is not None
        assert quick.state == JobState.DONE  # finished within the grace period
        assert (slow.state, slow.attempts, slow.lease_owner) == (JobState.QUEUED, 0, None)
        outcomes = session.scalars(
            sa.select(JobAttempt.outcome).where(JobAttempt.job_id == slow_id)
        ).all()
        assert outcomes == ["released"]
    # The abandoned capture finishing later cannot mark the released job done.
    threading.Event().wait(3)
    with Session(engine) as session:
        slow = session.get(Job, slow_id)
        assert slow is not None and slow.state == JobState.QUEUED


def test_a_capture_stored_by_a_worker_that_died_is_not_made_again(
    engine: Engine, site: Site
) -> None:
    """The worker stored its capture and died before marking the job done."""
    url = site.url("/once")
    site.set("/once", article("Once", "Captured a single time."))
    config = make_config(lease_seconds=60)
    clock = Clock(T0)
    [job_id] = queue(engine, url, now=T0)
    with write_session(engine) as session:
        [job] = claim(session, worker="doomed", now=T0, limit=1, config=config.daemon)
    [outcome] = list(archive_job(config, engine, now=clock)(job))  # ...and then the process died
    clock.advance(seconds=61)
    daemon = run_once(engine, config, clock)
    assert (daemon.stats.captures, daemon.stats.done) == (0, 1)
    assert len(site.requests("/once")) == 1
    with Session(engine) as session:
        row = session.get(Job, job_id)
        assert row is not None
        assert (row.state, row.capture_id, row.attempts) == (JobState.DONE, outcome.capture_id, 2)
        assert session.scalar(sa.select(sa.func.count()).select_from(Capture)) == 1


def test_links_left_uncaptured_by_a_worker_that_died_are_followed_on_retry(
    engine: Engine, site: Site
) -> None:
    """The worker stored the page and died before capturing what it links to."""
    url = site.url("/index")
    links = " ".join(f'<a href="{site.url(f"/story/{n}")}">story {n}</a>' for n in range(3))
    site.set("/index", article("Index", f"Today's three stories, all worth reading: {links}."))
    for n in range(3):
        site.set(f"/story/{n}", article(f"Story {n}", f"The full text of story number {n}."))
    config = make_config(lease_seconds=60)
    clock = Clock(T0)
    with write_session(engine) as session:
        [job_id] = enqueue(session, [url], depth=1, now=T0)
        [job] = claim(session, worker="doomed", now=T0, limit=1, config=config.daemon)
    # The first try gets as far as one of the three stories, then the process dies.
    first = archive([url], config=config, engine=engine, depth=0, now=clock, job_id=job.id)
    [root] = list(first)
    one = list(archive([site.url("/story/0")], config=config, engine=engine, depth=0, now=clock))
    with write_session(engine) as session:
        session.execute(
            sa.update(Capture)
            .where(Capture.id == one[0].capture_id)
            .values(parent_id=root.capture_id, job_id=job.id)
        )
        session.execute(
            sa.update(Link)
            .where(Link.capture_id == root.capture_id, Link.url == site.url("/story/0"))
            .values(target_id=one[0].capture_id)
        )
    clock.advance(seconds=61)
    daemon = run_once(engine, config, clock)

    assert (daemon.stats.captures, daemon.stats.done) == (2, 1)
    assert [len(site.requests(f"/story/{n}")) for n in range(3)] == [1, 1, 1]
    assert len(site.requests("/index")) == 1
    with Session(engine) as session:
        row = session.get(Job, job_id)
        assert row is not None and (row.state, row.capture_id) == (JobState.DONE, root.capture_id)
        targets = dict(
            session.execute(
                sa.select(Link.url, Link.target_id).where(Link.capture_id == root.capture_id)
            ).all()
        )
        children = {
            c.url: c.id
            for c in session.scalars(sa.select(Capture).where(Capture.parent_id == root.capture_id))
        }
    assert set(children) == {site.url(f"/story/{n}") for n in range(3)}
    assert {u: targets[u] for u in children} == children


def test_a_long_capture_keeps_its_lease(engine: Engine, site: Site) -> None:
    """Leases are renewed while a capture runs, so no other daemon takes the job over."""
    site.set("/long", article("Long", "Takes a while."), delay=3)
    config = make_config(lease_seconds=1.5)
    [job_id] = queue(engine, site.url("/long"), now=datetime.now(UTC))
    daemon = Daemon(config=config, engine=engine, capture=archive_job(config, engine))
    runner = threading.Thread(target=daemon.run_once, kwargs={"poll_seconds": 0.05})
    runner.start()
    while not site.requests("/long"):
        threading.Event().wait(0.02)
    stolen = []
    while runner.is_alive():
        with write_session(engine) as session:
            stolen += claim(
                session, worker="thief", now=datetime.now(UTC), limit=1, config=config.daemon
            )
        threading.Event().wait(0.1)
    runner.join()
    assert stolen == []
    assert daemon.stats.done == 1 and len(site.requests("/long")) == 1
    with Session(engine) as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(JobAttempt)) == 1
        job = session.get(Job, job_id)
        assert job is not None and job.state == JobState.DONE
