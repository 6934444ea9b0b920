"""Parse `cdn.syndication.twimg.com/tweet-result` answers, the JSON behind embedded tweets."""

from __future__ import annotations

import re
from collections.abc import Mapping
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

_VARIANT_SIZE = re.compile(r"/(\d{2,5})x(\d{2,5})/")
#: X escapes these three in tweet text (API v1.1 heritage); nothing else is escaped.
_TEXT_ESCAPES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def _unescape(text: str) -> str:
    for escaped, plain in _TEXT_ESCAPES:
        text = text.replace(escaped, plain)
    return text


def _locate(text: str, entity: Mapping[str, Any]) -> tuple[int, int] | None:
    """Where a t.co entity sits in `text`: at its indices when they agree, else where it is found.

    Indices are code points of the escaped text in current answers, but older answers counted
    the unescaped text, so an index that does not land on the URL is not trusted.
    """
    short = as_str(entity.get("url"))
    indices = as_list(entity.get("indices"))
    if short is None:
        return None
    if len(indices) == 2 and all(isinstance(i, int) for i in indices):
        start, end = indices
        if text[start:end] == short:
            return start, end
    at = text.find(short)
    return (at, at + len(short)) if at >= 0 else None


def _syndication_text(data: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The visible text with t.co links expanded and media links dropped, and the links in order."""
    text = data.get("text")
    if not isinstance(text, str):
        raise ParseError(
            "syndication tweet has no text field; the answer's shape is not understood"
        )
    entities = as_dict(data.get("entities"))
    spans: list[tuple[int, int, str]] = []
    for entity in map(as_dict, as_list(entities.get("urls"))):
        where = _locate(text, entity)
        if where is not None:
            expanded = as_str(entity.get("expanded_url")) or text[where[0] : where[1]]
            spans.append((*where, expanded))
    media_starts = [
        where[0]
        for entity in as_list(entities.get("media")) + as_list(data.get("mediaDetails"))
        if (where := _locate(text, as_dict(entity))) is not None
    ]
    display = as_list(data.get("display_text_range"))
    start = display[0] if len(display) == 2 and isinstance(display[0], int) else 0
    end = display[1] if len(display) == 2 and isinstance(display[1], int) else len(text)
    if media_starts:
        # As react-tweet does: the visible text ends where the first media link begins.
        end = min(end, min(media_starts))
    end = min(max(end, start), len(text))
    spans.sort()
    pieces: list[str] = []
    cursor = start
    for span_start, span_end, expanded in spans:
        if span_start < cursor or span_end > end:
            continue
        pieces.append(_unescape(text[cursor:span_start]))
        pieces.append(expanded)
        cursor = span_end
    pieces.append(_unescape(text[cursor:end]))
    return "".join(pieces).rstrip(), unique(url for _, _, url in spans)


def _best_photo(url: str) -> str:
    """`…/media/<name>.<ext>` → `…/media/<name>?format=<ext>&name=orig`, the original upload."""
    base, dot, ext = url.rpartition(".")
    if not dot or "/" in ext or "?" in url:
        return url
    return f"{base}?format={ext}&name=orig"


def _syndication_media(data: Mapping[str, Any]) -> tuple[Media, ...]:
    found: list[Media] = []
    for item in map(as_dict, as_list(data.get("mediaDetails"))):
        source = as_str(item.get("media_url_https"))
        if source is None:
            continue
        info = as_dict(item.get("original_info"))
        width, height = as_int(info.get("width")), as_int(info.get("height"))
        kind = item.get("type")
        if kind == "photo":
            found.append(
                Media(
                    url=_best_photo(source),
                    type="image",
                    alt=as_str(item.get("ext_alt_text")),
                    width=width,
                    height=height,
                )
            )
            continue
        video = as_dict(item.get("video_info"))
        variants = []
        for variant in map(as_dict, as_list(video.get("variants"))):
            variant_url = as_str(variant.get("url"))
            if variant_url is None:
                continue
            size = _VARIANT_SIZE.search(variant_url)
            variants.append(
                MediaVariant(
                    url=variant_url,
                    content_type=as_str(variant.get("content_type")),
                    bitrate=as_int(variant.get("bitrate")),
                    width=int(size[1]) if size else None,
                    height=int(size[2]) if size else None,
                )
            )
        mp4 = [v for v in variants if v.content_type == "video/mp4"]
        best = (
            max(mp4, key=lambda v: v.bitrate or 0) if mp4 else (variants[0] if variants else None)
        )
        found.append(
            Media(
                url=best.url if best else source,
                type="gif" if kind == "animated_gif" else "video",
                alt=as_str(item.get("ext_alt_text")),
                width=width,
                height=height,
                duration_ms=as_int(video.get("duration_millis")),
                preview_url=source,
                variants=tuple(variants),
            )
        )
    return tuple(found)


def _syndication_card(
    data: Mapping[str, Any], expansions: Mapping[str, str]
) -> dict[str, Any] | None:
    card = as_dict(data.get("card"))
    if not card:
        return None
    values = as_dict(card.get("binding_values"))

    def string(key: str) -> str | None:
        return as_str(as_dict(values.get(key)).get("string_value"))

    short = as_str(card.get("url")) or string("card_url")
    image = None
    for key in (
        "photo_image_full_size_original",
        "thumbnail_image_original",
        "summary_photo_image_original",
    ):
        image = as_str(as_dict(as_dict(values.get(key)).get("image_value")).get("url"))
        if image:
            break
    summary = {
        "name": as_str(card.get("name")),
        "url": expansions.get(short, short) if short else None,
        "title": string("title"),
        "description": string("description"),
        "domain": string("domain") or string("vanity_url"),
        "image": image,
    }
    return {k: v for k, v in summary.items() if v is not None}


_USER_EXTRAS = (
    ("id_str", "author_id"),
    ("verified", "author_verified"),
    ("is_blue_verified", "author_blue_verified"),
    ("profile_image_url_https", "author_avatar_url"),
)


def _nested(data: Mapping[str, Any], role: str, problems: list[str]) -> Post | None:
    """A tweet delivered inside another; one we cannot read is noted, not fatal to the outer."""
    try:
        return parse_syndication(data)
    except ParseError as exc:
        problems.append(f"{role}: {exc}")
        return None


def parse_syndication(data: Mapping[str, Any]) -> Post:
    """A `cdn.syndication.twimg.com/tweet-result` answer (or a tweet nested in one) → Post."""
    typename = data.get("__typename")
    if not data or typename == "TweetTombstone":
        raise ParseError(
            "syndication answer is a tombstone or empty: the tweet is not available there"
        )
    if typename not in (None, "Tweet"):
        raise ParseError(f"syndication answer has unknown __typename {typename!r}")
    tweet_id = as_str(data.get("id_str"))
    if tweet_id is None or not tweet_id.isdigit():
        raise ParseError(
            "syndication tweet has no numeric id_str; the answer's shape is not understood"
        )
    user = as_dict(data.get("user"))
    author = author_of(user.get("name"), user.get("screen_name"))
    text, links = _syndication_text(data)
    expansions = {
        str(e.get("url")): str(e.get("expanded_url"))
        for e in map(as_dict, as_list(as_dict(data.get("entities")).get("urls")))
        if as_str(e.get("url")) and as_str(e.get("expanded_url"))
    }
    embedded: list[Post] = []
    problems: list[str] = []
    quote_of = None
    quoted = as_dict(data.get("quoted_tweet"))
    if quoted:
        quote = _nested(quoted, "quoted tweet", problems)
        quoted_id = quote.id if quote else as_str(quoted.get("id_str"))
        if quoted_id and quoted_id.isdigit():
            quote_of = quote.url if quote else status_url(quoted_id)
        embedded += [quote] if quote else []
    reply_id = as_str(data.get("in_reply_to_status_id_str"))
    reply_to = None
    if reply_id and reply_id.isdigit():
        reply_to = status_url(reply_id, as_str(data.get("in_reply_to_screen_name")))
    parent = as_dict(data.get("parent"))
    if parent and parent.get("__typename") != "TweetTombstone":
        parent_post = _nested(parent, "replied-to tweet", problems)
        if parent_post:
            reply_to = reply_to or parent_post.url
            embedded.append(parent_post)
    extra: dict[str, Any] = pick(
        data,
        (
            "favorite_count",
            "conversation_count",
            "reply_count",
            "retweet_count",
            "edit_control",
            "isEdited",
            "isStaleEdit",
            "possibly_sensitive",
            "in_reply_to_user_id_str",
        ),
    )
    for key, name in _USER_EXTRAS:
        if user.get(key) is not None:
            extra[name] = user[key]
    if problems:
        extra["embedded_errors"] = problems
    if expansions:
        # The t.co URL each link came through, so the archiver resolves (and records) that hop too.
        extra["short_links"] = {expanded: short for short, expanded in expansions.items()}
    card = _syndication_card(data, expansions)
    if card:
        extra["card"] = card
    created_raw = data.get("created_at")
    created_at = parse_time(created_raw)
    if created_at is None and created_raw:
        extra["created_at_raw"] = created_raw
    return Post(
        platform=Platform.TWITTER,
        id=tweet_id,
        url=status_url(tweet_id, author.handle),
        author=author,
        text=text,
        via="syndication",
        created_at=created_at,
        lang=as_str(data.get("lang")),
        links=links,
        media=_syndication_media(data),
        reply_to=reply_to,
        quote_of=quote_of,
        embedded=tuple(embedded),
        extra=extra,
    )
