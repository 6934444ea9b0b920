"""Per-host state: one row per host, its failures and its backoff, so a failing host is spared.

`claim` reads these rows for per-host concurrency, delay and backoff; `note_host` updates them
when a job on the host finishes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.config import DaemonConfig
from archiver.model import Status
from archiver.queue.retries import RATE_LIMITED, JobResult, retry_delay
from archiver.store.models import HostState


def ensure_hosts(session: Session, hosts: Iterable[str]) -> None:
    """Add a row for each host that has none yet, leaving existing rows as they are."""
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


def note_host(
    session: Session,
    host: str,
    result: JobResult,
    *,
    now: datetime,
    config: DaemonConfig,
    rng: random.Random,
) -> None:
    """Clear the host's failures on success; otherwise count one and back off when due."""
    state = session.get(HostState, host, with_for_update=True)
    if state is None:  # a job queued by other means than enqueue()
        ensure_hosts(session, [host])
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
