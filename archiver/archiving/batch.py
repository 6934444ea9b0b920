"""A batch run: captures overlapped in threads, extraction in worker processes, batched writes."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from archiver import integrity
from archiver.archiving.capture import (
    Unextracted,
    after_routes,
    capture_or_defer,
    embedded_capture,
    page_capture,
)
from archiver.archiving.links import Task, follow, unfollowed
from archiver.config import Config
from archiver.errors import ArchiverError
from archiver.fetch import Fetcher
from archiver.model import Platform, Status
from archiver.provenance import index_captures
from archiver.store import models
from archiver.store.captures import NewCapture, link_targets, save_captures
from archiver.store.db import session_factory
from archiver.urls import normalise_url
from archiver.workers import Extracted, ExtractionPool

# The use case logs as `archiver.archive`, whichever module a line comes from: the name heads
# each of its lines in the CLI's and the daemon's log output.
log = logging.getLogger("archiver.archive")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CaptureOutcome:
    """What happened to one URL: the stored capture's id and its status."""

    capture_id: int
    url: str
    status: Status
    error: str | None
    parent_id: int | None
    platform: Platform
    change: str | None
    duration: float
    bytes: int
    requested: bool
    retry_after: float | None = None


#: Below this many captures to do, extraction stays in the fetching threads: starting worker
#: processes costs more than it saves.
PROCESS_POOL_MIN_TASKS = 16
#: Captures written per transaction at most (each capture is always whole within one).
WRITE_BATCH = 64
#: A batch is written once this many captures are ready, or the oldest waited WRITE_DELAY s.
WRITE_BATCH_MIN = 16
WRITE_DELAY = 0.25


#: Captures between returns of freed memory to the system (see _release_freed_memory).
TRIM_EVERY = 500


def _release_freed_memory() -> None:
    """Hand freed heap memory back to the system (glibc only).

    Bodies of a few hundred KB are allocated in fetch threads and freed in this one; glibc keeps
    the freed space in per-thread arenas, and a run of 10,000 URLs grew by tens of MB for it.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # musl and others have no malloc_trim
        return
    trim(0)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


_Ready = tuple[Task, NewCapture, float, list[Task]]


@dataclass(frozen=True)
class _Extraction:
    task: Task
    item: Unextracted
    started: float


def archive(
    urls: Iterable[str],
    *,
    config: Config,
    engine: Engine,
    fetcher: Fetcher | None = None,
    depth: int | None = None,
    now: Callable[[], datetime] = utcnow,
    job_id: int | None = None,
    resume: Sequence[int] = (),
) -> Iterator[CaptureOutcome]:
    """Capture each URL and, breadth first to `depth`, what it links to.

    Fetches overlap in threads; on a large batch, text extraction runs in one worker process per
    core. Finished captures are written in batches, each capture whole within one transaction,
    and yielded once committed (in the order they finish). `resume` names stored captures (made
    at this `depth`) whose links not yet captured are followed, as if they had just been made.
    """
    depth = config.archive.depth if depth is None else depth
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(config.fetch)
    sessions = session_factory(engine)
    seen: dict[str, int | None] = {}
    waiting: dict[str, list[Task]] = {}
    pending: deque[Task] = deque(
        Task(url=u, depth=depth, parent_id=None, link_url=None, kind="link") for u in urls
    )
    if resume:
        with sessions() as session:
            for capture_id in resume:
                pending.extend(unfollowed(session, capture_id, depth, config))
                done_row = session.get(models.Capture, capture_id)
                if done_row is not None:
                    seen[_key(done_row.url)] = capture_id
    workers = max(1, config.archive.concurrency)
    per_host = config.archive.per_host_concurrency
    #: Fetches in flight per host, the tasks held back while their host is at its limit, and
    #: the hosts that may have room for them again (a fetch of theirs ended).
    in_flight: Counter[str] = Counter()
    held: dict[str, deque[Task]] = {}
    reopened: set[str] = set()
    cpus = _usable_cpus()
    pool: ExtractionPool | None = None
    backlog = cpus * 8
    fetching: dict[Future[tuple[NewCapture | Unextracted, float]], Task] = {}
    extracting: dict[Future[Extracted], _Extraction] = {}
    #: Finished captures not yet written: (task, record, seconds it took, links to follow).
    ready: list[_Ready] = []
    ready_since: float | None = None  # when the oldest unwritten capture finished
    written = trimmed = 0
    #: Outlinks of earlier captures to point at a capture already made in this run.
    relinks: list[tuple[int, str, int]] = []

    def _ready(task: Task, record: NewCapture, duration: float) -> _Ready:
        # Links are chosen before the write, so a warning about cut links is stored with it.
        children, warning = follow(record, task, config)
        if warning:
            record = replace(record, warnings=(*record.warnings, warning))
        return task, record, duration, children

    def next_task() -> Task | None:
        # Tasks held for a host that has room again come first: they waited longest.
        while reopened:
            host = next(iter(reopened))
            waiting_here = held.get(host)
            if not waiting_here or in_flight[host] >= per_host:
                # Emptied, or full again: a fetch of it that ends reopens it.
                reopened.discard(host)
                continue
            task = waiting_here.popleft()
            if not waiting_here:
                del held[host]
            return task
        return pending.popleft() if pending else None

    def run(task: Task, defer: bool) -> tuple[NewCapture | Unextracted, float]:
        started = time.monotonic()
        if task.embedded is not None:
            record: NewCapture | Unextracted = embedded_capture(task.embedded, now())
        else:
            record = capture_or_defer(
                fetcher, task.url, config, now(), kind=task.kind, defer_extraction=defer
            )
        return record, started

    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="capture") as threads:
            while True:
                if pool is None and cpus > 1 and len(pending) >= PROCESS_POOL_MIN_TASKS:
                    pool = ExtractionPool(cpus)
                # Fetches keep flowing while pages wait for extraction (a fetch takes longer than
                # an extraction, so stopping them at a full queue leaves the workers idle later);
                # the total in hand stays bounded.
                while (
                    len(fetching) < workers
                    and len(fetching) + len(extracting) < workers + backlog
                    and (task := next_task()) is not None
                ):
                    key = _key(task.url)
                    if key in seen:
                        # Already captured (or being captured) in this run: link, don't refetch.
                        done = seen[key]
                        if task.parent_id is not None and done is not None:
                            relinks.append((task.parent_id, task.link_url or task.url, done))
                        elif task.parent_id is not None:
                            waiting.setdefault(key, []).append(task)
                        continue
                    host = task.host if per_host > 0 else None
                    if host is not None:
                        if in_flight[host] >= per_host:
                            # Other hosts go first; this one resumes when a fetch of it ends.
                            held.setdefault(host, deque()).append(task)
                            continue
                        in_flight[host] += 1
                    seen[key] = None
                    fetching[threads.submit(run, task, pool is not None)] = task
                if not (fetching or extracting or ready or relinks):
                    break
                busy: list[Future[Any]] = [*fetching, *extracting]
                if busy and len(ready) < WRITE_BATCH_MIN:
                    # A transaction costs about what a capture does: gather a few, but never
                    # keep a finished capture unwritten for long.
                    timeout = None
                    if ready_since is not None:
                        timeout = max(0.0, ready_since + WRITE_DELAY - time.monotonic())
                    wait(busy, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in [f for f in fetching if f.done()]:
                    task = fetching.pop(future)
                    host = task.host if per_host > 0 else None
                    if host is not None:
                        in_flight[host] -= 1
                        if host in held:
                            reopened.add(host)
                    record, started = future.result()
                    if isinstance(record, Unextracted):
                        assert pool is not None
                        response = record.response
                        submitted = pool.submit(response.body, response.final_url, response.charset)
                        extracting[submitted] = _Extraction(task, record, started)
                    else:
                        ready.append(_ready(task, record, time.monotonic() - started))
                for done_page in [f for f in extracting if f.done()]:
                    job = extracting.pop(done_page)
                    item = job.item
                    page, hashes = done_page.result()
                    record = after_routes(
                        page_capture(item.url, item.response, config, item.captured_at, page),
                        item.routes,
                    )
                    record = replace(record, fingerprints=hashes)
                    ready.append(_ready(job.task, record, time.monotonic() - job.started))
                if ready and ready_since is None:
                    ready_since = time.monotonic()
                due = (
                    not (fetching or extracting)
                    or len(ready) >= WRITE_BATCH_MIN
                    or (ready_since is not None and time.monotonic() >= ready_since + WRITE_DELAY)
                )
                if not due:
                    continue
                batch, ready[:] = ready[:WRITE_BATCH], ready[WRITE_BATCH:]
                outcomes = _write(sessions, batch, relinks, waiting, job_id)
                relinks.clear()
                ready_since = time.monotonic() if ready else None
                written += len(batch)
                if written >= trimmed + TRIM_EVERY:
                    trimmed = written
                    _release_freed_memory()
                for (task, record, _, children), outcome in zip(batch, outcomes, strict=True):
                    seen[_key(task.url)] = outcome.capture_id
                    log.info(
                        "capture url=%s status=%s duration=%.3f bytes=%d change=%s",
                        record.url,
                        outcome.status.value,
                        outcome.duration,
                        outcome.bytes,
                        outcome.change,
                    )
                    yield outcome
                    for child in children:
                        pending.append(replace(child, parent_id=outcome.capture_id))
    finally:
        if pool is not None:
            for unstarted in extracting:
                unstarted.cancel()
            pool.close()
        if own_fetcher:
            fetcher.close()


def _write(
    sessions: sessionmaker[Session],
    batch: list[_Ready],
    relinks: list[tuple[int, str, int]],
    waiting: dict[str, list[Task]],
    job_id: int | None,
) -> list[CaptureOutcome]:
    """Save finished captures in one transaction; the outcomes are valid once it committed."""
    outcomes: list[CaptureOutcome] = []
    if not batch and not relinks:
        return outcomes
    with sessions.begin() as session:
        records = [replace(r, parent_id=t.parent_id, job_id=job_id) for t, r, _, _ in batch]
        # The chain lock comes before the inserts so that ids are handed out in sealing order.
        integrity.lock_chain(session)
        rows = save_captures(session, records)
        index_captures(session, rows, [r.fingerprints for r in records])
        integrity.seal_all(session, rows)
        targets = list(relinks)
        for (task, record, duration, _), row in zip(batch, rows, strict=True):
            if task.parent_id is not None:
                targets.append((task.parent_id, task.link_url or task.url, row.id))
            for other in waiting.pop(_key(task.url), []):
                targets.append((other.parent_id or 0, other.link_url or other.url, row.id))
            outcomes.append(
                CaptureOutcome(
                    capture_id=row.id,
                    url=record.url,
                    status=Status(row.status),
                    error=row.error,
                    parent_id=task.parent_id,
                    platform=record.platform,
                    change=row.change,
                    duration=duration,
                    bytes=len(record.body or b""),
                    requested=task.parent_id is None,
                    retry_after=_retry_after(record),
                )
            )
        link_targets(session, targets)
        session.flush()  # the last seal's hashes, before the rows are let go
        # Rows are not read again through this session; dropping them keeps memory flat.
        session.expunge_all()
    return outcomes


def _key(url: str) -> str:
    try:
        return normalise_url(url)
    except ArchiverError:
        return url


def _retry_after(record: NewCapture) -> float | None:
    value = record.extra_meta.get("retry_after")
    return float(value) if isinstance(value, int | float) else None
