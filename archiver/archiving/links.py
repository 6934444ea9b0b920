"""What a capture leads to: the links and media worth capturing next, within the limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from archiver import platforms
from archiver.config import Config
from archiver.model import Post, Status
from archiver.store import models
from archiver.store.captures import NewCapture, capture_links, resolve_capture
from archiver.urls import is_shortener, site_host

# The use case logs as `archiver.archive`, whichever module a line comes from: the name heads
# each of its lines in the CLI's and the daemon's log output.
log = logging.getLogger("archiver.archive")


@dataclass(frozen=True)
class Task:
    """A URL to capture in a run, and where its capture hangs below the one that linked it."""

    url: str
    depth: int  # links still to follow below this capture
    parent_id: int | None
    link_url: str | None  # the parent's link row this capture answers
    kind: str  # link | media | embed | quote | reply
    embedded: Post | None = None  # a post delivered inline by its parent: no fetch needed

    @property
    def host(self) -> str | None:
        """The host whose politeness limit this capture counts against, if any."""
        if self.embedded is not None:
            return None
        host = site_host(self.url)
        return None if not host or is_shortener(host) else host


def follow(record: NewCapture, task: Task, config: Config) -> tuple[list[Task], str | None]:
    """The children of a capture worth capturing, within the depth and link limits, and a
    warning for the capture when archive.max_links cut some off."""
    if task.depth <= 0 or record.status != Status.OK:
        return [], None
    post = record.post
    short = dict(post.extra.get("short_links", {})) if post is not None else {}
    embedded = {p.url: p for p in post.embedded} if post is not None else {}
    wanted: list[Task] = []
    for link_url, kind in record.links:
        if kind == "media" and not _wants_media(record, link_url, config):
            continue
        wanted.append(
            Task(
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


def unfollowed(session: Session, capture_id: int, depth: int, config: Config) -> list[Task]:
    """The links of a stored capture that `follow` would take and no capture answers yet.

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
        Task(
            url=short.get(link.url, link.url),
            depth=depth - 1,
            parent_id=capture.id,
            link_url=link.url,
            kind=link.kind,
        )
        for link in wanted
        if link.target_id is None
    ]
