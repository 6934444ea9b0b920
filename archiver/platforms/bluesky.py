"""Bluesky through the public AppView (`public.api.bsky.app`), which needs no account."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from archiver.errors import ParseError
from archiver.model import Author, Media, Platform, Post, PostResult
from archiver.platforms._route import Attempts, json_object, mapping, parse_timestamp

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.BLUESKY
APPVIEW = "https://public.api.bsky.app"

_HOSTS = frozenset(
    {"bsky.app", "main.bsky.dev", "fxbsky.app", "vxbsky.app", "bskyx.app", "bskye.app", "cbsky.app"}
)
_ACTOR = r"(?:did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9.-]+)"
_RKEY = r"[A-Za-z0-9._~:-]{1,512}"
_WEB_PATH = re.compile(rf"^/profile/(?P<actor>{_ACTOR})/post/(?P<rkey>{_RKEY})/?$")
_AT_URI = re.compile(rf"^at://(?P<actor>{_ACTOR})/app\.bsky\.feed\.post/(?P<rkey>{_RKEY})/?$")
_URLISH = re.compile(r"^(?:https?://|www\.)\S+$|^[\w-]+(?:\.[\w-]+)+(?:/\S*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class PostRef:
    #: A handle (`alice.bsky.social`) or a DID (`did:plc:…`).
    actor: str
    rkey: str


def parse_url(url: str) -> PostRef | None:
    """The post a bsky.app (or mirror, or `at://`) URL names, else None."""
    url = url.strip()
    found = _AT_URI.match(url)
    if found is None:
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        host = (parts.hostname or "").lower().removeprefix("www.")
        if parts.scheme not in {"http", "https"} or host not in _HOSTS:
            return None
        found = _WEB_PATH.match(parts.path)
    if found is None:
        return None
    return PostRef(actor=found["actor"], rkey=found["rkey"])


def match(url: str) -> bool:
    """Is this a Bluesky post URL (bsky.app, its embed-fixer mirrors, or an `at://` URI)?"""
    return parse_url(url) is not None


def web_url(at_uri: str, handle: str | None = None) -> str:
    """The bsky.app address of a post's AT-URI, naming the author by handle when known."""
    found = _AT_URI.match(at_uri)
    if found is None:
        return at_uri
    actor = handle if handle and handle != "handle.invalid" else found["actor"]
    return f"https://bsky.app/profile/{actor}/post/{found['rkey']}"


# --- pure parsers -------------------------------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def expand_facets(text: str, facets: object) -> tuple[str, tuple[str, ...]]:
    """Replace URL-looking link facet text with the facet's full `uri`; list those URIs.

    Facet offsets count UTF-8 bytes, and the visible text of a link may be truncated
    (`www.vibe.com/lists/kendri...`): only the facet `uri` holds the real target.
    """
    raw = text.encode("utf-8")
    spans: list[tuple[int, int, str]] = []
    links: list[str] = []
    for facet in facets if isinstance(facets, list) else ():
        if not isinstance(facet, Mapping) or not isinstance(facet.get("index"), Mapping):
            continue
        start, end = facet["index"].get("byteStart"), facet["index"].get("byteEnd")
        for feature in facet.get("features") or ():
            uri = _str(feature.get("uri")) if isinstance(feature, Mapping) else None
            if uri is None or not str(feature.get("$type", "")).endswith("#link"):
                continue
            if uri not in links:
                links.append(uri)
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw):
                spans.append((start, end, uri))
    out: list[bytes] = []
    cursor = 0
    for start, end, uri in sorted(spans):
        if start < cursor:
            continue  # overlapping facets: keep the first
        visible = raw[start:end].decode("utf-8", errors="replace").strip()
        out.append(raw[cursor:start])
        expandable = _URLISH.match(visible.rstrip("…").removesuffix("...")) is not None
        out.append(uri.encode("utf-8") if expandable else raw[start:end])
        cursor = end
    out.append(raw[cursor:])
    return b"".join(out).decode("utf-8", errors="replace"), tuple(links)


def _author(view: Mapping[str, Any]) -> Author:
    handle = _str(view.get("handle"))
    did = _str(view.get("did"))
    return Author(
        name=_str(view.get("displayName")) or handle,
        handle=f"@{handle}" if handle else did,
        url=f"https://bsky.app/profile/{handle or did}" if handle or did else None,
    )


def _embed(
    view: object, links: list[str], media: list[Media], extra: dict[str, Any]
) -> tuple[str | None, tuple[Post, ...]]:
    """Read one hydrated embed view into links/media/extra; return (quote_of, embedded)."""
    if not isinstance(view, Mapping):
        return None, ()
    kind = str(view.get("$type", ""))
    if kind.startswith("app.bsky.embed.images") or kind.startswith("app.bsky.embed.gallery"):
        for image in view.get("images") or view.get("items") or ():
            if not isinstance(image, Mapping) or not _str(image.get("fullsize")):
                continue
            ratio = mapping(image.get("aspectRatio"))
            media.append(
                Media(
                    url=image["fullsize"],
                    type="image",
                    alt=_str(image.get("alt")),
                    width=_int(ratio.get("width")),
                    height=_int(ratio.get("height")),
                    preview_url=_str(image.get("thumb")),
                )
            )
    elif kind.startswith("app.bsky.embed.video"):
        if _str(view.get("playlist")):
            ratio = mapping(view.get("aspectRatio"))
            media.append(
                Media(
                    url=view["playlist"],
                    type="video",
                    alt=_str(view.get("alt")),
                    width=_int(ratio.get("width")),
                    height=_int(ratio.get("height")),
                    preview_url=_str(view.get("thumbnail")),
                )
            )
    elif kind.startswith("app.bsky.embed.external"):
        card = view.get("external")
        if isinstance(card, Mapping) and _str(card.get("uri")):
            if card["uri"] not in links:
                links.append(card["uri"])
            extra["card"] = {k: card.get(k) for k in ("uri", "title", "description", "thumb")}
    elif kind.startswith("app.bsky.embed.recordWithMedia"):
        _embed(view.get("media"), links, media, extra)
        return _embed(view.get("record"), links, media, extra)
    elif kind.startswith("app.bsky.embed.record"):
        record = view.get("record")
        if not isinstance(record, Mapping):
            return None, ()
        rtype = str(record.get("$type", ""))
        uri = _str(record.get("uri"))
        if rtype.endswith("#viewRecord"):
            quoted = _post_from_parts(
                uri=uri or "",
                author=record.get("author"),
                record=record.get("value"),
                embeds=record.get("embeds"),
                counts=record,
                indexed_at=record.get("indexedAt"),
                via="embedded",
            )
            return quoted.url, (quoted,)
        state = {
            "#viewNotFound": "not-found",
            "#viewBlocked": "blocked",
            "#viewDetached": "detached",
        }
        for suffix, name in state.items():
            if rtype.endswith(suffix):
                extra["quote_state"] = name
                return (web_url(uri) if uri else None), ()
        # Feed generators, lists, starter packs, labelers: record what was embedded.
        extra["embedded_record"] = {"type": rtype, "uri": uri}
    return None, ()


def _post_from_parts(
    *,
    uri: str,
    author: object,
    record: object,
    embeds: object,
    counts: Mapping[str, Any],
    indexed_at: object,
    via: str,
) -> Post:
    if not isinstance(author, Mapping) or not isinstance(record, Mapping):
        raise ParseError(f"Bluesky post {uri or '(no uri)'} lacks its author or record.")
    text, links_found = expand_facets(_str(record.get("text")) or "", record.get("facets"))
    links = list(links_found)
    media: list[Media] = []
    extra: dict[str, Any] = {"at_uri": uri, "did": _str(author.get("did"))}
    quote_of: str | None = None
    embedded: tuple[Post, ...] = ()
    views = embeds if isinstance(embeds, list) else [embeds] if embeds else []
    for view in views:
        q, e = _embed(view, links, media, extra)
        quote_of, embedded = quote_of or q, embedded + e
    if quote_of is None and isinstance(record.get("embed"), Mapping):
        # No hydrated view (e.g. the quoted post's own quote): the raw record still names it.
        inner = record["embed"].get("record")
        if isinstance(inner, Mapping) and isinstance(inner.get("record"), Mapping):
            inner = inner["record"]  # recordWithMedia
        if isinstance(inner, Mapping) and _str(inner.get("uri")):
            quote_of = web_url(inner["uri"])
    reply = record.get("reply")
    reply_to = None
    if isinstance(reply, Mapping) and isinstance(reply.get("parent"), Mapping):
        parent_uri = _str(reply["parent"].get("uri"))
        reply_to = web_url(parent_uri) if parent_uri else None
        root = reply.get("root")
        if isinstance(root, Mapping) and _str(root.get("uri")):
            extra["reply_root"] = web_url(root["uri"])
    if indexed_at:
        extra["indexed_at"] = indexed_at
    for key in ("replyCount", "repostCount", "likeCount", "quoteCount", "bookmarkCount"):
        if _int(counts.get(key)) is not None:
            extra[key] = counts[key]
    labels = [
        label.get("val")
        for source in (counts.get("labels"), author.get("labels"))
        for label in (source if isinstance(source, list) else ())
        if isinstance(label, Mapping)
    ]
    if labels:
        extra["labels"] = labels
    langs = record.get("langs")
    if isinstance(langs, list) and len(langs) > 1:
        extra["langs"] = langs
    handle = _str(author.get("handle"))
    return Post(
        platform=PLATFORM,
        id=uri.rstrip("/").rsplit("/", 1)[-1],
        url=web_url(uri, handle),
        author=_author(author),
        text=text,
        via=via,
        # createdAt is what the client declared (it can be back-dated); indexedAt is in extra.
        created_at=parse_timestamp(record.get("createdAt")),
        lang=_str(langs[0]) if isinstance(langs, list) and langs else None,
        links=tuple(links),
        media=tuple(media),
        reply_to=reply_to,
        quote_of=quote_of,
        embedded=embedded,
        extra=extra,
    )


def parse_post_view(view: Mapping[str, Any], *, via: str = "getPostThread") -> Post:
    """An `app.bsky.feed.defs#postView` → Post (text with facets expanded, embeds read)."""
    if not _str(view.get("uri")):
        raise ParseError("Bluesky postView has no 'uri'.")
    return _post_from_parts(
        uri=view["uri"],
        author=view.get("author"),
        record=view.get("record"),
        embeds=view.get("embed"),
        counts=view,
        indexed_at=view.get("indexedAt"),
        via=via,
    )


def thread_state(data: Mapping[str, Any]) -> str:
    """'post', 'not-found' or 'blocked' for a getPostThread answer."""
    thread = data.get("thread")
    if not isinstance(thread, Mapping):
        raise ParseError("getPostThread answer has no 'thread'.")
    kind = str(thread.get("$type", ""))
    if kind.endswith("#notFoundPost") or thread.get("notFound") is True:
        return "not-found"
    if kind.endswith("#blockedPost") or thread.get("blocked") is True:
        return "blocked"
    if isinstance(thread.get("post"), Mapping):
        return "post"
    raise ParseError(f"getPostThread answered an unknown thread type {kind!r}.")


def parse_thread(data: Mapping[str, Any], *, via: str = "getPostThread") -> Post:
    """A getPostThread answer → the post, with its parent (if delivered) embedded."""
    if thread_state(data) != "post":
        raise ParseError("getPostThread answer holds no post (not found or blocked).")
    thread = data["thread"]
    post = parse_post_view(thread["post"], via=via)
    parent = thread.get("parent")
    if not isinstance(parent, Mapping):
        return post
    extra = dict(post.extra)
    parent_type = str(parent.get("$type", ""))
    if isinstance(parent.get("post"), Mapping):
        parent_post = parse_post_view(parent["post"], via="embedded")
        return replace(post, reply_to=parent_post.url, embedded=(*post.embedded, parent_post))
    if parent_type.endswith("#notFoundPost"):
        extra["parent_state"] = "not-found"
    elif parent_type.endswith("#blockedPost"):
        extra["parent_state"] = "blocked"
    return replace(post, extra=extra)


# --- fetching -----------------------------------------------------------------------------------


def _check_rate_limit(attempts: Attempts, response: Response) -> None:
    if response.status == 429:
        reset = response.header("ratelimit-reset")
        reset_at = None
        if reset and reset.strip().isdigit():
            reset_at = datetime.fromtimestamp(int(reset.strip()), UTC)
        raise attempts.rate_limited(response, reset_at, "Bluesky AppView")


def _is_not_found(response: Response) -> bool:
    data = json_object(response.body)
    return response.status == 400 and data is not None and data.get("error") == "NotFound"


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """resolveHandle (for handles) → getPostThread. HTTP 400 NotFound and notFoundPost → gone."""
    ref = parse_url(url)
    if ref is None:
        raise ParseError(f"{url} is not a Bluesky post URL (bsky.app/profile/<who>/post/<rkey>).")
    attempts = Attempts(fetcher)
    did = ref.actor
    if not did.startswith("did:"):
        response = attempts.get(
            f"{APPVIEW}/xrpc/com.atproto.identity.resolveHandle?handle={quote(ref.actor)}"
        )
        _check_rate_limit(attempts, response)
        data = json_object(response.body)
        if response.status == 200 and data is not None and _str(data.get("did")):
            did = data["did"]
        elif response.status == 400:
            return attempts.gone(
                f"Bluesky handle {ref.actor} does not resolve to an account "
                "(deleted, or the handle changed).",
                response,
                "resolveHandle",
            )
        else:
            return attempts.failed(
                f"Bluesky resolveHandle for {ref.actor} answered HTTP {response.status}.",
                "resolveHandle",
            )
    at_uri = f"at://{did}/app.bsky.feed.post/{ref.rkey}"
    response = attempts.get(
        f"{APPVIEW}/xrpc/app.bsky.feed.getPostThread?uri={quote(at_uri, safe='')}"
        "&depth=0&parentHeight=1"
    )
    _check_rate_limit(attempts, response)
    if _is_not_found(response) or response.status == 404:
        return attempts.gone(
            f"Bluesky says {at_uri} was not found (deleted).", response, "getPostThread"
        )
    data = json_object(response.body)
    if response.status != 200 or data is None:
        return attempts.failed(
            f"Bluesky getPostThread for {at_uri} answered HTTP {response.status}.", "getPostThread"
        )
    try:
        state = thread_state(data)
    except ParseError as exc:
        return attempts.failed(f"Bluesky getPostThread for {at_uri}: {exc}", "getPostThread")
    if state == "not-found":
        return attempts.gone(
            f"Bluesky says {at_uri} was not found (deleted).", response, "getPostThread"
        )
    if state == "blocked":
        return attempts.failed(
            f"Bluesky reports {at_uri} as blocked; it cannot be read without an account.",
            "getPostThread",
        )
    try:
        return attempts.ok(parse_thread(data), response)
    except ParseError as exc:
        return attempts.failed(f"Bluesky getPostThread for {at_uri}: {exc}", "getPostThread")
