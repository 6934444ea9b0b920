"""Reporting for `archiver status`: counts by state, what is due and next, backed-off hosts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.model import utc_iso
from archiver.queue.jobs import JobState
from archiver.queue.timestamps import as_utc, as_utc_or_none
from archiver.store.models import HostState, Job, Watch


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
