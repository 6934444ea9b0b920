"""APScheduler adapter: wires the daemon's wake, drain and renew to intervals. No business logic."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from archiver.daemon import Daemon

log = logging.getLogger(__name__)


def build_scheduler(daemon: Daemon, *, poll_seconds: float, lease_seconds: float) -> Any:
    """A BackgroundScheduler (not started) running the daemon's periodic work."""
    scheduler = BackgroundScheduler(timezone=UTC)
    start = datetime.now(UTC)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}
    scheduler.add_job(
        daemon.wake, "interval", seconds=poll_seconds, id="wake", next_run_time=start, **common
    )
    scheduler.add_job(
        daemon.drain, "interval", seconds=poll_seconds, id="drain", next_run_time=start, **common
    )
    scheduler.add_job(
        daemon.renew, "interval", seconds=max(lease_seconds / 3, 0.2), id="renew", **common
    )
    return scheduler


def serve(
    daemon: Daemon,
    *,
    stop: threading.Event,
    poll_seconds: float,
    lease_seconds: float,
    grace_seconds: float = 30.0,
) -> list[int]:
    """Run until `stop` is set, then shut down gracefully; return the ids of released jobs."""
    scheduler = build_scheduler(daemon, poll_seconds=poll_seconds, lease_seconds=lease_seconds)
    scheduler.start()
    log.info("daemon %s started with %d worker(s)", daemon.name, daemon.workers)
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        released = daemon.stop(grace_seconds)
        log.info("daemon %s stopped", daemon.name)
    return released
