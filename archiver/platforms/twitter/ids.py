"""Tweet IDs: found in status URLs on X, Twitter and their mirrors; permalinks; snowflake time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

_ONION = "twitter3e4tixl4xyajtrzo62zg5vztmjuricljdp2c5kshju4avyoid.onion"
_FIXERS = ("fxtwitter.com", "fixupx.com", "twittpr.com", "vxtwitter.com", "fixvx.com")
_FIXER_MODES = ("d", "dl", "t", "i", "g", "m", "o", "www")
_NITTERS = ("nitter.net", "nitter.space", "nitter.tiekoetter.com", "xcancel.com", "lightbrd.com")
_PATH = re.compile(
    r"/(?:[A-Za-z0-9_]{1,50}/status(?:es)?|i/web/status|i/status)/(?P<id>[0-9]{1,40})"
    r"(?:/(?:photo|video)/[0-9]{1,2})?/?",
    re.IGNORECASE,
)


def _twitter_host(host: str) -> bool:
    if host in ("twitter.com", "x.com", _ONION):
        return True
    prefix, _, rest = host.partition(".")
    if rest in ("twitter.com", "x.com") and prefix in ("www", "mobile", "m"):
        return True
    if host in _FIXERS or (rest in _FIXERS and prefix in _FIXER_MODES):
        return True
    # Nitter front-ends only lend us the ID; the tweet itself is fetched from X's own endpoints.
    return host in _NITTERS or (prefix == "nitter" and "." in rest)


def status_id(url: str) -> str | None:
    """The numeric tweet ID of a status URL on X, Twitter or a mirror, else None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _twitter_host(host):
        return None
    found = _PATH.fullmatch(parts.path)
    return found.group("id") if found else None


def match(url: str) -> bool:
    """Is `url` a tweet (status) URL, on any of the domains that carry X's status paths?"""
    return status_id(url) is not None


def status_url(tweet_id: str, handle: str | None = None) -> str:
    """The canonical x.com permalink; `i/status` works when the author is unknown."""
    return (
        f"https://x.com/{handle}/status/{tweet_id}"
        if handle
        else f"https://x.com/i/status/{tweet_id}"
    )


def snowflake_time(tweet_id: str) -> datetime | None:
    """When a snowflake ID (tweets since Nov 2010) was minted; None for other numbers."""
    value = int(tweet_id)
    if not 1 << 32 <= value < 1 << 63:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=(value >> 22) + 1288834974657)
