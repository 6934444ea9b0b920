"""Which Reddit post or comment a URL names: permalinks on any reddit.com host, redd.it, galleries
and share links (which only an HTTP redirect resolves)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

BASE = "https://www.reddit.com"

_ID = r"[a-z0-9]{1,13}"
_POST_PATH = re.compile(
    rf"^/(?:(?:r|user|u)/(?P<where>[A-Za-z0-9_-]+)/)?comments/(?P<id>{_ID})"
    rf"(?:/(?P<slug>[^/]*)(?:/(?P<comment>{_ID}))?)?/?$",
    re.IGNORECASE,
)
_SHARE_PATH = re.compile(r"^/(?:r|u|user)/[A-Za-z0-9_-]+/s/[A-Za-z0-9]+/?$")
_GALLERY_PATH = re.compile(rf"^/gallery/(?P<id>{_ID})/?$", re.IGNORECASE)


@dataclass(frozen=True)
class PostRef:
    """The post, or comment under it, that a Reddit URL names."""

    #: base36 post ID; None for share links, which must be resolved over HTTP first.
    post_id: str | None
    comment_id: str | None = None
    share_url: str | None = None
    #: `https://www.reddit.com/r/<sub>/comments/<id>/<slug>/` when the URL spelled it out.
    permalink: str | None = None


def parse_url(url: str) -> PostRef | None:
    """The post (or comment) a Reddit URL names; share links (`/r/x/s/<code>`) need resolving."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"}:
        return None
    if host in {"redd.it", "www.redd.it"}:
        found = re.fullmatch(rf"/({_ID})/?", parts.path, re.IGNORECASE)
        return PostRef(found[1].lower()) if found else None
    if host != "reddit.com" and not host.endswith(".reddit.com"):
        return None
    if _SHARE_PATH.match(parts.path):
        return PostRef(None, share_url=f"https://www.reddit.com{parts.path}")
    gallery = _GALLERY_PATH.match(parts.path)
    if gallery:
        return PostRef(gallery["id"].lower())
    found = _POST_PATH.match(parts.path)
    if found is None:
        return None
    comment = found["comment"].lower() if found["comment"] else None
    post_id = found["id"].lower()
    permalink = None
    if found["where"] and found["slug"] and parts.path.lower().startswith("/r/"):
        permalink = f"{BASE}/r/{found['where']}/comments/{post_id}/{found['slug']}/"
    return PostRef(post_id, comment, permalink=permalink)


def match(url: str) -> bool:
    """Is this a Reddit post or comment URL (any reddit.com subdomain, redd.it, share links)?"""
    return parse_url(url) is not None
