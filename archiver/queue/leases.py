"""Leases: claiming due jobs under the per-host rules, renewing, expiring and releasing them.

Every write to a leased job goes through `guarded_update`, which matches the lease owner, so a
worker whose lease was taken over changes nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.queue.hosts import ensure_hosts
from archiver.queue.jobs import JobState
from archiver.queue.timestamps import as_utc_or_none
from archiver.store.models import HostState, Job, JobAttempt
from archiver.urls import site_host


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
    hosts = sorted({site_host(job.url) for job in jobs})
    ensure_hosts(session, hosts)
    host_query = sa.select(HostState).where(HostState.host.in_(hosts)).order_by(HostState.host)
    if postgres:
        # Sorted, so two daemons lock shared hosts in the same order and cannot deadlock.
        host_query = host_query.with_for_update()
    states = {state.host: state for state in session.scalars(host_query)}
    busy = Counter(
        site_host(url)
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
        host = site_host(job.url)
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


def guarded_update(session: Session, job: ClaimedJob, **values: Any) -> bool:
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


def renew(
    session: Session, jobs: Sequence[ClaimedJob], *, now: datetime, lease_seconds: float
) -> list[int]:
    """Extend the leases of jobs still running; return the ids whose lease was lost."""
    lost: list[int] = []
    until = now + timedelta(seconds=lease_seconds)
    for job in jobs:
        if not guarded_update(session, job, lease_expires_at=until):
            lost.append(job.id)
    return lost


def release(session: Session, jobs: Sequence[ClaimedJob], *, now: datetime) -> list[int]:
    """Give unfinished jobs back to the queue at shutdown; the interrupted try does not count."""
    released: list[int] = []
    for job in jobs:
        if guarded_update(
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
