"""The ActivityPub route: a Note, Article or Question from any fediverse server (Misskey included,
which has no Mastodon API), bare or wrapped in its activity, as a Post; and the Tombstone that
says it was deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archiver.errors import ParseError
from archiver.model import Author, Media, Platform, Post
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import array, parse_timestamp
from archiver.platforms.mastodon.fields import as_str


def _first_url(value: object) -> str | None:
    """AS2 `url`/`href` can be a string, a Link object, or a list of either."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        return as_str(value.get("href")) or as_str(value.get("url"))
    if isinstance(value, Sequence):
        for item in value:
            found = _first_url(item)
            if found:
                return found
    return None


def _media_type(media_type: str | None, kind: str | None) -> str:
    major = (media_type or "").split("/")[0]
    if major in {"image", "video", "audio"}:
        return major
    return {"Image": "image", "Video": "video", "Audio": "audio"}.get(kind or "", "other")


def is_tombstone(data: Mapping[str, Any]) -> bool:
    """An ActivityPub answer that says the object was deleted."""
    obj = data.get("object") if data.get("type") in ("Create", "Update") else data
    return isinstance(obj, Mapping) and obj.get("type") == "Tombstone"


def parse_activity(data: Mapping[str, Any], *, via: str = "activitypub") -> Post:
    """An ActivityPub Note/Article/Question (bare or wrapped in Create/Update) → Post."""
    obj: Any = data
    if data.get("type") in ("Create", "Update", "Announce"):
        obj = data.get("object")
        if not isinstance(obj, Mapping):
            raise ParseError(
                f"ActivityPub {data.get('type')} does not embed its object; cannot read the post."
            )
    if not isinstance(obj.get("id"), str) or obj.get("type") == "Tombstone":
        raise ParseError("ActivityPub answer has no object id (or is a Tombstone); not a post.")
    object_id: str = obj["id"]
    url = _first_url(obj.get("url")) or object_id
    content = as_str(obj.get("content"))
    lang = None
    content_map = obj.get("contentMap")
    if isinstance(content_map, Mapping) and content_map:
        lang = next(iter(content_map))
        content = content or as_str(content_map[lang])
    if lang is None:
        for entry in data.get("@context") or () if isinstance(data.get("@context"), list) else ():
            if isinstance(entry, Mapping) and as_str(entry.get("@language")) not in (None, "und"):
                lang = entry["@language"]
    rich = html_to_text(content or "", base_url=url)

    media = []
    for item in array(obj.get("attachment")):
        if not isinstance(item, Mapping):
            continue
        media_url = _first_url(item.get("url")) or _first_url(item.get("href"))
        if not media_url:
            continue
        width, height = item.get("width"), item.get("height")
        media.append(
            Media(
                url=media_url,
                type=_media_type(as_str(item.get("mediaType")), as_str(item.get("type"))),
                alt=as_str(item.get("name")) or as_str(item.get("summary")),
                width=width if isinstance(width, int) else None,
                height=height if isinstance(height, int) else None,
            )
        )

    attributed = obj.get("attributedTo")
    actor = _first_url(attributed) or as_str(data.get("actor"))
    quote_of = None
    for key in ("quote", "quoteUrl", "quoteUri", "_misskey_quote"):
        quote_of = _first_url(obj.get(key))
        if quote_of:
            break

    extra: dict[str, Any] = {"object_id": object_id, "type": obj.get("type")}
    for key in ("summary", "sensitive", "updated", "to", "cc", "conversation", "context",
                "source", "_misskey_content", "name"):  # fmt: skip
        if obj.get(key) not in (None, "", [], {}):
            extra[key] = obj[key]
    mentions = [
        t.get("name")
        for t in array(obj.get("tag"))
        if isinstance(t, Mapping) and t.get("type") == "Mention"
    ]
    if mentions:
        extra["mentions"] = mentions

    return Post(
        platform=Platform.MASTODON,
        id=object_id.rstrip("/").rsplit("/", 1)[-1],
        url=url,
        author=Author(url=actor),
        text=rich.text,
        via=via,
        created_at=parse_timestamp(obj.get("published") or data.get("published")),
        lang=lang,
        links=rich.links,
        media=tuple(media),
        reply_to=_first_url(obj.get("inReplyTo")),
        quote_of=quote_of,
        title=as_str(obj.get("name")) if obj.get("type") in ("Article", "Page") else None,
        extra=extra,
    )
