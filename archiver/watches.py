"""Watch lists: URLs re-captured every interval or on a cron schedule, stored in the database."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.errors import ConfigError, NotFound
from archiver.model import utc_iso
from archiver.queue import JobState, as_utc, as_utc_or_none, enqueue, open_jobs
from archiver.store.models import Job, Watch
from archiver.urls import validate_url

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

#: Changes that make a watch's "last change" move; `unchanged` and `failed` do not.
CHANGES = frozenset({"first", "changed", "gone", "back"})


def parse_interval(text: str) -> float:
    """Seconds in "90s", "30m", "6h", "1d", "2w" or a sum such as "1h30m"."""
    compact = text.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for match in _INTERVAL.finditer(compact):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not compact or pos != len(compact):
        raise ConfigError(
            f"Cannot read the interval {text!r}: use a number and a unit s, m, h, d or w, "
            "such as 90s, 30m, 6h, 1d or 1h30m."
        )
    if total <= 0:
        raise ConfigError(f"The interval {text!r} must be longer than zero.")
    return total


def format_interval(seconds: float) -> str:
    """The shortest "1d6h"-style spelling of a whole number of seconds."""
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size:
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
    return "".join(parts) or "0s"


def cron_trigger(expression: str) -> CronTrigger:
    """APScheduler's CronTrigger for a five-field crontab line, evaluated in UTC."""
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise ConfigError(
            f"Cannot read the cron expression {expression!r}: {exc}. "
            "Give five fields: minute hour day-of-month month day-of-week, e.g. '0 */6 * * *'."
        ) from exc


def next_due(
    *, interval_seconds: float | None, cron: str | None, due: datetime | None, now: datetime
) -> datetime:
    """The first due time after `now`: on the interval grid from `due`, or the cron's next fire.

    Missed runs (the daemon was down) are not caught up one by one; the watch is simply due again.
    """
    if cron:
        fire = cron_trigger(cron).get_next_fire_time(None, now)
        if fire is None:
            raise ConfigError(f"The cron expression {cron!r} never fires again.")
        return as_utc(fire)
    if not interval_seconds:
        raise ConfigError("A watch needs an interval or a cron expression.")
    start = as_utc(due) if due is not None else now
    if start > now:
        return start
    steps = math.floor((now - start).total_seconds() / interval_seconds) + 1
    return start + timedelta(seconds=steps * interval_seconds)


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WatchInfo:
    """A watch as `archiver watch list` shows it."""

    id: int
    url: str
    interval_seconds: float | None
    cron: str | None
    depth: int
    paused: bool
    created_at: datetime
    next_due_at: datetime | None
    last_capture_id: int | None
    last_captured_at: datetime | None
    last_change_at: datetime | None
    last_status: str | None
    #: paused | capturing | queued | due | scheduled
    state: str

    @property
    def schedule(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        return f"every {format_interval(self.interval_seconds or 0)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "interval_seconds": self.interval_seconds,
            "cron": self.cron,
            "depth": self.depth,
            "paused": self.paused,
            "created_at": utc_iso(self.created_at),
            "next_due_at": utc_iso(self.next_due_at),
            "last_capture_id": self.last_capture_id,
            "last_captured_at": utc_iso(self.last_captured_at),
            "last_change_at": utc_iso(self.last_change_at),
            "last_status": self.last_status,
            "state": self.state,
        }


def _info(watch: Watch, job_state: str | None, now: datetime) -> WatchInfo:
    next_due_at = as_utc_or_none(watch.next_due_at)
    if watch.paused:
        state = "paused"
    elif job_state == JobState.LEASED:
        state = "capturing"
    elif job_state == JobState.QUEUED:
        state = "queued"
    elif next_due_at is not None and next_due_at <= now:
        state = "due"
    else:
        state = "scheduled"
    return WatchInfo(
        id=watch.id,
        url=watch.url,
        interval_seconds=watch.interval_seconds,
        cron=watch.cron,
        depth=watch.depth,
        paused=watch.paused,
        created_at=as_utc(watch.created_at),
        next_due_at=next_due_at,
        last_capture_id=watch.last_capture_id,
        last_captured_at=as_utc_or_none(watch.last_captured_at),
        last_change_at=as_utc_or_none(watch.last_change_at),
        last_status=watch.last_status,
        state=state,
    )


def _job_states(session: Session, watch_ids: list[int]) -> dict[int, str]:
    states: dict[int, str] = {}
    if not watch_ids:
        return states
    rows = session.execute(
        sa.select(Job.watch_id, Job.state).where(Job.watch_id.in_(watch_ids), open_jobs())
    )
    for watch_id, state in rows:
        if watch_id is not None and states.get(watch_id) != JobState.LEASED:
            states[watch_id] = state
    return states


def find_watch(session: Session, url: str) -> Watch:
    url = validate_url(url)
    watch = session.scalar(sa.select(Watch).where(Watch.url_hash == url_hash(url)))
    if watch is None:
        raise NotFound(f"No watch for {url}. `archiver watch list` shows the watched URLs.")
    return watch


def add_watch(
    session: Session,
    url: str,
    *,
    every_seconds: float | None = None,
    cron: str | None = None,
    depth: int = 1,
    now: datetime,
    first_due: datetime | None = None,
) -> WatchInfo:
    """Watch `url` (or change the schedule of its watch); due at `first_due`, by default now."""
    if (every_seconds is None) == (cron is None):
        raise ConfigError(
            "Give a watch either an interval (--every) or a cron expression (--cron)."
        )
    if every_seconds is not None and every_seconds <= 0:
        raise ConfigError("A watch interval must be longer than zero.")
    if cron is not None:
        cron_trigger(cron)
    if depth < 0:
        raise ConfigError("A watch depth must not be negative.")
    url = validate_url(url)
    watch = session.scalar(sa.select(Watch).where(Watch.url_hash == url_hash(url)))
    if watch is None:
        watch = Watch(url=url, url_hash=url_hash(url), created_at=now, paused=False)
        session.add(watch)
    watch.interval_seconds = every_seconds
    watch.cron = cron
    watch.depth = depth
    watch.next_due_at = first_due or now
    session.flush()
    return _info(watch, _job_states(session, [watch.id]).get(watch.id), now)


def remove_watch(session: Session, url: str) -> None:
    """Stop watching `url`; its captures stay, its queued jobs are dropped."""
    watch = find_watch(session, url)
    session.execute(sa.delete(Job).where(Job.watch_id == watch.id, Job.state == JobState.QUEUED))
    session.delete(watch)
    session.flush()


def set_paused(session: Session, url: str, paused: bool, *, now: datetime) -> WatchInfo:
    """Pause or resume; a resumed watch that fell due while paused is due at once."""
    watch = find_watch(session, url)
    watch.paused = paused
    session.flush()
    return _info(watch, _job_states(session, [watch.id]).get(watch.id), now)


def list_watches(session: Session, *, now: datetime) -> list[WatchInfo]:
    watches = list(session.scalars(sa.select(Watch).order_by(Watch.url)))
    states = _job_states(session, [w.id for w in watches])
    return [_info(w, states.get(w.id), now) for w in watches]


def wake_due_watches(
    session: Session,
    *,
    now: datetime,
    max_attempts: int = DaemonConfig.max_attempts,
    limit: int = 1000,
) -> list[int]:
    """Queue a job for each due watch that has none open, move its next due time; return job ids.

    Run inside `write_session`: on PostgreSQL due watches are locked with SKIP LOCKED, so two
    daemons waking at once do not both queue the same watch.
    """
    query = (
        sa.select(Watch)
        .where(sa.not_(Watch.paused), Watch.next_due_at <= now)
        .order_by(Watch.next_due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    watches = list(session.scalars(query))
    busy = _job_states(session, [w.id for w in watches])
    job_ids: list[int] = []
    for watch in watches:
        if watch.id not in busy:
            job_ids += enqueue(
                session,
                [watch.url],
                depth=watch.depth,
                now=now,
                max_attempts=max_attempts,
                watch_id=watch.id,
            )
        watch.next_due_at = next_due(
            interval_seconds=watch.interval_seconds,
            cron=watch.cron,
            due=watch.next_due_at,
            now=now,
        )
    session.flush()
    return job_ids


def record_capture(
    session: Session,
    watch_id: int,
    *,
    capture_id: int | None,
    status: str,
    change: str | None,
    captured_at: datetime,
) -> None:
    """Note a capture of a watched URL on its watch."""
    watch = session.get(Watch, watch_id)
    if watch is None:  # removed while its job ran
        return
    watch.last_status = status
    if capture_id is not None:
        watch.last_capture_id = capture_id
        watch.last_captured_at = captured_at
    if change in CHANGES:
        watch.last_change_at = captured_at
    session.flush()
