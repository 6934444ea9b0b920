"""Domain values shared by every layer: frozen dataclasses, no ORM, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    TWITTER = "twitter"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    REDDIT = "reddit"
    TELEGRAM = "telegram"
    YOUTUBE = "youtube"
    WEB = "web"


class Status(StrEnum):
    OK = "ok"
    FAILED = "failed"
    GONE = "gone"


class RedirectKind(StrEnum):
    HTTP = "http"
    META_REFRESH = "meta-refresh"
    JAVASCRIPT = "javascript"


Headers = tuple[tuple[str, str], ...]


def header(headers: Headers, name: str) -> str | None:
    """First value of header `name`, case-insensitively (servers differ in case)."""
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


def utc_iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the one timestamp form archiver prints."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class Redirect:
    """One hop that sent us elsewhere: an HTTP 3xx, a meta refresh or a JavaScript redirect."""

    url: str
    status: int
    location: str
    kind: RedirectKind


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response, as sent and received (body with content-encoding removed)."""

    method: str
    url: str
    request_headers: Headers
    started_at: datetime
    status: int | None = None
    reason: str = ""
    http_version: str = "HTTP/1.1"
    response_headers: Headers = ()
    body: bytes = b""
    #: Set when this response redirected (3xx, meta refresh or JavaScript).
    redirect: Redirect | None = None
    #: Set when no (complete) response came back.
    error: str | None = None
    #: True when the body was cut at the size limit.
    truncated: bool = False


@dataclass(frozen=True)
class Author:
    name: str | None = None
    handle: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class MediaVariant:
    url: str
    content_type: str | None = None
    bitrate: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Media:
    url: str
    type: str  # image | video | gif | audio | other
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    preview_url: str | None = None
    variants: tuple[MediaVariant, ...] = ()


@dataclass(frozen=True)
class Post:
    """A social-media post in the common shape every platform module parses into."""

    platform: Platform
    id: str
    url: str
    author: Author
    text: str
    via: str  # the route that answered, e.g. "syndication", "oembed", "fxtwitter", "api"
    created_at: datetime | None = None
    lang: str | None = None
    links: tuple[str, ...] = ()  # expanded outlinks, in order of appearance
    media: tuple[Media, ...] = ()
    reply_to: str | None = None  # URL of the post this one answers
    quote_of: str | None = None  # URL of the post this one quotes
    title: str | None = None  # Reddit, YouTube
    #: Posts delivered inside this answer (quoted, replied-to) that are stored as captures of their own.
    embedded: tuple[Post, ...] = ()
    #: Platform extras worth keeping: counts, indexedAt, card, views, labels …
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """What pure extraction finds in an HTML document."""

    title: str | None = None
    text: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    description: str | None = None
    image: str | None = None
    #: Links from the main content (not navigation), absolute, in order.
    links: tuple[str, ...] = ()
    #: Posts embedded in the page (blockquote.twitter-tweet and the like), absolute URLs.
    embedded_posts: tuple[str, ...] = ()
    media: tuple[Media, ...] = ()
    jsonld: tuple[Any, ...] = ()
    opengraph: Mapping[str, Any] = field(default_factory=dict)
    twitter_card: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostResult:
    """What a platform module's fetch returns: the post, or why there is none."""

    status: Status
    post: Post | None
    exchanges: tuple[Exchange, ...]
    #: The exchange whose body is the primary evidence (the API answer that produced `post`).
    primary: Exchange | None
    reason: str | None = None
    via: str | None = None
