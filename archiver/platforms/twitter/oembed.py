"""Parse publish.twitter.com oEmbed answers: text, author and a day-precision date, nothing more."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bs4.element import Comment, NavigableString, Tag

from archiver.errors import ParseError
from archiver.model import Platform, Post, utc_iso
from archiver.platforms._richtext import fragment_soup
from archiver.platforms.twitter.fields import MONTHS, as_str, author_of, unique
from archiver.platforms.twitter.ids import snowflake_time, status_id, status_url

_MONTH_NAMES = {name: number for number, name in enumerate(MONTHS, 1)}
_DAY_DATE = re.compile(r"(?P<month>[A-Za-z]+)\.? (?P<day>\d{1,2}), (?P<year>\d{4})")


def _is_tco(url: str) -> bool:
    try:
        return (urlsplit(url).hostname or "").lower() == "t.co"
    except ValueError:
        return False


def _handle(author_url: str) -> str | None:
    """`https://twitter.com/<handle>` → `<handle>`."""
    try:
        path = urlsplit(author_url).path
    except ValueError:
        return None
    return path.strip("/").split("/")[0] or None


def _oembed_text(node: Tag, links: list[str], media: list[str]) -> str:
    pieces: list[str] = []
    for child in node.children:
        if isinstance(child, NavigableString):
            if not isinstance(child, Comment):
                pieces.append(str(child))
        elif isinstance(child, Tag) and child.name == "br":
            pieces.append("\n")
        elif isinstance(child, Tag) and child.name == "a":
            href = str(child.get("href") or "")
            label = child.get_text()
            if not _is_tco(href):
                pieces.append(label)  # mentions and hashtags: their text is what was written
            elif label.startswith(("pic.twitter.com/", "pic.x.com/")):
                media.append(href)  # the attached media's link, not part of what was written
            else:
                # oEmbed does not expand t.co; the link stays short and is resolved hop by hop.
                links.append(href)
                pieces.append(href)
        elif isinstance(child, Tag):
            pieces.append(_oembed_text(child, links, media))
    return "".join(pieces)


def _day_date(text: str) -> datetime | None:
    found = _DAY_DATE.fullmatch(text.strip())
    month = _MONTH_NAMES.get(found["month"].lower()) if found else None
    if found is None or month is None:
        return None
    try:
        return datetime(int(found["year"]), month, int(found["day"]), tzinfo=UTC)
    except ValueError:
        return None


def parse_oembed(data: Mapping[str, Any], url: str) -> Post:
    """A publish.twitter.com oEmbed answer → Post; `url` is the status URL that was asked about.

    oEmbed gives the text with unexpanded t.co links, the author and a day-precision date only.
    """
    markup = as_str(data.get("html"))
    if markup is None:
        raise ParseError(
            f"oEmbed answer for {url} has no html field; the answer's shape is not understood"
        )
    tweet_id = status_id(as_str(data.get("url")) or "") or status_id(url)
    if tweet_id is None:
        raise ParseError(f"oEmbed answer for {url} names no tweet status URL")
    soup = fragment_soup(markup)
    quote = soup.find("blockquote")
    paragraph = quote.find("p") if isinstance(quote, Tag) else None
    if not isinstance(quote, Tag) or not isinstance(paragraph, Tag):
        raise ParseError(f"oEmbed answer for {url} has no blockquote with a <p>; its shape changed")
    links: list[str] = []
    media: list[str] = []
    text = _oembed_text(paragraph, links, media).strip()
    handle = _handle(as_str(data.get("author_url")) or "")
    extra: dict[str, Any] = {}
    created_at = None
    anchors = [a for a in quote.find_all("a", recursive=False) if isinstance(a, Tag)]
    if anchors:
        date_text = anchors[-1].get_text().strip()
        created_at = _day_date(date_text)
        extra["date_text"] = date_text
        if created_at is not None:
            extra["created_at_precision"] = "day"
    minted = snowflake_time(tweet_id)
    if minted is not None:
        # Snowflake IDs carry their creation time to the millisecond; kept as a cross-check.
        extra["id_time"] = utc_iso(minted)
    if media:
        extra["media_links"] = media
    lang = paragraph.get("lang")
    return Post(
        platform=Platform.TWITTER,
        id=tweet_id,
        url=status_url(tweet_id, handle),
        author=author_of(data.get("author_name"), handle),
        text=text,
        via="oembed",
        created_at=created_at,
        lang=lang if isinstance(lang, str) and lang else None,
        links=unique(links),
        extra=extra,
    )
