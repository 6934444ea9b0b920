"""Which fediverse post a URL names. A fediverse server cannot be recognised by its domain, so
URLs are recognised by path shape alone: Mastodon, Pleroma/Akkoma and Misskey post paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

_USER = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
RouteKind = Literal["api", "object"]
_PATHS: tuple[tuple[RouteKind, re.Pattern[str]], ...] = (
    ("api", re.compile(rf"^/@(?P<user>{_USER})(?:@(?P<remote>{_DOMAIN}))?/(?P<id>\d+)/?$")),
    ("api", re.compile(rf"^/users/(?P<user>{_USER})/statuses/(?P<id>\d+)/?$")),
    ("api", re.compile(
        rf"^/web/(?:statuses|@(?P<user>{_USER})(?:@(?P<remote>{_DOMAIN}))?)/(?P<id>\d+)/?$"
    )),
    # Pleroma/Akkoma: flake IDs (base62) or old numeric ones; they also serve the Mastodon API.
    ("api", re.compile(r"^/notice/(?P<id>[A-Za-z0-9]{1,32})/?$")),
    # Misskey family: aid (10), aidx (16), meid (24 hex) or ULID (26) note IDs; ActivityPub only.
    ("object", re.compile(
        r"^/notes/(?P<id>[0-9a-z]{10}|[0-9a-z]{16}|[0-9a-f]{24}|[0-9A-Z]{26})/?$"
    )),
    ("object", re.compile(
        r"^/objects/(?P<id>[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})/?$"
    )),
)  # fmt: skip
# Sites whose own URLs share these path shapes but are not fediverse servers.
_NOT_FEDIVERSE = (
    "twitter.com", "x.com", "bsky.app", "reddit.com", "youtube.com", "t.me", "medium.com",
    "tiktok.com", "instagram.com", "facebook.com", "threads.net", "github.com",
)  # fmt: skip


@dataclass(frozen=True)
class StatusRef:
    """What a fediverse post URL names."""

    url: str
    host: str
    id: str
    #: "api" → try `/api/v1/statuses/<id>` first; "object" → ActivityPub only.
    kind: RouteKind
    user: str | None = None
    #: Set for `/@user@remote/<id>`: the status is a cached copy of a post on `remote`.
    remote: str | None = None


def parse_url(url: str) -> StatusRef | None:
    """The status a URL names, or None when its path has no fediverse post shape."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host or "." not in host:
        return None
    if any(host == d or host.endswith("." + d) for d in _NOT_FEDIVERSE):
        return None
    for kind, pattern in _PATHS:
        found = pattern.match(parts.path)
        if found:
            groups = found.groupdict()
            netloc = host if parts.port is None else f"{host}:{parts.port}"
            return StatusRef(
                url=f"{parts.scheme}://{netloc}{parts.path}",
                host=netloc,
                id=groups["id"],
                kind=kind,
                user=groups.get("user"),
                remote=(groups.get("remote") or "").lower() or None,
            )
    return None


def match(url: str) -> bool:
    """Is this URL shaped like a fediverse post (`/@user/<id>`, `/notice/<id>`, …) on any host?"""
    return parse_url(url) is not None
