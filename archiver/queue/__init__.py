"""Durable job queue in the database: jobs are claimed with a lease so a dead worker loses nothing.

Claiming takes a write lock for its whole transaction — `FOR UPDATE SKIP LOCKED` on PostgreSQL (so
several daemons on several machines share one database), `BEGIN IMMEDIATE` on SQLite (one writer at
a time). A lease that expires makes its job claimable again; finishing a job checks that the lease
is still ours, so a worker whose lease was taken over cannot finish the job a second time.

`jobs` queues URLs as job rows; `leases` claims, renews and releases them; `outcomes` finishes
them by the policy in `retries` (permanent failures, Retry-After, backoff with jitter); `hosts`
keeps the per-host state claiming honours; `status` reports; `sessions` and `timestamps` are
how the rest talks to the database.
"""

from __future__ import annotations

from archiver.queue.jobs import JobState, completed_capture, enqueue, open_jobs
from archiver.queue.leases import ClaimedJob, claim, release, renew
from archiver.queue.outcomes import Finish, finish
from archiver.queue.retries import JobResult, retry_delay
from archiver.queue.sessions import read_only, write_session
from archiver.queue.status import QueueStatus, queue_status
from archiver.queue.timestamps import as_utc, as_utc_or_none, utcnow

__all__ = [
    "ClaimedJob",
    "Finish",
    "JobResult",
    "JobState",
    "QueueStatus",
    "as_utc",
    "as_utc_or_none",
    "claim",
    "completed_capture",
    "enqueue",
    "finish",
    "open_jobs",
    "queue_status",
    "read_only",
    "release",
    "renew",
    "retry_delay",
    "utcnow",
    "write_session",
]
