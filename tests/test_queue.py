from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.model import Status
from archiver.queue import (
    ClaimedJob,
    Finish,
    JobResult,
    JobState,
    claim,
    enqueue,
    finish,
    queue_status,
    release,
    renew,
    retry_delay,
    write_session,
)
from archiver.store.db import open_database
from archiver.store.models import HostState, Job, JobAttempt

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FREE = DaemonConfig(per_host_delay_seconds=0, per_host_concurrency=100, lease_seconds=60)


def add(engine: Engine, *urls: str, now: datetime = T0, max_attempts: int = 5) -> list[int]:
    with write_session(engine) as session:
        return enqueue(session, urls, depth=0, now=now, max_attempts=max_attempts)


def take(
    engine: Engine, now: datetime, config: DaemonConfig = FREE, limit: int = 10, worker: str = "w1"
) -> list[ClaimedJob]:
    with write_session(engine) as session:
        return claim(session, worker=worker, now=now, limit=limit, config=config)


def report(
    engine: Engine,
    job: ClaimedJob,
    result: JobResult,
    now: datetime,
    config: DaemonConfig = FREE,
    seed: int = 7,
) -> Finish:
    with write_session(engine) as session:
        return finish(session, job, result, now=now, config=config, rng=random.Random(seed))


def job_row(engine: Engine, job_id: int) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def attempts(engine: Engine, job_id: int) -> list[tuple[int, str | None, str | None]]:
    with Session(engine) as session:
        rows = session.scalars(
            sa.select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id)
        )
        return [(a.attempt, a.outcome, a.error) for a in rows]


def as_utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def test_enqueue_keeps_one_open_job_per_url(engine: Engine) -> None:
    first = add(engine, "https://a.example/1", "https://b.example/2")
    again = add(engine, "https://a.example/1")
    assert again == first[:1]
    with Session(engine) as session:
        assert set(session.scalars(sa.select(HostState.host))) == {"a.example", "b.example"}


def test_claim_leases_and_records_the_attempt(engine: Engine) -> None:
    [job_id] = add(engine, "https://a.example/1")
    assert take(engine, T0 - timedelta(seconds=1)) == []  # not due yet
    [job] = take(engine, T0)
    assert (job.id, job.attempt, job.url) == (job_id, 1, "https://a.example/1")
    assert take(engine, T0 + timedelta(seconds=59)) == []  # leased
    row = job_row(engine, job_id)
    assert row.state == JobState.LEASED and row.lease_owner == job.lease_owner
    assert as_utc(row.lease_expires_at) == T0 + timedelta(seconds=60)
    assert attempts(engine, job_id) == [(1, None, None)]


def test_expired_lease_is_claimed_again_and_the_old_worker_cannot_finish(engine: Engine) -> None:
    [job_id] = add(engine, "https://a.example/1")
    [stale] = take(engine, T0, worker="dead")
    [fresh] = take(engine, T0 + timedelta(seconds=61), worker="alive")
    assert fresh.id == job_id and fresh.attempt == 2 and fresh.lease_owner != stale.lease_owner
    done = JobResult(status=Status.OK, capture_id=11)
    assert report(engine, stale, done, T0 + timedelta(seconds=62)) is Finish.LOST
    assert job_row(engine, job_id).state == JobState.LEASED
    assert (
        report(engine, fresh, JobResult(Status.OK, 12), T0 + timedelta(seconds=63)) is Finish.DONE
    )
    assert (
        report(engine, fresh, JobResult(Status.OK, 13), T0 + timedelta(seconds=64)) is Finish.LOST
    )
    row = job_row(engine, job_id)
    assert (row.state, row.capture_id, row.lease_owner) == (JobState.DONE, 12, None)
    assert attempts(engine, job_id) == [(1, "expired", "lease expired"), (2, "done", None)]


def test_failure_is_retried_with_exponential_backoff_and_jitter(engine: Engine) -> None:
    config = DaemonConfig(
        per_host_delay_seconds=0,
        backoff_base_seconds=10,
        backoff_max_seconds=35,
        host_failure_threshold=100,
    )
    [job_id] = add(engine, "https://a.example/1")
    now = T0
    waits = []
    for attempt in (1, 2, 3):
        [job] = take(engine, now, config)
        assert job.attempt == attempt
        failed = JobResult(Status.FAILED, capture_id=attempt, error="network: connection reset")
        assert report(engine, job, failed, now, config, seed=attempt) is Finish.RETRY
        not_before = as_utc(job_row(engine, job_id).not_before)
        assert not_before is not None
        waits.append((not_before - now).total_seconds())
        assert take(engine, not_before - timedelta(microseconds=1), config) == []
        now = not_before
    expected = [retry_delay(a, config, random.Random(a)) for a in (1, 2, 3)]
    assert waits == pytest.approx(expected)
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20 and 17.5 <= waits[2] <= 35
    assert [a[1] for a in attempts(engine, job_id)] == ["retry", "retry", "retry"]


def test_job_fails_after_max_attempts(engine: Engine) -> None:
    [job_id] = add(engine, "https://a.example/1", max_attempts=2)
    config = DaemonConfig(per_host_delay_seconds=0, backoff_base_seconds=1)
    now = T0
    outcomes = []
    for _ in range(2):
        [job] = take(engine, now, config)
        outcomes.append(
            report(engine, job, JobResult(Status.FAILED, error="http: 502"), now, config)
        )
        now += timedelta(hours=1)
    assert outcomes == [Finish.RETRY, Finish.FAILED]
    row = job_row(engine, job_id)
    assert (row.state, row.last_error, row.attempts) == (JobState.FAILED, "http: 502", 2)
    assert take(engine, now + timedelta(days=1), config) == []


def test_permanent_errors_are_not_retried(engine: Engine) -> None:
    [job_id] = add(engine, "http://10.0.0.1/")
    [job] = take(engine, T0)
    blocked = JobResult(Status.FAILED, error="blocked-address: 10.0.0.1 is private")
    assert report(engine, job, blocked, T0) is Finish.FAILED
    assert job_row(engine, job_id).state == JobState.FAILED


def test_retry_after_sets_not_before_and_backs_the_host_off(engine: Engine) -> None:
    limited_id, other_id, sibling_id = add(
        engine, "https://a.example/1", "https://b.example/1", "https://a.example/2"
    )
    config = DaemonConfig(per_host_delay_seconds=0, per_host_concurrency=1)
    first = take(engine, T0, config)
    assert sorted(j.id for j in first) == [limited_id, other_id]
    limited = next(j for j in first if j.id == limited_id)
    result = JobResult(Status.FAILED, error="rate-limited: 429 Too Many Requests", retry_after=120)
    assert report(engine, limited, result, T0, config) is Finish.RETRY
    assert as_utc(job_row(engine, limited_id).not_before) == T0 + timedelta(seconds=120)
    # a.example's other job is due, but the host is backed off until the Retry-After is over.
    assert take(engine, T0 + timedelta(seconds=60), config) == []
    assert as_utc(job_row(engine, sibling_id).not_before) == T0 + timedelta(seconds=120)
    later = take(engine, T0 + timedelta(seconds=120), config)
    assert [j.id for j in later] == [limited_id]  # one at a time for a.example (concurrency 1)


def test_a_host_that_keeps_failing_is_backed_off(engine: Engine) -> None:
    urls = [f"https://flaky.example/{i}" for i in range(4)]
    ids = add(engine, *urls, "https://fine.example/")
    config = DaemonConfig(
        per_host_delay_seconds=0,
        per_host_concurrency=10,
        host_failure_threshold=3,
        backoff_base_seconds=100,
        backoff_max_seconds=1000,
    )
    claimed = take(engine, T0, config)
    assert len(claimed) == 5
    for job in claimed:
        if job.url.startswith("https://flaky"):
            report(engine, job, JobResult(Status.FAILED, error="network: reset"), T0, config)
    with Session(engine) as session:
        state = session.get(HostState, "flaky.example")
        assert state is not None
        assert state.consecutive_failures == 4
        until = as_utc(state.backoff_until)
        status = queue_status(session, now=T0)
    # Two failures past the threshold: 2 x 100 s, jittered into 100..200 s.
    assert until is not None and T0 + timedelta(seconds=100) <= until <= T0 + timedelta(seconds=200)
    assert [h.host for h in status.backed_off] == ["flaky.example"]
    # Job retries fall due sooner than the host backoff ends; the host is still left alone.
    assert take(engine, until - timedelta(seconds=1), config) == []
    assert len(take(engine, until, config)) == 4
    # A success clears the host's record.
    fine = next(j for j in claimed if j.id == ids[-1])
    report(engine, fine, JobResult(Status.OK, 1), T0, config)
    with Session(engine) as session:
        assert session.get(HostState, "fine.example").consecutive_failures == 0  # type: ignore[union-attr]


def test_per_host_concurrency(engine: Engine) -> None:
    add(engine, *[f"https://busy.example/{i}" for i in range(5)], "https://quiet.example/")
    config = DaemonConfig(per_host_delay_seconds=0, per_host_concurrency=2)
    claimed = take(engine, T0, config)
    assert Counter(j.url.split("/")[2] for j in claimed) == {"busy.example": 2, "quiet.example": 1}
    assert take(engine, T0, config) == []
    report(engine, claimed[0], JobResult(Status.OK, 1), T0, config)
    assert len(take(engine, T0, config)) == (1 if "busy" in claimed[0].url else 0)


def test_www_and_the_bare_host_are_one_host(engine: Engine) -> None:
    """Limits and backoff count www.example.com and example.com together, as CLI batches do."""
    add(engine, "https://www.same.example/1", "https://same.example/2", "https://SAME.example./3")
    config = DaemonConfig(
        per_host_delay_seconds=0, per_host_concurrency=1, backoff_base_seconds=100
    )
    [first] = take(engine, T0, config)
    assert take(engine, T0, config) == []
    limited = JobResult(Status.FAILED, error="rate-limited: 429 Too Many Requests", retry_after=50)
    report(engine, first, limited, T0, config)
    with Session(engine) as session:
        assert session.get(HostState, "www.same.example") is None
        state = session.get(HostState, "same.example")
        assert state is not None and as_utc(state.backoff_until) == T0 + timedelta(seconds=50)
    assert take(engine, T0 + timedelta(seconds=49), config) == []
    assert len(take(engine, T0 + timedelta(seconds=50), config)) == 1


def test_per_host_delay(engine: Engine) -> None:
    add(engine, *[f"https://slow.example/{i}" for i in range(3)])
    config = DaemonConfig(per_host_delay_seconds=10, per_host_concurrency=5)
    assert len(take(engine, T0, config)) == 1
    assert take(engine, T0 + timedelta(seconds=9.9), config) == []
    assert len(take(engine, T0 + timedelta(seconds=10), config)) == 1


def test_renew_and_release(engine: Engine) -> None:
    [a_id, b_id] = add(engine, "https://a.example/1", "https://b.example/1")
    a, b = sorted(take(engine, T0), key=lambda j: j.id)
    with write_session(engine) as session:
        assert renew(session, [a, b], now=T0 + timedelta(seconds=50), lease_seconds=60) == []
    # Renewed: not claimable at the original expiry.
    assert take(engine, T0 + timedelta(seconds=61)) == []
    with write_session(engine) as session:
        assert release(session, [a], now=T0 + timedelta(seconds=70)) == [a_id]
    row = job_row(engine, a_id)
    assert (row.state, row.attempts, row.lease_owner) == (JobState.QUEUED, 0, None)
    assert attempts(engine, a_id) == [(1, "released", "daemon stopped")]
    [again] = take(engine, T0 + timedelta(seconds=70))
    assert (again.id, again.attempt) == (a_id, 1)
    # b's lease is taken over after it expires; renewing it then reports it lost.
    stolen = take(engine, T0 + timedelta(seconds=111), worker="other")
    assert [j.id for j in stolen] == [b_id]
    with write_session(engine) as session:
        assert renew(session, [b], now=T0 + timedelta(seconds=112), lease_seconds=60) == [b_id]


def test_lease_expiring_on_the_last_attempt_fails_the_job(engine: Engine) -> None:
    [job_id] = add(engine, "https://crash.example/", max_attempts=2)
    now = T0
    for _ in range(2):
        assert len(take(engine, now)) == 1
        now += timedelta(seconds=61)
    assert take(engine, now) == []
    row = job_row(engine, job_id)
    assert row.state == JobState.FAILED and "lease expired" in (row.last_error or "")


def test_queue_status(engine: Engine) -> None:
    add(engine, "https://a.example/1", "https://a.example/2")
    add(engine, "https://b.example/1", now=T0 + timedelta(hours=1))
    [job] = take(engine, T0, limit=1)
    report(engine, job, JobResult(Status.OK, 1), T0)
    take(engine, T0, limit=1)
    with Session(engine) as session:
        status = queue_status(session, now=T0 + timedelta(minutes=5))
    assert (status.queued, status.due, status.leased, status.done, status.failed) == (1, 0, 1, 1, 0)
    assert status.next_job_at == T0 + timedelta(hours=1)
    assert status.to_dict()["next_job_at"] == "2026-03-01T13:00:00Z"


def test_concurrent_claimers_never_share_a_job(db_url: str) -> None:
    """Four claimers with their own engines drain 200 jobs; each job is leased exactly once."""
    setup = open_database(db_url)
    add(setup, *[f"https://h{i % 7}.example/{i}" for i in range(200)])
    setup.dispose()
    seen: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        engine = open_database(db_url)
        try:
            while True:
                jobs = take(engine, T0, limit=5, worker=name)
                if not jobs:
                    break
                with lock:
                    seen.extend(j.id for j in jobs)
        except BaseException as exc:  # surfaced below, not swallowed
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(seen) == 200 and len(set(seen)) == 200
