"""Job rows: their states, queueing URLs as jobs, and what an earlier try of a job stored."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.model import Status
from archiver.queue.hosts import ensure_hosts
from archiver.store.models import Capture, Job
from archiver.urls import site_host, validate_url


class JobState(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"


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
    ensure_hosts(session, {site_host(url) for url in urls})
    return ids


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
