"""Durable job queue in the database: jobs are claimed with a lease so a dead worker loses nothing.

Claiming takes a write lock for its whole transaction — `FOR UPDATE SKIP LOCKED` on PostgreSQL (so
several daemons on several machines share one database), `BEGIN IMMEDIATE` on SQLite (one writer at
a time). A lease that expires makes its job claimable again; finishing a job checks that the lease
is still ours, so a worker whose lease was taken over cannot finish the job a second time.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.model import Status, utc_iso
from archiver.store.models import Capture, HostState, Job, JobAttempt, Watch
from archiver.urls import validate_url


class JobState(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"


class Finish(StrEnum):
    """What became of a job when its worker reported back."""

    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"
    #: The lease had expired and was taken over; nothing was written.
    LOST = "lost"


#: Failures a retry will not fix: the URL is refused, or the page is not there (a watch still
#: comes back to it at its next due time).
PERMANENT_ERRORS = ("invalid-url", "blocked-address", "HTTP 404", "HTTP 410")
RATE_LIMITED = "rate-limited"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; SQLite hands timestamps back without their zone (they are stored UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def host_of(url: str) -> str:
    """The host politeness and backoff are kept for."""
    return (urlsplit(url).hostname or "").lower()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and, on SQLite, holds the write lock from the start.

    Claiming reads and then writes; in a deferred SQLite transaction that fails at once when
    another writer committed in between. `store.db.make_engine` already begins every SQLite
    transaction with BEGIN IMMEDIATE; an engine made otherwise gets it here.
    """
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "sqlite":
            dbapi = session.connection().connection.dbapi_connection
            if not getattr(dbapi, "in_transaction", True):
                session.execute(sa.text("BEGIN IMMEDIATE"))
        yield session
        session.commit()


def read_only(engine: Engine) -> Engine:
    """The same engine for read-only work, which on SQLite need not wait for the write lock."""
    return engine.execution_options(sqlite_deferred=True)


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds a lease on."""

    id: int
    url: str
    depth: int
    watch_id: int | None
    attempt: int
    max_attempts: int
    lease_owner: str
    attempt_id: int
    #: Set when an earlier try stored this capture of the URL and died before its links were
    #: all captured: the try follows them from there instead of capturing the URL again.
    resume_from: int | None = None


@dataclass(frozen=True)
class JobResult:
    """What running a job gave: the requested URL's capture, or why there is none."""

    status: Status | None
    capture_id: int | None = None
    error: str | None = None
    retry_after: float | None = None
    change: str | None = None


def retry_delay(attempt: int, config: DaemonConfig, rng: random.Random) -> float:
    """Exponential backoff with jitter, so jobs that failed together do not return together."""
    base = config.backoff_base_seconds * 2.0 ** max(attempt - 1, 0)
    delay = min(config.backoff_max_seconds, base)
    return float(delay * (0.5 + rng.random() / 2))


def open_jobs() -> sa.ColumnElement[bool]:
    """Jobs not yet finished: queued or leased."""
    return Job.state.in_((JobState.QUEUED, JobState.LEASED))


def enqueue(
    session: Session,
    urls: Iterable[str],
    *,
    depth: int,
    now: datetime,
    max_attempts: int = DaemonConfig.max_attempts,
    watch_id: int | None = None,
    priority: int = 0,
    not_before: datetime | None = None,
) -> list[int]:
    """Queue a job per URL and return the ids; a URL already queued at that depth keeps its job."""
    urls = [validate_url(url) for url in urls]
    ids: list[int] = []
    for url in urls:
        existing = session.scalar(
            sa.select(Job.id)
            .where(Job.url == url, Job.depth == depth, open_jobs())
            .order_by(Job.id)
            .limit(1)
        )
        if existing is not None:
            ids.append(existing)
            continue
        job = Job(
            url=url,
            depth=depth,
            watch_id=watch_id,
            state=JobState.QUEUED,
            priority=priority,
            enqueued_at=now,
            not_before=not_before or now,
            attempts=0,
            max_attempts=max_attempts,
        )
        session.add(job)
        session.flush()
        ids.append(job.id)
    _ensure_hosts(session, {host_of(url) for url in urls})
    return ids


def _ensure_hosts(session: Session, hosts: Iterable[str]) -> None:
    rows = [{"host": h, "consecutive_failures": 0} for h in sorted(set(hosts))]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(HostState).values(rows).on_conflict_do_nothing(index_elements=["host"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(HostState).values(rows).on_conflict_do_nothing(index_elements=["host"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        known = set(session.scalars(sa.select(HostState.host)))
        for row in rows:
            if row["host"] not in known:
                session.add(HostState(**row))
        session.flush()
        return
    session.execute(stmt)


def claim(
    session: Session,
    *,
    worker: str,
    now: datetime,
    limit: int,
    config: DaemonConfig,
) -> list[ClaimedJob]:
    """Lease up to `limit` due jobs, honouring per-host concurrency, delay and backoff.

    Run it inside `write_session`: the candidate rows are locked (SKIP LOCKED on PostgreSQL, so
    another daemon takes the next ones) and so are their hosts' rows, which makes the per-host
    counts right across daemons. A job whose lease expired is claimable again; if it has used all
    its attempts that way (its worker keeps dying on it) it is failed instead.
    """
    if limit <= 0:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    due = sa.or_(
        sa.and_(Job.state == JobState.QUEUED, Job.not_before <= now),
        sa.and_(Job.state == JobState.LEASED, Job.lease_expires_at <= now),
    )
    # Without a host column the per-host rules are applied in Python over a window of candidates.
    query = (
        sa.select(Job)
        .where(due)
        .order_by(Job.priority.desc(), Job.not_before, Job.id)
        .limit(max(limit * 10, 50))
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    jobs = list(session.scalars(query))
    if not jobs:
        return []
    hosts = sorted({host_of(job.url) for job in jobs})
    _ensure_hosts(session, hosts)
    host_query = sa.select(HostState).where(HostState.host.in_(hosts)).order_by(HostState.host)
    if postgres:
        # Sorted, so two daemons lock shared hosts in the same order and cannot deadlock.
        host_query = host_query.with_for_update()
    states = {state.host: state for state in session.scalars(host_query)}
    busy = Counter(
        host_of(url)
        for url in session.scalars(
            sa.select(Job.url).where(Job.state == JobState.LEASED, Job.lease_expires_at > now)
        )
    )
    delay = timedelta(seconds=config.per_host_delay_seconds)
    lease = timedelta(seconds=config.lease_seconds)
    claimed: list[ClaimedJob] = []
    for job in jobs:
        if len(claimed) >= limit:
            break
        host = host_of(job.url)
        state = states[host]
        backoff_until = as_utc_or_none(state.backoff_until)
        if backoff_until is not None and backoff_until > now:
            if job.state == JobState.QUEUED:
                # Moves the host's jobs out of the candidate window until the backoff ends.
                job.not_before = backoff_until
            continue
        if busy[host] >= config.per_host_concurrency:
            continue
        last = as_utc_or_none(state.last_request_at)
        if last is not None and last + delay > now:
            continue
        if job.state == JobState.LEASED:
            _close_open_attempts(session, job.id, now, "expired", "lease expired")
            if job.attempts >= job.max_attempts:
                job.state = JobState.FAILED
                job.lease_owner = None
                job.lease_expires_at = None
                job.finished_at = now
                job.last_error = f"lease expired on each of {job.attempts} attempts"
                continue
        job.state = JobState.LEASED
        job.attempts += 1
        job.lease_owner = f"{worker}/{job.id}.{job.attempts}.{random.getrandbits(32):08x}"
        job.lease_expires_at = now + lease
        state.last_request_at = now
        busy[host] += 1
        attempt = JobAttempt(job_id=job.id, attempt=job.attempts, worker=worker, started_at=now)
        session.add(attempt)
        session.flush()
        claimed.append(
            ClaimedJob(
                id=job.id,
                url=job.url,
                depth=job.depth,
                watch_id=job.watch_id,
                attempt=job.attempts,
                max_attempts=job.max_attempts,
                lease_owner=job.lease_owner,
                attempt_id=attempt.id,
            )
        )
    return claimed


def _close_open_attempts(
    session: Session, job_id: int, now: datetime, outcome: str, error: str | None
) -> None:
    session.execute(
        sa.update(JobAttempt)
        .where(JobAttempt.job_id == job_id, JobAttempt.finished_at.is_(None))
        .values(finished_at=now, outcome=outcome, error=error)
    )


def _guarded_update(session: Session, job: ClaimedJob, **values: Any) -> bool:
    """Update the job only while `job`'s lease is the current one."""
    result = cast(
        CursorResult[Any],
        session.connection().execute(
            sa.update(Job)
            .where(
                Job.id == job.id,
                Job.lease_owner == job.lease_owner,
                Job.state == JobState.LEASED,
            )
            .values(**values)
        ),
    )
    return result.rowcount == 1


def finish(
    session: Session,
    job: ClaimedJob,
    result: JobResult,
    *,
    now: datetime,
    config: DaemonConfig,
    rng: random.Random,
) -> Finish:
    """Record how `job` went: done, queued again after a backoff, or failed for good.

    Writes nothing and returns `Finish.LOST` when the lease is no longer ours.
    """
    error = result.error
    permanent = bool(error and error.startswith(PERMANENT_ERRORS))
    rate_limited = bool(error and error.startswith(RATE_LIMITED))
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": error,
        "capture_id": result.capture_id,
    }
    if result.status in (Status.OK, Status.GONE):
        outcome = Finish.DONE
        values.update(state=JobState.DONE, finished_at=now, last_error=None)
    elif permanent or job.attempt >= job.max_attempts:
        outcome = Finish.FAILED
        values.update(state=JobState.FAILED, finished_at=now)
    else:
        outcome = Finish.RETRY
        if rate_limited and result.retry_after is not None:
            wait = result.retry_after
        else:
            wait = retry_delay(job.attempt, config, rng)
        values.update(state=JobState.QUEUED, not_before=now + timedelta(seconds=wait))
    if not _guarded_update(session, job, **values):
        return Finish.LOST
    session.execute(
        sa.update(JobAttempt)
        .where(JobAttempt.id == job.attempt_id)
        .values(
            finished_at=now,
            outcome=outcome.value,
            error=error,
            capture_id=result.capture_id,
        )
    )
    if result.status is not None and not permanent:
        _note_host(session, host_of(job.url), result, now=now, config=config, rng=rng)
    return outcome


def _note_host(
    session: Session,
    host: str,
    result: JobResult,
    *,
    now: datetime,
    config: DaemonConfig,
    rng: random.Random,
) -> None:
    state = session.get(HostState, host, with_for_update=True)
    if state is None:  # a job queued by other means than enqueue()
        _ensure_hosts(session, [host])
        state = session.get(HostState, host, with_for_update=True)
        assert state is not None
    if result.status in (Status.OK, Status.GONE):
        state.consecutive_failures = 0
        state.backoff_until = None
        state.last_error = None
        return
    state.consecutive_failures += 1
    state.last_error = result.error
    if result.error and result.error.startswith(RATE_LIMITED):
        wait = result.retry_after
        if wait is None:
            wait = retry_delay(state.consecutive_failures, config, rng)
        state.backoff_until = now + timedelta(seconds=wait)
    elif state.consecutive_failures >= config.host_failure_threshold:
        excess = state.consecutive_failures - config.host_failure_threshold + 1
        state.backoff_until = now + timedelta(seconds=retry_delay(excess, config, rng))


def renew(
    session: Session, jobs: Sequence[ClaimedJob], *, now: datetime, lease_seconds: float
) -> list[int]:
    """Extend the leases of jobs still running; return the ids whose lease was lost."""
    lost: list[int] = []
    until = now + timedelta(seconds=lease_seconds)
    for job in jobs:
        if not _guarded_update(session, job, lease_expires_at=until):
            lost.append(job.id)
    return lost


def release(session: Session, jobs: Sequence[ClaimedJob], *, now: datetime) -> list[int]:
    """Give unfinished jobs back to the queue at shutdown; the interrupted try does not count."""
    released: list[int] = []
    for job in jobs:
        if _guarded_update(
            session,
            job,
            state=JobState.QUEUED,
            lease_owner=None,
            lease_expires_at=None,
            not_before=now,
            attempts=Job.attempts - 1,
        ):
            session.execute(
                sa.update(JobAttempt)
                .where(JobAttempt.id == job.attempt_id)
                .values(finished_at=now, outcome="released", error="daemon stopped")
            )
            released.append(job.id)
    return released


def completed_capture(session: Session, job_id: int) -> Capture | None:
    """The ok/gone capture an earlier try of this job already stored, if its worker died after."""
    return session.scalar(
        sa.select(Capture)
        .where(
            Capture.job_id == job_id,
            Capture.parent_id.is_(None),
            Capture.status.in_((Status.OK, Status.GONE)),
        )
        .order_by(Capture.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class HostBackoff:
    host: str
    backoff_until: datetime
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True)
class QueueStatus:
    """How the queue stands at one moment, for `archiver status`."""

    queued: int
    due: int
    leased: int
    expired: int
    done: int
    failed: int
    next_job_at: datetime | None
    watches: int
    paused_watches: int
    next_watch_at: datetime | None
    backed_off: tuple[HostBackoff, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "queued": self.queued,
            "due": self.due,
            "leased": self.leased,
            "expired_leases": self.expired,
            "done": self.done,
            "failed": self.failed,
            "next_job_at": utc_iso(self.next_job_at),
            "watches": self.watches,
            "paused_watches": self.paused_watches,
            "next_watch_at": utc_iso(self.next_watch_at),
            "backed_off_hosts": [
                {
                    "host": h.host,
                    "backoff_until": utc_iso(h.backoff_until),
                    "consecutive_failures": h.consecutive_failures,
                    "last_error": h.last_error,
                }
                for h in self.backed_off
            ],
        }


def queue_status(session: Session, *, now: datetime) -> QueueStatus:
    """Counts by state, what is due, what is next, and which hosts are backed off."""
    counts = dict(session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all())

    def count(*where: Any) -> int:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Job).where(*where)) or 0)

    due = count(Job.state == JobState.QUEUED, Job.not_before <= now)
    expired = count(Job.state == JobState.LEASED, Job.lease_expires_at <= now)
    next_job = session.scalar(
        sa.select(sa.func.min(Job.not_before)).where(Job.state == JobState.QUEUED)
    )
    watches = int(session.scalar(sa.select(sa.func.count()).select_from(Watch)) or 0)
    paused = int(
        session.scalar(sa.select(sa.func.count()).select_from(Watch).where(Watch.paused)) or 0
    )
    next_watch = session.scalar(
        sa.select(sa.func.min(Watch.next_due_at)).where(sa.not_(Watch.paused))
    )
    backed_off = tuple(
        HostBackoff(
            host=row.host,
            backoff_until=as_utc(row.backoff_until),
            consecutive_failures=row.consecutive_failures,
            last_error=row.last_error,
        )
        for row in session.scalars(
            sa.select(HostState)
            .where(HostState.backoff_until > now)
            .order_by(HostState.backoff_until)
        )
        if row.backoff_until is not None
    )
    return QueueStatus(
        queued=int(counts.get(JobState.QUEUED, 0)),
        due=due,
        leased=int(counts.get(JobState.LEASED, 0)),
        expired=expired,
        done=int(counts.get(JobState.DONE, 0)),
        failed=int(counts.get(JobState.FAILED, 0)),
        next_job_at=as_utc_or_none(next_job),
        watches=watches,
        paused_watches=paused,
        next_watch_at=as_utc_or_none(next_watch),
        backed_off=backed_off,
    )
