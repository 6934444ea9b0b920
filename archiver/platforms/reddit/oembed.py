"""The `/oembed` route: title, author and subreddit of a post (no body text), as a Post."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import ParseError
from archiver.model import Platform, Post
from archiver.platforms._richtext import fragment_soup
from archiver.platforms.reddit.fields import as_str, author_of
from archiver.platforms.reddit.ids import BASE


def parse_oembed(data: Mapping[str, Any], *, post_id: str, via: str = "oembed") -> Post:
    """Reddit oEmbed (title, author, subreddit; no body text) → Post."""
    if not as_str(data.get("title")) and not as_str(data.get("html")):
        raise ParseError("Reddit oEmbed answer has neither 'title' nor 'html'.")
    url = f"{BASE}/comments/{post_id}/"
    extra: dict[str, Any] = {"oembed_html": data.get("html")}
    soup = fragment_soup(as_str(data.get("html")) or "")
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"])
        path = urlsplit(href).path
        if f"/comments/{post_id}/" in path:
            url = f"{BASE}{path}"
        elif re.fullmatch(r"/r/[^/]+/?", path):
            extra["subreddit"] = path.strip("/").split("/", 1)[1]
    return Post(
        platform=Platform.REDDIT,
        id=post_id,
        url=url,
        author=author_of(as_str(data.get("author_name"))),
        text="",
        via=via,
        title=as_str(data.get("title")),
        extra=extra,
    )
