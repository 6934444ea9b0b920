"""The use case: fetch a URL (post or page), store it, and follow what it links to."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from collections import deque
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

from archiver import integrity, platforms
from archiver.config import Config
from archiver.errors import ArchiverError, BodyTooLarge, FetchError, RateLimited
from archiver.extract import extract_page
from archiver.fetch import Fetcher, Response
from archiver.model import Exchange, Page, Platform, Post, PostResult, Status
from archiver.platforms import PlatformModule
from archiver.provenance import index_captures
from archiver.store import models
from archiver.store.captures import (
    ROLE_ATTEMPT,
    ROLE_REDIRECT,
    ROLE_RESPONSE,
    NewCapture,
    capture_links,
    link_targets,
    resolve_capture,
    save_captures,
)
from archiver.store.db import session_factory
from archiver.urls import normalise_url, redact_url, validate_url
from archiver.workers import Extracted, ExtractionPool

log = logging.getLogger(__name__)

HTML_TYPES = {"text/html", "application/xhtml+xml"}
TEXT_TYPES = {"text/plain", "text/markdown"}


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


@dataclass(frozen=True)
class _Task:
    url: str
    depth: int  # links still to follow below this capture
    parent_id: int | None
    link_url: str | None  # the parent's link row this capture answers
    kind: str  # link | media | embed | quote | reply
    embedded: Post | None = None  # a post delivered inline by its parent: no fetch needed


def _role(exchange: Exchange, primary: Exchange | None) -> str:
    if exchange.redirect is not None:
        return ROLE_REDIRECT
    return ROLE_RESPONSE if exchange is primary else ROLE_ATTEMPT


def _content_type(exchange: Exchange | None) -> str | None:
    if exchange is None:
        return None
    for key, value in exchange.response_headers:
        if key.lower() == "content-type":
            return value
    return None


def _post_capture(
    url: str,
    result: PostResult,
    module: PlatformModule,
    now: datetime,
    hops: tuple[Exchange, ...] = (),
    final_url: str | None = None,
) -> NewCapture:
    primary = result.primary
    exchanges = tuple((_role(e, primary), e) for e in (*hops, *result.exchanges))
    post = result.post
    links: list[tuple[str, str]] = []
    if post is not None:
        links += [(link, "link") for link in post.links]
        links += [(m.url, "media") for m in post.media]
        if post.quote_of:
            links.append((post.quote_of, "quote"))
        if post.reply_to:
            links.append((post.reply_to, "reply"))
    return NewCapture(
        url=url,
        platform=module.PLATFORM,
        captured_at=now,
        status=result.status,
        final_url=final_url or url,
        canonical_url=post.url if post is not None else None,
        http_status=primary.status if primary is not None else None,
        error=result.reason if result.status == Status.FAILED else None,
        body=primary.body if primary is not None else None,
        content_type=_content_type(primary),
        via=result.via or (post.via if post is not None else None),
        exchanges=exchanges,
        post=post,
        links=tuple(dict.fromkeys(links)),
    )


def _embedded_capture(post: Post, now: datetime) -> NewCapture:
    links = [(link, "link") for link in post.links] + [(m.url, "media") for m in post.media]
    return NewCapture(
        url=post.url,
        platform=post.platform,
        captured_at=now,
        status=Status.OK,
        final_url=post.url,
        canonical_url=post.url,
        via=f"embedded:{post.via}",
        post=post,
        links=tuple(dict.fromkeys(links)),
    )


@dataclass(frozen=True)
class _Unextracted:
    """A fetched HTML page whose text extraction is left to a worker process."""

    url: str
    response: Response
    captured_at: datetime
    #: Platform routes that failed before the web fetch this page stands in for.
    routes: tuple[Platform, PostResult] | None = None


def _wants_extraction(response: Response, config: Config) -> bool:
    return (
        200 <= response.status < 300
        and response.content_type in HTML_TYPES
        and len(response.body) <= config.fetch.max_html_bytes
    )


def _page_capture(
    url: str, response: Response, config: Config, now: datetime, page: Page | None = None
) -> NewCapture:
    """The capture of a web page; `page` is its extraction when that was done elsewhere."""
    if response.status == 429 or (response.status == 503 and response.header("retry-after")):
        # RateLimited carries Retry-After, which the daemon turns into the job's next try.
        response.raise_for_status()
    hops = tuple((ROLE_REDIRECT, e) for e in response.exchanges[:-1])
    final = response.exchanges[-1] if response.exchanges else None
    exchanges = (*hops, (ROLE_RESPONSE, final)) if final is not None else hops
    status = Status.OK if 200 <= response.status < 300 else Status.FAILED
    error = None if status == Status.OK else f"HTTP {response.status} {response.reason}".strip()
    retry: dict[str, float] = {}
    try:
        response.raise_for_status()
    except RateLimited as exc:
        # Say how long the site asked us to wait, and keep it for the queue's backoff.
        error = f"{exc.code}: {exc}"
        retry = {"retry_after": exc.retry_after} if exc.retry_after is not None else {}
    except FetchError:
        pass
    warnings: list[str] = []
    links: tuple[tuple[str, str], ...] = ()
    if status == Status.OK and response.content_type in HTML_TYPES:
        if len(response.body) > config.fetch.max_html_bytes:
            page = None
            warnings.append(
                f"HTML is {len(response.body)} bytes, over fetch.max_html_bytes "
                f"({config.fetch.max_html_bytes}); stored without text extraction"
            )
        else:
            if page is None:
                page = extract_page(response.body, response.final_url, charset=response.charset)
            warnings += page.warnings
            links = tuple(
                dict.fromkeys(
                    [(link, "link") for link in page.links]
                    + [(post, "embed") for post in page.embedded_posts]
                )
            )
    elif status == Status.OK and response.content_type in TEXT_TYPES:
        page = Page(text=response.text())
    else:
        page = None
    return NewCapture(
        url=url,
        platform=Platform.WEB,
        captured_at=now,
        status=status,
        final_url=response.final_url,
        canonical_url=page.canonical_url if page is not None else None,
        http_status=response.status,
        error=error,
        warnings=tuple(warnings),
        body=response.body,
        content_type=response.header("content-type"),
        via="http",
        exchanges=exchanges,
        page=page,
        links=links,
        extra_meta=retry,
    )


def _failed_capture(url: str, platform: Platform, exc: ArchiverError, now: datetime) -> NewCapture:
    exchanges: tuple[Exchange, ...] = getattr(exc, "exchanges", ())
    retry = {"retry_after": exc.retry_after} if isinstance(exc, RateLimited) else {}
    return NewCapture(
        url=url,
        platform=platform,
        captured_at=now,
        status=Status.FAILED,
        error=f"{exc.code}: {exc}",
        exchanges=tuple((ROLE_REDIRECT if e.redirect else ROLE_ATTEMPT, e) for e in exchanges),
        final_url=exchanges[-1].url if exchanges else None,
        http_status=exchanges[-1].status if exchanges else None,
        extra_meta=retry,
    )


def _after_routes(record: NewCapture, routes: tuple[Platform, PostResult] | None) -> NewCapture:
    """A web capture standing in for a post keeps the platform's failed routes on record."""
    if routes is None:
        return record
    platform, result = routes
    attempts = tuple((ROLE_ATTEMPT, e) for e in result.exchanges)
    note = f"no {platform.value} route answered, captured as a web page: {result.reason}"
    return replace(
        record, exchanges=(*attempts, *record.exchanges), warnings=(*record.warnings, note)
    )


def _web_address(url: str) -> str:
    """An AT-URI names a Bluesky post, not a web page: archive it under its bsky.app address."""
    text = url.strip()
    return platforms.bluesky.web_url(text) if text.startswith("at://") else text


def capture_url(
    fetcher: Fetcher, url: str, config: Config, now: datetime, *, kind: str = "link"
) -> NewCapture:
    """Fetch one URL the right way for its platform; failures become failed captures."""
    record = _capture(fetcher, url, config, now, kind=kind, defer_extraction=False)
    assert isinstance(record, NewCapture)
    return record


def _capture(
    fetcher: Fetcher,
    url: str,
    config: Config,
    now: datetime,
    *,
    kind: str,
    defer_extraction: bool,
) -> NewCapture | _Unextracted:
    record = _capture_unredacted(
        fetcher, url, config, now, kind=kind, defer_extraction=defer_extraction
    )
    # user:password in a URL is a secret: it is used to fetch, never stored, printed or logged.
    return replace(record, url=redact_url(record.url)) if "@" in record.url else record


def _capture_unredacted(
    fetcher: Fetcher,
    url: str,
    config: Config,
    now: datetime,
    *,
    kind: str,
    defer_extraction: bool,
) -> NewCapture | _Unextracted:
    platform = Platform.WEB
    routes: tuple[Platform, PostResult] | None = None  # failed routes the web capture stands in for
    try:
        url = validate_url(_web_address(url))
        module = platforms.find(url)
        if module is not None:
            platform = module.PLATFORM
            result = module.fetch_post(fetcher, url)
            if result.status != Status.FAILED or not getattr(module, "FALLBACK_TO_WEB", False):
                return _post_capture(url, result, module, now)
            routes = (platform, result)
        max_bytes = config.archive.max_media_bytes if kind == "media" else None
        try:
            response = fetcher.get(
                url,
                stop=lambda u: platforms.find(u) is not None,
                max_bytes=max_bytes,
            )
        except BodyTooLarge as exc:
            if max_bytes is None:
                raise
            # The fetcher names its own key; this limit is the media one.
            raise BodyTooLarge(
                f"The media file {redact_url(url)} is larger than {max_bytes} bytes "
                "(archive.max_media_bytes); the rest was not read",
                url=exc.url,
                exchanges=exc.exchanges,
            ) from None
        if response.stopped:
            module = platforms.find(response.final_url)
            assert module is not None
            platform = module.PLATFORM
            result = module.fetch_post(fetcher, response.final_url)
            record = _post_capture(
                url, result, module, now, hops=response.exchanges, final_url=response.final_url
            )
            return _after_routes(record, routes)
        if defer_extraction and _wants_extraction(response, config):
            return _Unextracted(url=url, response=response, captured_at=now, routes=routes)
        return _after_routes(_page_capture(url, response, config, now), routes)
    except ArchiverError as exc:
        return _after_routes(_failed_capture(url, platform, exc, now), routes)


def _follow(record: NewCapture, task: _Task, config: Config) -> tuple[list[_Task], str | None]:
    """The children of a capture worth capturing, within the depth and link limits, and a
    warning for the capture when archive.max_links cut some off."""
    if task.depth <= 0 or record.status != Status.OK:
        return [], None
    post = record.post
    short = dict(post.extra.get("short_links", {})) if post is not None else {}
    embedded = {p.url: p for p in post.embedded} if post is not None else {}
    wanted: list[_Task] = []
    for link_url, kind in record.links:
        if kind == "media" and not _wants_media(record, link_url, config):
            continue
        wanted.append(
            _Task(
                url=short.get(link_url, link_url),
                depth=task.depth - 1,
                parent_id=None,
                link_url=link_url,
                kind=kind,
                embedded=embedded.get(link_url),
            )
        )
    warning = None
    if len(wanted) > config.archive.max_links:
        warning = (
            f"{len(wanted)} links; followed the first {config.archive.max_links} "
            "(archive.max_links)"
        )
        log.warning("%s has %s", record.url, warning)
    return wanted[: config.archive.max_links], warning


def _wants_media(record: NewCapture, url: str, config: Config) -> bool:
    if record.post is None:
        return False
    media = next((m for m in record.post.media if m.url == url), None)
    return media is not None and _media_wanted(media.url, media.type, config)


def _media_wanted(url: str, media_type: str | None, config: Config) -> bool:
    if config.archive.media == "none":
        return False
    if platforms.find(url) is not None:
        return False  # a video page (YouTube), not a file: listed, never downloaded
    return media_type == "image" or config.archive.media in ("video", "all")


def _unfollowed(session: Session, capture_id: int, depth: int, config: Config) -> list[_Task]:
    """The links of a stored capture that `_follow` would take and no capture answers yet.

    A run that died after writing a capture and before its children left them undone; the
    stored post gives back the short links to fetch and the media types, as when it was made.
    """
    row = session.get(models.Capture, capture_id)
    if row is None or depth <= 0:
        return []
    capture = resolve_capture(session, row)
    if capture.status != Status.OK:
        return []
    post = capture.post or {}
    short = dict((post.get("extra") or {}).get("short_links") or {})
    media_types = {m.get("url"): m.get("type") for m in post.get("media") or []}
    wanted = [
        link
        for link in capture_links(session, capture)
        if link.kind != "media"
        or (link.url in media_types and _media_wanted(link.url, media_types[link.url], config))
    ][: config.archive.max_links]
    return [
        _Task(
            url=short.get(link.url, link.url),
            depth=depth - 1,
            parent_id=capture.id,
            link_url=link.url,
            kind=link.kind,
        )
        for link in wanted
        if link.target_id is None
    ]


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


_Ready = tuple[_Task, NewCapture, float, list[_Task]]


@dataclass(frozen=True)
class _Extraction:
    task: _Task
    item: _Unextracted
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
    waiting: dict[str, list[_Task]] = {}
    pending: deque[_Task] = deque(
        _Task(url=u, depth=depth, parent_id=None, link_url=None, kind="link") for u in urls
    )
    if resume:
        with sessions() as session:
            for capture_id in resume:
                pending.extend(_unfollowed(session, capture_id, depth, config))
                done_row = session.get(models.Capture, capture_id)
                if done_row is not None:
                    seen[_key(done_row.url)] = capture_id
    workers = max(1, config.archive.concurrency)
    cpus = _usable_cpus()
    pool: ExtractionPool | None = None
    backlog = cpus * 8
    fetching: dict[Future[tuple[NewCapture | _Unextracted, float]], _Task] = {}
    extracting: dict[Future[Extracted], _Extraction] = {}
    #: Finished captures not yet written: (task, record, seconds it took, links to follow).
    ready: list[_Ready] = []
    ready_since: float | None = None  # when the oldest unwritten capture finished
    written = trimmed = 0
    #: Outlinks of earlier captures to point at a capture already made in this run.
    relinks: list[tuple[int, str, int]] = []

    def _ready(task: _Task, record: NewCapture, duration: float) -> _Ready:
        # Links are chosen before the write, so a warning about cut links is stored with it.
        children, warning = _follow(record, task, config)
        if warning:
            record = replace(record, warnings=(*record.warnings, warning))
        return task, record, duration, children

    def run(task: _Task, defer: bool) -> tuple[NewCapture | _Unextracted, float]:
        started = time.monotonic()
        if task.embedded is not None:
            record: NewCapture | _Unextracted = _embedded_capture(task.embedded, now())
        else:
            record = _capture(
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
                    pending
                    and len(fetching) < workers
                    and len(fetching) + len(extracting) < workers + backlog
                ):
                    task = pending.popleft()
                    key = _key(task.url)
                    if key in seen:
                        # Already captured (or being captured) in this run: link, don't refetch.
                        done = seen[key]
                        if task.parent_id is not None and done is not None:
                            relinks.append((task.parent_id, task.link_url or task.url, done))
                        elif task.parent_id is not None:
                            waiting.setdefault(key, []).append(task)
                        continue
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
                    record, started = future.result()
                    if isinstance(record, _Unextracted):
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
                    record = _after_routes(
                        _page_capture(item.url, item.response, config, item.captured_at, page),
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
    waiting: dict[str, list[_Task]],
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


__all__ = ["CaptureOutcome", "FetchError", "archive", "capture_url"]
