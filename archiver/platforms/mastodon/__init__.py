"""Mastodon and the wider fediverse: the instance's REST API, then ActivityPub.

A fediverse server cannot be recognised by its domain, so `match` goes by path shape only and
`FALLBACK_TO_WEB` tells the archiver to capture the page as a web page when no route answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from archiver.errors import FetchError, ParseError, RateLimited
from archiver.model import Author, Media, Platform, Post, PostResult
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import Attempts, array, json_object, mapping, parse_timestamp

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.MASTODON
#: When neither the API nor ActivityPub answers (and the post is not gone), capture the page.
FALLBACK_TO_WEB = True

ACTIVITY_ACCEPT = (
    "application/activity+json, "
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)
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
_MEDIA_TYPES = {"image": "image", "video": "video", "gifv": "gif", "audio": "audio"}


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


# --- pure parsers -------------------------------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _handle(account: Mapping[str, Any]) -> str | None:
    """`@user@domain` even for local accounts, whose `acct` lacks the domain."""
    acct = _str(account.get("acct")) or _str(account.get("username"))
    if acct is None:
        return None
    if "@" not in acct:
        host = urlsplit(_str(account.get("url")) or "").hostname
        if host:
            acct = f"{acct}@{host}"
    return "@" + acct


def _media_from_attachment(item: Mapping[str, Any], *, prefer_remote: bool) -> Media | None:
    local = _str(item.get("url"))
    remote = _str(item.get("remote_url"))
    url = (remote or local) if prefer_remote else (local or remote)
    if url is None:
        return None
    original = mapping(mapping(item.get("meta")).get("original"))
    duration = original.get("duration")
    width, height = original.get("width"), original.get("height")
    return Media(
        url=url,
        type=_MEDIA_TYPES.get(str(item.get("type")), "other"),
        alt=_str(item.get("description")),
        width=width if isinstance(width, int) else None,
        height=height if isinstance(height, int) else None,
        duration_ms=round(duration * 1000) if isinstance(duration, int | float) else None,
        preview_url=_str(item.get("preview_url")),
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
            "boosted_by": {"handle": _handle(booster), "url": _str(booster.get("url"))},
            "boost_url": _str(data.get("url")) or _str(data.get("uri")),
        }
        return replace(boosted, extra={**boosted.extra, **boost})

    account: Mapping[str, Any] = data["account"]
    url = _str(data.get("url")) or _str(data.get("uri")) or ""
    host = api_host or urlsplit(url).netloc
    handle = _handle(account)
    is_remote = "@" in (_str(account.get("acct")) or "")
    rich = html_to_text(_str(data.get("content")) or "", base_url=url or None)
    media = tuple(
        m
        for item in array(data.get("media_attachments"))
        if isinstance(item, Mapping)
        for m in [_media_from_attachment(item, prefer_remote=is_remote)]
        if m is not None
    )

    reply_to = None
    reply_id = _str(data.get("in_reply_to_id"))
    if reply_id and host:
        reply_acct = None
        if data.get("in_reply_to_account_id") == account.get("id"):
            reply_acct = _str(account.get("acct"))
        for mention in array(data.get("mentions")):
            if isinstance(mention, Mapping) and mention.get("id") == data.get(
                "in_reply_to_account_id"
            ):
                reply_acct = _str(mention.get("acct"))
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
        extra["quote_state"] = _str(quote.get("state"))
        if isinstance(quoted, Mapping) and isinstance(quoted.get("account"), Mapping):
            inner = parse_status(quoted, api_host=api_host, via=via)
            quote_of, embedded = inner.url, (inner,)
        elif _str(quote.get("quoted_status_id")) and host:
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
        platform=PLATFORM,
        id=data["id"],
        url=url,
        author=Author(
            name=_str(account.get("display_name")) or _str(account.get("username")),
            handle=handle,
            url=_str(account.get("url")),
        ),
        text=rich.text,
        via=via,
        created_at=parse_timestamp(data.get("created_at")),
        lang=_str(data.get("language")),
        links=rich.links,
        media=media,
        reply_to=reply_to,
        quote_of=quote_of,
        embedded=embedded,
        extra=extra,
    )


def _first_url(value: object) -> str | None:
    """AS2 `url`/`href` can be a string, a Link object, or a list of either."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        return _str(value.get("href")) or _str(value.get("url"))
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
    content = _str(obj.get("content"))
    lang = None
    content_map = obj.get("contentMap")
    if isinstance(content_map, Mapping) and content_map:
        lang = next(iter(content_map))
        content = content or _str(content_map[lang])
    if lang is None:
        for entry in data.get("@context") or () if isinstance(data.get("@context"), list) else ():
            if isinstance(entry, Mapping) and _str(entry.get("@language")) not in (None, "und"):
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
                type=_media_type(_str(item.get("mediaType")), _str(item.get("type"))),
                alt=_str(item.get("name")) or _str(item.get("summary")),
                width=width if isinstance(width, int) else None,
                height=height if isinstance(height, int) else None,
            )
        )

    attributed = obj.get("attributedTo")
    actor = _first_url(attributed) or _str(data.get("actor"))
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
        platform=PLATFORM,
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
        title=_str(obj.get("name")) if obj.get("type") in ("Article", "Page") else None,
        extra=extra,
    )


# --- fetching -----------------------------------------------------------------------------------


def _status_from_api(response: Response) -> dict[str, Any] | None:
    data = json_object(response.body)
    if response.status != 200 or data is None or not isinstance(data.get("id"), str):
        return None
    return data if isinstance(data.get("account"), Mapping) else None


def _gone_from_api(response: Response) -> bool:
    """Mastodon's own 404 is JSON (`{"error":"Record not found"}`); an HTML one is not Mastodon."""
    if response.status == 410:
        return True
    data = json_object(response.body)
    # Other software answers unknown API routes with JSON too, but not with a string error.
    return response.status == 404 and data is not None and isinstance(data.get("error"), str)


def _rate_limit(attempts: Attempts, response: Response) -> None:
    if response.status == 429:
        reset = parse_timestamp(response.header("x-ratelimit-reset"))
        raise attempts.rate_limited(
            response, reset, f"Fediverse server {urlsplit(response.url).netloc}"
        )


def _fetch_activity(attempts: Attempts, url: str) -> tuple[PostResult | None, str]:
    """ActivityPub GET; a result when it settles the matter, else the reason it did not."""
    response = attempts.get(url, headers={"Accept": ACTIVITY_ACCEPT})
    _rate_limit(attempts, response)
    data = json_object(response.body)
    if response.status in {404, 410} or (data is not None and is_tombstone(data)):
        return attempts.gone(
            f"The post at {url} was deleted (ActivityPub answered {response.status}"
            f"{', Tombstone' if data is not None and is_tombstone(data) else ''}).",
            response,
            "activitypub",
        ), ""
    if response.status == 401:
        return None, "server requires authorised fetch (HTTP 401 to an unsigned ActivityPub GET)"
    if response.status == 200 and data is not None:
        try:
            return attempts.ok(parse_activity(data), response), ""
        except ParseError as exc:
            return None, str(exc)
    return (
        None,
        f"ActivityPub GET of {url} answered {response.status} {response.content_type or ''}",
    )


def _origin_copy(
    attempts: Attempts, status: Mapping[str, Any], viewer: str
) -> PostResult | str | None:
    """The origin server's copy of a remote status (its API when it speaks Mastodon, else
    ActivityPub): a settled result, why it could not be had, or None for a local status."""
    uri = _str(status.get("uri")) or _str(status.get("url"))
    if uri is None or urlsplit(uri).netloc.lower() == viewer:
        return None
    origin = parse_url(uri)
    try:
        if origin is not None and origin.kind == "api":
            response = attempts.get(f"https://{origin.host}/api/v1/statuses/{origin.id}")
            _rate_limit(attempts, response)
            data = _status_from_api(response)
            if data is not None:
                post = parse_status(data, api_host=origin.host, via="api-origin")
                return attempts.ok(post, response)
            if _gone_from_api(response):
                return attempts.gone(
                    f"The post was deleted on its origin server {origin.host} "
                    f"(a stale copy remains on {viewer}).",
                    response,
                    "api-origin",
                )
        result, problem = _fetch_activity(attempts, uri)
    except RateLimited:
        raise
    except FetchError as exc:
        # The uri comes from the remote server's data; the Fetcher's guard may refuse it.
        return f"origin copy at {uri} could not be fetched: {exc}"
    return result if result is not None else f"origin copy at {uri}: {problem}"


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """Fetch a fediverse post: `/api/v1/statuses/<id>` (origin copy for remote posts), then
    ActivityPub. 404/410/Tombstone → gone; 401 → failed (authorised fetch); 429 → RateLimited."""
    ref = parse_url(url)
    if ref is None:
        raise ParseError(f"{url} is not a fediverse post URL (/@user/<id>, /notice/<id>, …).")
    attempts = Attempts(fetcher)
    problems: list[str] = []
    if ref.kind == "api":
        response = attempts.get(f"https://{ref.host}/api/v1/statuses/{ref.id}")
        _rate_limit(attempts, response)
        data = _status_from_api(response)
        if data is not None:
            post = parse_status(data, api_host=ref.host)
            origin = _origin_copy(attempts, data.get("reblog") or data, ref.host)
            # Deleted at the origin means gone, however stale the copy on this server.
            if isinstance(origin, PostResult):
                return origin
            if origin is not None:
                post = replace(post, extra={**post.extra, "origin_error": origin})
            return attempts.ok(post, response)
        if _gone_from_api(response):
            return attempts.gone(
                f"{ref.host} says status {ref.id} does not exist or is not public "
                f"(HTTP {response.status}).",
                response,
                "api",
            )
        if response.status == 401:
            problems.append("server requires authorised fetch (API answered HTTP 401)")
        else:
            problems.append(f"API answered {response.status} {response.content_type or ''}".strip())
    activity_url = ref.url
    if ref.kind == "api" and ref.user and not ref.remote and "/users/" not in ref.url:
        activity_url = f"https://{ref.host}/users/{ref.user}/statuses/{ref.id}"
    result, problem = _fetch_activity(attempts, activity_url)
    if result is not None:
        return result
    problems.append(problem)
    if any("authorised fetch" in p for p in problems):
        return attempts.failed(
            f"{ref.host}: server requires authorised fetch; the post cannot be read without an "
            f"account on a federating server ({'; '.join(problems)})."
        )
    return attempts.failed(f"No fediverse route answered for {url}: {'; '.join(problems)}.")
