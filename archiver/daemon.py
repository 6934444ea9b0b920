"""The archiving daemon: wakes due watches, leases jobs and runs them on a bounded pool of threads.

Captures are I/O bound, so threads suffice. The daemon holds no state the database does not: a
daemon killed at any instant leaves leased jobs whose leases expire and are claimed again, and
each capture is its own transaction, so nothing is half written. `schedule.py` decides when
`wake`, `drain` and `renew` run; this module decides what they do.
"""

from __future__ import annotations

import logging
import os
import queue as queue_module
import random
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import FrameType
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.config import Config
from archiver.fetch import Fetcher
from archiver.model import Status
from archiver.queue import (
    ClaimedJob,
    Finish,
    JobResult,
    JobState,
    claim,
    completed_capture,
    finish,
    read_only,
    release,
    renew,
    utcnow,
    write_session,
)
from archiver.store.models import Job
from archiver.watches import record_capture, wake_due_watches

log = logging.getLogger(__name__)


class Outcome(Protocol):
    """The fields of a capture outcome the daemon reads (archive.CaptureOutcome has them)."""

    @property
    def capture_id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def error(self) -> str | None: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def change(self) -> str | None: ...
    @property
    def duration(self) -> float: ...
    @property
    def bytes(self) -> int: ...


#: Runs one job: captures its URL (and what it links to) and yields one outcome per capture.
CaptureJob = Callable[[ClaimedJob], Iterable[Outcome]]


@dataclass
class DaemonStats:
    """What a daemon did since it started."""

    captures: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    released: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


class _Pool:
    """A fixed set of daemon threads running jobs from an in-memory queue.

    Daemon threads, unlike ThreadPoolExecutor's, do not hold the process open at exit: a job still
    running after the shutdown grace period is abandoned and its lease released, not waited for.
    """

    def __init__(self, size: int, run: Callable[[ClaimedJob], None], name: str) -> None:
        self._tasks: queue_module.Queue[ClaimedJob | None] = queue_module.Queue()
        self._threads = [
            threading.Thread(target=self._loop, args=(run,), name=f"{name}-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _loop(self, run: Callable[[ClaimedJob], None]) -> None:
        while (job := self._tasks.get()) is not None:
            run(job)

    def submit(self, job: ClaimedJob) -> None:
        self._tasks.put(job)

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)


class Daemon:
    """Leases due jobs and runs them, at most `workers` at a time."""

    def __init__(
        self,
        *,
        config: Config,
        engine: Engine,
        capture: CaptureJob,
        workers: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self._reader = read_only(engine)
        self.capture = capture
        self.workers = max(1, workers if workers is not None else config.daemon.workers)
        self.clock = clock
        self.rng = rng or random.Random()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stats = DaemonStats()
        self._running: dict[int, ClaimedJob] = {}
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._drain_lock = threading.Lock()
        self._drain_again = False
        self._pool = _Pool(self.workers, self._run, f"archiver-worker-{self.name}")

    # -- what the scheduler calls ---------------------------------------------------------------

    def wake(self) -> int:
        """Queue a job for every due watch; return how many were queued."""
        if self._stopping.is_set():
            return 0
        with write_session(self.engine) as session:
            jobs = wake_due_watches(
                session, now=self.clock(), max_attempts=self.config.daemon.max_attempts
            )
        if jobs:
            log.info("watches due: queued %d job(s)", len(jobs))
        return len(jobs)

    def drain(self) -> int:
        """Lease as many due jobs as there are free workers and start them; return how many.

        Called by the scheduler every poll and by each worker as it frees its slot; calls that
        overlap are folded into one more round of the drain already running.
        """
        if not self._drain_lock.acquire(blocking=False):
            self._drain_again = True
            return 0
        try:
            total = 0
            while True:
                self._drain_again = False
                total += self._drain_round()
                if not self._drain_again:
                    return total
        finally:
            self._drain_lock.release()

    def _drain_round(self) -> int:
        if self._stopping.is_set():
            return 0
        with self._changed:
            free = self.workers - len(self._running)
        if free <= 0:
            return 0
        with write_session(self.engine) as session:
            jobs = claim(
                session,
                worker=self.name,
                now=self.clock(),
                limit=free,
                config=self.config.daemon,
            )
        with self._changed:
            for job in jobs:
                self._running[job.id] = job
        for job in jobs:
            self._pool.submit(job)
        return len(jobs)

    def renew(self) -> None:
        """Extend running jobs' leases so another daemon does not take over a long capture."""
        with self._changed:
            running = list(self._running.values())
        if not running:
            return
        with write_session(self.engine) as session:
            lost = renew(
                session, running, now=self.clock(), lease_seconds=self.config.daemon.lease_seconds
            )
        for job_id in lost:
            log.warning("job=%d lease lost while running; another worker may capture it", job_id)

    # -- running one job --------------------------------------------------------------------------

    def _run(self, job: ClaimedJob) -> None:
        try:
            try:
                result = self._execute(job)
            except Exception as exc:  # a bug or a database failure must not kill the worker
                log.exception("job=%d url=%s failed unexpectedly", job.id, job.url)
                result = JobResult(status=None, error=f"{type(exc).__name__}: {exc}")
            self._finish(job, result)
        except Exception:
            log.exception(
                "job=%d url=%s could not be recorded; its lease will expire", job.id, job.url
            )
        finally:
            with self._changed:
                self._running.pop(job.id, None)
                self._changed.notify_all()
        if not self._stopping.is_set():
            try:
                self.drain()
            except Exception:  # the scheduler's next poll tries again
                log.exception("draining the queue after job=%d failed", job.id)

    def _execute(self, job: ClaimedJob) -> JobResult:
        if job.attempt > 1:
            # An earlier try may have stored its capture and died before marking the job done.
            with Session(self._reader) as session:
                done = completed_capture(session, job.id)
            if done is not None:
                log.info("job=%d url=%s already captured as capture=%d", job.id, job.url, done.id)
                if job.depth > 0:
                    # Its links may not all have been captured before that try died.
                    for _ in self.capture(replace(job, resume_from=done.id)):
                        self.stats.count("captures")
                return JobResult(Status(done.status), capture_id=done.id, change=done.change)
        root: Outcome | None = None
        # archive() logs each capture (url, status, duration, bytes, change); this logs the job.
        for outcome in self.capture(job):
            self.stats.count("captures")
            if root is None and outcome.parent_id is None:
                root = outcome
        if root is None:
            return JobResult(status=Status.FAILED, error=f"no capture was made of {job.url}")
        return JobResult(
            status=root.status,
            capture_id=root.capture_id,
            error=root.error,
            retry_after=getattr(root, "retry_after", None),
            change=root.change,
        )

    def _finish(self, job: ClaimedJob, result: JobResult) -> None:
        now = self.clock()
        with write_session(self.engine) as session:
            outcome = finish(session, job, result, now=now, config=self.config.daemon, rng=self.rng)
            if (
                outcome is not Finish.LOST
                and job.watch_id is not None
                and result.status is not None
            ):
                record_capture(
                    session,
                    job.watch_id,
                    capture_id=result.capture_id,
                    status=result.status.value,
                    change=result.change,
                    captured_at=now,
                )
        self.stats.count(
            {Finish.DONE: "done", Finish.RETRY: "retried", Finish.FAILED: "failed"}.get(
                outcome, "lost"
            )
        )
        level = logging.WARNING if outcome in (Finish.FAILED, Finish.LOST) else logging.INFO
        log.log(
            level,
            "job=%d url=%s attempt=%d/%d result=%s capture=%s%s",
            job.id,
            job.url,
            job.attempt,
            job.max_attempts,
            outcome.value,
            result.capture_id,
            f" error={result.error}" if result.error else "",
        )

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def running(self) -> list[ClaimedJob]:
        with self._changed:
            return list(self._running.values())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is running; False if `timeout` seconds passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def stop(self, grace_seconds: float) -> list[int]:
        """Stop claiming, let running jobs finish for `grace_seconds`, then release the rest."""
        self._stopping.set()
        with self._drain_lock:
            # A drain under way hands its jobs to the pool before the pool is told to stop.
            self._pool.close()
        if not self.wait_idle(grace_seconds):
            log.warning("shutdown grace of %.0fs over; releasing unfinished jobs", grace_seconds)
        leftover = self.running
        if not leftover:
            return []
        with write_session(self.engine) as session:
            released = release(session, leftover, now=self.clock())
        self.stats.count("released", len(released))
        for job_id in released:
            log.info("job=%d released back to the queue", job_id)
        return released

    def has_due_work(self) -> bool:
        """Are jobs due now (queued, or leased with an expired lease)?"""
        now = self.clock()
        with Session(self._reader) as session:
            due = session.scalar(
                sa.select(sa.func.count())
                .select_from(Job)
                .where(
                    sa.or_(
                        sa.and_(Job.state == JobState.QUEUED, Job.not_before <= now),
                        sa.and_(Job.state == JobState.LEASED, Job.lease_expires_at <= now),
                    )
                )
            )
        return bool(due)

    def run_once(
        self,
        *,
        poll_seconds: float = 0.2,
        grace_seconds: float = 30.0,
        stop: threading.Event | None = None,
    ) -> DaemonStats:
        """Capture everything due now (retries backed off into the future excepted), then stop.

        Setting `stop` ends the run early, as gracefully as `stop()`.
        """
        renew_every = self.config.daemon.lease_seconds / 3
        renewed = time.monotonic()
        try:
            self.wake()
            while True:
                claimed = self.drain()
                if stop is not None and stop.is_set():
                    break
                if not claimed and not self.running and not self.has_due_work():
                    break
                with self._changed:
                    self._changed.wait(poll_seconds)
                if time.monotonic() - renewed >= renew_every:
                    self.renew()
                    renewed = time.monotonic()
        finally:
            self.stop(grace_seconds)
        return self.stats


def archive_job(
    config: Config,
    engine: Engine,
    *,
    now: Callable[[], datetime] = utcnow,
    fetcher: Fetcher | None = None,
) -> CaptureJob:
    """Run a job with `archive.archive`, its captures tagged with the job's id.

    Pass one `fetcher` for the daemon's life: its connection pool and TLS setup are then shared
    by every job instead of being built per capture.
    """
    from archiver.archiving import archive

    def run(job: ClaimedJob) -> Iterable[Outcome]:
        return archive(
            [job.url] if job.resume_from is None else [],
            config=config,
            engine=engine,
            fetcher=fetcher,
            depth=job.depth,
            now=now,
            job_id=job.id,
            resume=[job.resume_from] if job.resume_from is not None else [],
        )

    return run


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM or SIGINT while inside the block (main thread only)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
