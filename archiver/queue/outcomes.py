"""Finishing a job: done, queued again after a backoff or a Retry-After, or failed for good."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.model import Status
from archiver.queue.hosts import note_host
from archiver.queue.jobs import JobState
from archiver.queue.leases import ClaimedJob, guarded_update
from archiver.queue.retries import PERMANENT_ERRORS, RATE_LIMITED, JobResult, retry_delay
from archiver.store.models import JobAttempt
from archiver.urls import site_host


class Finish(StrEnum):
    """What became of a job when its worker reported back."""

    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"
    #: The lease had expired and was taken over; nothing was written.
    LOST = "lost"


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
    if not guarded_update(session, job, **values):
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
        note_host(session, site_host(job.url), result, now=now, config=config, rng=rng)
    return outcome
