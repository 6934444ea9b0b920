"""Parse api.fxtwitter.com answers: a third party reading X's internal API with its own accounts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from archiver.errors import ParseError
from archiver.model import Media, MediaVariant, Platform, Post
from archiver.platforms.twitter.fields import (
    as_dict,
    as_int,
    as_list,
    as_str,
    author_of,
    parse_time,
    pick,
    unique,
)
from archiver.platforms.twitter.ids import status_url


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _epoch(value: object) -> datetime | None:
    seconds = _number(value)
    try:
        return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _milliseconds(value: object) -> int | None:
    seconds = _number(value)
    return round(seconds * 1000) if seconds is not None and abs(seconds) < 1e12 else None


def _utf16_slice(text: str, start: int, end: int | None = None) -> str:
    """Slice by UTF-16 code units, the unit FxTwitter's facet indices count in."""
    units = text.encode("utf-16-le")
    stop = len(units) if end is None else 2 * end
    return units[2 * start : stop].decode("utf-16-le", errors="replace")


def _fx_text(status: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Text rebuilt from `raw_text` and its facets (so links come in order), else `text`."""
    raw = as_dict(status.get("raw_text"))
    raw_text = raw.get("text")
    facets = [as_dict(f) for f in as_list(raw.get("facets"))]
    if not isinstance(raw_text, str):
        text = as_str(status.get("text")) or ""
        return text, unique(re.findall(r"https?://[^\s]+", text))
    units = len(raw_text.encode("utf-16-le")) // 2
    display = as_list(raw.get("display_text_range"))
    start = display[0] if len(display) == 2 and isinstance(display[0], int) else 0
    end = display[1] if len(display) == 2 and isinstance(display[1], int) else units
    pieces: list[str] = []
    links: list[str] = []
    cursor = start
    spans = []
    for facet in facets:
        indices = [as_int(i) for i in as_list(facet.get("indices"))]
        if facet.get("type") in ("url", "media") and len(indices) == 2:
            first, last = indices
            if first is not None and last is not None:
                spans.append((first, last, facet))
    for span_start, span_end, facet in sorted(spans, key=lambda s: s[0]):
        if span_start < cursor or span_end > end:
            continue
        pieces.append(_utf16_slice(raw_text, cursor, span_start))
        if facet.get("type") == "url":
            replacement = as_str(facet.get("replacement")) or as_str(facet.get("original")) or ""
            pieces.append(replacement)
            links.append(replacement)
        cursor = span_end
    pieces.append(_utf16_slice(raw_text, cursor, end))
    return "".join(pieces).strip(), unique(links)


def _fx_media(status: Mapping[str, Any]) -> tuple[Media, ...]:
    media = as_dict(status.get("media"))
    found: list[Media] = []
    for photo in map(as_dict, as_list(media.get("photos"))):
        if as_str(photo.get("url")):
            found.append(
                Media(
                    url=photo["url"],
                    type="gif" if photo.get("type") == "gif" else "image",
                    alt=as_str(photo.get("altText")),
                    width=as_int(photo.get("width")),
                    height=as_int(photo.get("height")),
                )
            )
    for video in map(as_dict, as_list(media.get("videos"))):
        if not as_str(video.get("url")):
            continue
        variants = tuple(
            MediaVariant(
                url=fmt["url"],
                content_type={
                    "mp4": "video/mp4",
                    "webm": "video/webm",
                    "m3u8": "application/x-mpegURL",
                }.get(str(fmt.get("container"))),
                bitrate=as_int(fmt.get("bitrate")),
                width=as_int(fmt.get("width")),
                height=as_int(fmt.get("height")),
            )
            for fmt in map(as_dict, as_list(video.get("formats")))
            if as_str(fmt.get("url"))
        )
        found.append(
            Media(
                url=video["url"],
                type="gif" if video.get("type") == "gif" else "video",
                width=as_int(video.get("width")),
                height=as_int(video.get("height")),
                duration_ms=_milliseconds(video.get("duration")),
                preview_url=as_str(video.get("thumbnail_url")),
                variants=variants,
            )
        )
    return tuple(found)


def parse_fxtwitter(data: Mapping[str, Any]) -> Post:
    """An api.fxtwitter.com answer (v1 `{code, tweet}` or v2 `{code, status}`) → Post."""
    code = data.get("code")
    if code not in (None, 200):
        raise ParseError(f"FxTwitter answered code {code} ({data.get('message')}), not a post")
    status = as_dict(data.get("tweet") or data.get("status")) if "code" in data else dict(data)
    if status.get("type") == "tombstone":
        raise ParseError(f"FxTwitter answered a tombstone ({status.get('reason')}), not a post")
    tweet_id = status.get("id")
    tweet_id = str(tweet_id) if isinstance(tweet_id, str | int) else None
    if tweet_id is None or not tweet_id.isdigit():
        raise ParseError(
            "FxTwitter answer has no numeric post id; the answer's shape is not understood"
        )
    author_data = as_dict(status.get("author"))
    author = author_of(author_data.get("name"), author_data.get("screen_name"))
    text, links = _fx_text(status)
    created_at = parse_time(status.get("created_at")) or _epoch(status.get("created_timestamp"))
    embedded: list[Post] = []
    problems: list[str] = []
    quote_of = None
    quote = as_dict(status.get("quote"))
    if quote.get("type") == "tombstone":
        quote_of = as_str(quote.get("url"))
    elif quote:
        try:
            quoted = parse_fxtwitter(quote)
        except ParseError as exc:
            # A quote we cannot read is noted; the post that quotes it still stands.
            problems.append(f"quoted post: {exc}")
            quote_of = as_str(quote.get("url"))
        else:
            quote_of = quoted.url
            embedded.append(quoted)
    replying = status.get("replying_to")
    if isinstance(replying, dict):
        reply_handle, reply_id = as_str(replying.get("screen_name")), as_str(replying.get("status"))
    else:  # v1: `replying_to` is the handle and `replying_to_status` the ID
        reply_handle, reply_id = as_str(replying), as_str(status.get("replying_to_status"))
    if reply_id is not None and not reply_id.isdigit():
        reply_id = None
    extra: dict[str, Any] = pick(
        status,
        (
            "likes",
            "retweets",
            "reposts",
            "quotes",
            "replies",
            "views",
            "bookmarks",
            "possibly_sensitive",
            "is_note_tweet",
            "community_note",
            "source",
            "card",
            "poll",
            "twitter_card",
            "created_timestamp",
            "provider",
        ),
    )
    if problems:
        extra["embedded_errors"] = problems
    short_links = {
        str(f["replacement"]): str(f["original"])
        for f in map(as_dict, as_list(as_dict(status.get("raw_text")).get("facets")))
        if f.get("type") == "url" and as_str(f.get("original")) and as_str(f.get("replacement"))
    }
    if short_links:
        extra["short_links"] = short_links
    if author_data.get("id") is not None:
        extra["author_id"] = str(author_data["id"])
    external = as_dict(as_dict(status.get("media")).get("external"))
    if external:
        extra["external_media"] = external
    return Post(
        platform=Platform.TWITTER,
        id=tweet_id,
        url=status_url(tweet_id, author.handle),
        author=author,
        text=text,
        via="fxtwitter",
        created_at=created_at,
        lang=as_str(status.get("lang")),
        links=links,
        media=_fx_media(status),
        reply_to=status_url(reply_id, reply_handle) if reply_id else None,
        quote_of=quote_of,
        embedded=tuple(embedded),
        extra=extra,
    )
