"""The `/api/v1/statuses/<id>` route: a Mastodon API Status entity (also served by Pleroma and
Akkoma), its boost or quote included, as a Post."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from archiver.errors import ParseError
from archiver.model import Author, Media, Platform, Post
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import array, mapping, parse_timestamp
from archiver.platforms.mastodon.fields import as_str

_MEDIA_TYPES = {"image": "image", "video": "video", "gifv": "gif", "audio": "audio"}


def _handle(account: Mapping[str, Any]) -> str | None:
    """`@user@domain` even for local accounts, whose `acct` lacks the domain."""
    acct = as_str(account.get("acct")) or as_str(account.get("username"))
    if acct is None:
        return None
    if "@" not in acct:
        host = urlsplit(as_str(account.get("url")) or "").hostname
        if host:
            acct = f"{acct}@{host}"
    return "@" + acct


def _media_from_attachment(item: Mapping[str, Any], *, prefer_remote: bool) -> Media | None:
    local = as_str(item.get("url"))
    remote = as_str(item.get("remote_url"))
    url = (remote or local) if prefer_remote else (local or remote)
    if url is None:
        return None
    original = mapping(mapping(item.get("meta")).get("original"))
    duration = original.get("duration")
    width, height = original.get("width"), original.get("height")
    return Media(
        url=url,
        type=_MEDIA_TYPES.get(str(item.get("type")), "other"),
        alt=as_str(item.get("description")),
        width=width if isinstance(width, int) else None,
        height=height if isinstance(height, int) else None,
        duration_ms=round(duration * 1000) if isinstance(duration, int | float) else None,
        preview_url=as_str(item.get("preview_url")),
    )


def parse_status(data: Mapping[str, Any], *, api_host: str | None = None, via: str = "api") -> Post:
    """A REST API Status entity → Post; a boost becomes the boosted status.

    `api_host` is the server that answered: reply IDs are that server's local IDs.
    """
    if not isinstance(data.get("id"), str) or not isinstance(data.get("account"), Mapping):
        raise ParseError("Mastodon status has no 'id' or 'account'; not a Status entity.")
    reblog = data.get("reblog")
    if isinstance(reblog, Mapping):
        boosted = parse_status(reblog, api_host=api_host, via=via)
        booster = data["account"]
        boost = {
            "boosted_by": {"handle": _handle(booster), "url": as_str(booster.get("url"))},
            "boost_url": as_str(data.get("url")) or as_str(data.get("uri")),
        }
        return replace(boosted, extra={**boosted.extra, **boost})

    account: Mapping[str, Any] = data["account"]
    url = as_str(data.get("url")) or as_str(data.get("uri")) or ""
    host = api_host or urlsplit(url).netloc
    handle = _handle(account)
    is_remote = "@" in (as_str(account.get("acct")) or "")
    rich = html_to_text(as_str(data.get("content")) or "", base_url=url or None)
    media = tuple(
        m
        for item in array(data.get("media_attachments"))
        if isinstance(item, Mapping)
        for m in [_media_from_attachment(item, prefer_remote=is_remote)]
        if m is not None
    )

    reply_to = None
    reply_id = as_str(data.get("in_reply_to_id"))
    if reply_id and host:
        reply_acct = None
        if data.get("in_reply_to_account_id") == account.get("id"):
            reply_acct = as_str(account.get("acct"))
        for mention in array(data.get("mentions")):
            if isinstance(mention, Mapping) and mention.get("id") == data.get(
                "in_reply_to_account_id"
            ):
                reply_acct = as_str(mention.get("acct"))
        reply_to = (
            f"https://{host}/@{reply_acct}/{reply_id}"
            if reply_acct
            else f"https://{host}/web/statuses/{reply_id}"
        )

    quote_of: str | None = None
    embedded: tuple[Post, ...] = ()
    quote = data.get("quote")
    extra: dict[str, Any] = {}
    if isinstance(quote, Mapping):
        quoted = quote.get("quoted_status")
        extra["quote_state"] = as_str(quote.get("state"))
        if isinstance(quoted, Mapping) and isinstance(quoted.get("account"), Mapping):
            inner = parse_status(quoted, api_host=api_host, via=via)
            quote_of, embedded = inner.url, (inner,)
        elif as_str(quote.get("quoted_status_id")) and host:
            quote_of = f"https://{host}/web/statuses/{quote['quoted_status_id']}"

    for key in (
        "uri", "visibility", "sensitive", "spoiler_text", "edited_at", "replies_count",
        "reblogs_count", "favourites_count", "quotes_count", "card", "poll", "application",
    ):  # fmt: skip
        if data.get(key) not in (None, "", [], {}):
            extra[key] = data[key]
    tags = [t.get("name") for t in array(data.get("tags")) if isinstance(t, Mapping)]
    if tags:
        extra["tags"] = tags
    mentions = [m.get("acct") for m in array(data.get("mentions")) if isinstance(m, Mapping)]
    if mentions:
        extra["mentions"] = mentions
    extra["account_id"] = account.get("id")

    return Post(
        platform=Platform.MASTODON,
        id=data["id"],
        url=url,
        author=Author(
            name=as_str(account.get("display_name")) or as_str(account.get("username")),
            handle=handle,
            url=as_str(account.get("url")),
        ),
        text=rich.text,
        via=via,
        created_at=parse_timestamp(data.get("created_at")),
        lang=as_str(data.get("language")),
        links=rich.links,
        media=media,
        reply_to=reply_to,
        quote_of=quote_of,
        embedded=embedded,
        extra=extra,
    )
