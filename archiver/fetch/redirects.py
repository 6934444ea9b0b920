"""Where a hop leads next: an HTTP 3xx Location, or a small page's meta refresh or JavaScript."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urljoin

from archiver.charset import decode_text
from archiver.errors import InvalidURL
from archiver.fetch.response import Hop
from archiver.model import RedirectKind, header
from archiver.urls import validate_url

#: Only bodies this small are searched for meta-refresh and JavaScript redirects, so ordinary pages
#: that happen to script `location` are not taken for redirect pages.
HTML_REDIRECT_MAX_BYTES = 16 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_META_TAG = re.compile(r"<meta\b([^>]*)>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.I | re.S)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_REFRESH = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$""", re.I | re.S)
_JS_STRING = r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_JS_REDIRECT = re.compile(
    r"(?:\blocation\s*\.\s*(?:replace|assign)\s*\(\s*" + _JS_STRING + r"\s*\)"
    r"|\b(?:window\s*\.\s*|document\s*\.\s*|top\s*\.\s*|self\s*\.\s*)?location"
    r"(?:\s*\.\s*href)?\s*=(?!=)\s*" + _JS_STRING + ")"
)


def _unquote_attr(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return html.unescape(value)


def meta_refresh_target(page: str) -> str | None:
    """The URL of the first `<meta http-equiv=refresh>` that names one, as written."""
    for tag in _META_TAG.finditer(_COMMENT.sub("", page)):
        attrs = {k.lower(): _unquote_attr(v) for k, v in _ATTR.findall(tag.group(1))}
        if attrs.get("http-equiv", "").strip().lower() != "refresh":
            continue
        match = _REFRESH.match(attrs.get("content", ""))
        target = match.group(1).strip().strip("\"'").strip() if match else ""
        if target:
            return target
    return None


def _js_string(literal: str) -> str | None:
    body = literal[1:-1]
    if literal[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def javascript_redirect_target(page: str) -> str | None:
    """The URL of a `location.replace("…")` / `location = "…"` redirect, JS escapes decoded.

    Only `<script>` elements count: a button's `onclick="location.href=…"` is not a redirect.
    """
    for script in _SCRIPT.findall(_COMMENT.sub("", page)):
        match = _JS_REDIRECT.search(script)
        if match:
            return _js_string(match.group(1) or match.group(2))
    return None


def next_hop(
    hop: Hop, url: str, follow_redirects: bool, html_redirects: bool
) -> tuple[str, RedirectKind] | None:
    """Where `hop` (fetched from `url`) sends us and how, or None when the chain ends here."""
    if not follow_redirects:
        return None
    exchange = hop.exchange
    if exchange.status in REDIRECT_STATUSES:
        location = header(exchange.response_headers, "location")
        target = _resolve_location(url, location)
        return (target, RedirectKind.HTTP) if target else None
    if (
        not html_redirects
        or exchange.status != 200
        or hop.content_type not in ("text/html", "application/xhtml+xml", "")
        or len(exchange.body) >= HTML_REDIRECT_MAX_BYTES
    ):
        return None
    page = decode_text(exchange.body, hop.charset)
    for find, kind in (
        (meta_refresh_target, RedirectKind.META_REFRESH),
        (javascript_redirect_target, RedirectKind.JAVASCRIPT),
    ):
        target = _resolve_location(url, find(page))
        if target and target != url:
            return target, kind
    return None


def _resolve_location(base: str, location: str | None) -> str | None:
    if not location or not location.strip():
        return None
    try:
        return validate_url(urljoin(base, location.strip()))
    except (InvalidURL, ValueError):
        return None
