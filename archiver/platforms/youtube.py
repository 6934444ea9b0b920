"""YouTube videos: oEmbed for title and channel, the watch page for everything else.

The video itself is listed as media (the watch URL), never downloaded here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

from bs4 import BeautifulSoup

from archiver.errors import FetchError, ParseError, RateLimited
from archiver.model import Author, Media, Platform, Post, PostResult
from archiver.platforms._richtext import urls_in_text
from archiver.platforms._route import Attempts, json_object, mapping, parse_timestamp

if TYPE_CHECKING:
    from archiver.fetch import Fetcher

PLATFORM = Platform.YOUTUBE
BASE = "https://www.youtube.com"
#: Declines the EU consent wall the way a visitor pressing "reject all" would.
CONSENT_COOKIE = "SOCS=CAI"

_ID = re.compile(r"^[0-9A-Za-z_-]{11}$")
_WATCH_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtubekids.com",
     "www.youtubekids.com", "youtube-nocookie.com", "www.youtube-nocookie.com",
     "youtube.googleapis.com"}
)  # fmt: skip
_PATH_ID = re.compile(r"^/(?:shorts|live|embed|v|e)/(?P<id>[0-9A-Za-z_-]{11})(?:[/?#]|$)")


def video_id(url: str) -> str | None:
    """The 11-character video ID a YouTube URL names, else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"}:
        return None
    if host in {"youtu.be", "www.youtu.be"}:
        candidate = parts.path.strip("/").split("/")[0]
        return candidate if _ID.match(candidate) else None
    if host not in _WATCH_HOSTS:
        return None
    if parts.path.rstrip("/") == "/watch":
        values = parse_qs(parts.query).get("v", [])
        return values[0] if values and _ID.match(values[0]) else None
    found = _PATH_ID.match(parts.path)
    return found["id"] if found else None


def match(url: str) -> bool:
    """Is this a YouTube video URL (watch, youtu.be, shorts, live, embed, mobile, music, …)?"""
    return video_id(url) is not None


def watch_url(vid: str) -> str:
    """The canonical watch URL (share tracking such as `si`, `feature`, `pp` dropped)."""
    return f"{BASE}/watch?v={vid}"


def oembed_url(vid: str) -> str:
    return f"{BASE}/oembed?url={quote(watch_url(vid), safe='')}&format=json"


# --- pure parsers -------------------------------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _handle(url: str | None) -> str | None:
    path = urlsplit(url or "").path
    return path.strip("/").split("/")[0] if path.startswith("/@") else None


def _video_media(vid: str, *, thumbnail: str | None, duration_ms: int | None = None,
                 width: int | None = None, height: int | None = None) -> Media:  # fmt: skip
    return Media(
        url=watch_url(vid),
        type="video",
        width=width,
        height=height,
        duration_ms=duration_ms,
        preview_url=thumbnail,
    )


def parse_oembed(data: Mapping[str, Any], *, video_id: str) -> Post:
    """YouTube oEmbed (title, channel, thumbnail; no date or description) → Post."""
    title = _str(data.get("title"))
    if title is None:
        raise ParseError("YouTube oEmbed answer has no 'title'.")
    # 2021 answers gave relative channel URLs (`/user/Scadrei5`).
    author_url = urljoin(BASE + "/", _str(data.get("author_url")) or "") or None
    extra = {
        k: data[k]
        for k in ("thumbnail_url", "thumbnail_width", "thumbnail_height", "html", "provider_name")
        if k in data
    }
    return Post(
        platform=PLATFORM,
        id=video_id,
        url=watch_url(video_id),
        author=Author(
            name=_str(data.get("author_name")),
            handle=_handle(author_url),
            url=author_url if author_url != BASE + "/" else None,
        ),
        text="",
        via="oembed",
        title=title,
        media=(_video_media(video_id, thumbnail=_str(data.get("thumbnail_url"))),),
        extra=extra,
    )


def is_consent_page(final_url: str, page: str | bytes) -> bool:
    """The EU consent interstitial instead of the video (redirect to consent.youtube.com)."""
    if (urlsplit(final_url).hostname or "").lower() == "consent.youtube.com":
        return True
    head = page[:400_000] if isinstance(page, str) else page[:400_000].decode("utf-8", "replace")
    has_player = "ytInitialPlayerResponse" in head
    return not has_player and (
        "consent.youtube.com" in head or "Before you continue to YouTube" in head
    )


def _json_after(page: str, marker: str) -> dict[str, Any] | None:
    """The JSON object assigned right after `marker` in an inline script."""
    start = page.find(marker)
    while start != -1:
        brace = page.find("{", start + len(marker))
        if brace != -1 and page[start + len(marker) : brace].strip(" =\t\n") == "":
            try:
                value, _ = json.JSONDecoder().raw_decode(page, brace)
            except ValueError:
                value = None
            if isinstance(value, dict):
                return value
        start = page.find(marker, start + 1)
    return None


def player_response(page: str | bytes) -> dict[str, Any] | None:
    """`ytInitialPlayerResponse` from a watch page, or None when the page has none."""
    text = page if isinstance(page, str) else page.decode("utf-8", "replace")
    return _json_after(text, "ytInitialPlayerResponse")


def playability(page: str | bytes) -> tuple[str | None, str | None]:
    """(status, reason) from the player response: OK, ERROR, LOGIN_REQUIRED, UNPLAYABLE …"""
    player = player_response(page)
    status = player.get("playabilityStatus") if player else None
    if not isinstance(status, Mapping):
        return None, None
    return _str(status.get("status")), _str(status.get("reason"))


def _published(value: str | None) -> tuple[datetime | None, str | None]:
    """A publish time and its precision: "second" with an offset, "day" for a bare date."""
    if not value:
        return None, None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        # A bare date is US/Pacific by YouTube's reckoning; keep it as a day, not an instant.
        return datetime.fromisoformat(value).replace(tzinfo=UTC), "day"
    parsed = parse_timestamp(value)
    return parsed, "second" if parsed else None


def parse_watch_page(
    page: str | bytes, *, video_id: str, oembed: Mapping[str, Any] | None = None
) -> Post:
    """A watch page (player response, microformat, meta tags), merged over the oEmbed answer."""
    text_page = page if isinstance(page, str) else page.decode("utf-8", "replace")
    player = player_response(text_page)
    if player is None:
        raise ParseError(f"YouTube watch page for {video_id} has no ytInitialPlayerResponse.")
    details = mapping(player.get("videoDetails"))
    micro = mapping(mapping(player.get("microformat")).get("playerMicroformatRenderer"))
    if details and details.get("videoId") not in (None, video_id):
        raise ParseError(f"YouTube watch page is for {details.get('videoId')}, not {video_id}.")
    if not details and not micro:
        # Bot checks ("Sign in to confirm you're not a bot") and private videos look like this.
        playable = mapping(player.get("playabilityStatus"))
        raise ParseError(
            f"YouTube watch page for {video_id} holds no video details (playability "
            f"{playable.get('status')}: {playable.get('reason') or 'no reason given'})."
        )
    base = parse_oembed(oembed, video_id=video_id) if oembed else None

    soup = BeautifulSoup(text_page[:2_000_000], "lxml")

    def itemprop(name: str) -> str | None:
        tag = soup.find("meta", attrs={"itemprop": name})
        value = tag.get("content") if tag is not None else None
        return value if isinstance(value, str) and value else None

    title_info = mapping(micro.get("title"))
    title = (
        _str(details.get("title"))
        or _str(title_info.get("simpleText"))
        or (base.title if base else None)
    )
    description = _str(details.get("shortDescription"))
    if description is None:
        desc_info = mapping(micro.get("description"))
        description = _str(desc_info.get("simpleText")) or ""
    created_at, precision = _published(
        _str(micro.get("publishDate")) or itemprop("datePublished")
        or _str(micro.get("uploadDate")) or itemprop("uploadDate")
    )  # fmt: skip
    channel_id = _str(details.get("channelId")) or _str(micro.get("externalChannelId"))
    owner_url = _str(micro.get("ownerProfileUrl"))
    if owner_url:
        owner_url = owner_url.replace("http://", "https://", 1)
    author_url = (
        (base.author.url if base else None)
        or owner_url
        or (f"{BASE}/channel/{channel_id}" if channel_id else None)
    )
    author = Author(
        name=_str(details.get("author")) or _str(micro.get("ownerChannelName"))
        or (base.author.name if base else None),
        handle=_handle(author_url) or _handle(owner_url),
        url=author_url,
    )  # fmt: skip
    length = details.get("lengthSeconds") or micro.get("lengthSeconds")
    seconds = int(length) if isinstance(length, str | int) and str(length).isdigit() else None
    thumbs = (
        details.get("thumbnail", {}).get("thumbnails")
        if isinstance(details.get("thumbnail"), Mapping)
        else None
    )
    best = (
        thumbs[-1]
        if isinstance(thumbs, list) and thumbs and isinstance(thumbs[-1], Mapping)
        else {}
    )
    thumbnail = _str(best.get("url")) or (base.extra.get("thumbnail_url") if base else None)

    extra: dict[str, Any] = dict(base.extra) if base else {}
    views = details.get("viewCount") or micro.get("viewCount")
    if isinstance(views, str) and views.isdigit():
        extra["view_count"] = int(views)
    if seconds is not None:
        extra["length_seconds"] = seconds
    if channel_id:
        extra["channel_id"] = channel_id
    if precision:
        extra["created_at_precision"] = precision
    for key, source, out in (
        ("keywords", details, "keywords"), ("isLiveContent", details, "is_live_content"),
        ("category", micro, "category"), ("uploadDate", micro, "upload_date"),
        ("publishDate", micro, "publish_date"), ("isFamilySafe", micro, "is_family_safe"),
    ):  # fmt: skip
        if source.get(key) not in (None, "", []):
            extra[out] = source[key]
    if isinstance(thumbs, list):
        extra["thumbnails"] = thumbs
    status = player.get("playabilityStatus")
    if isinstance(status, Mapping):
        extra["playability"] = {"status": status.get("status"), "reason": status.get("reason")}

    return Post(
        platform=PLATFORM,
        id=video_id,
        url=watch_url(video_id),
        author=author,
        text=description,
        via="oembed+watch" if base else "watch",
        created_at=created_at,
        links=urls_in_text(description),
        media=(
            _video_media(
                video_id,
                thumbnail=thumbnail if isinstance(thumbnail, str) else None,
                duration_ms=seconds * 1000 if seconds is not None else None,
            ),
        ),
        title=title,
        extra=extra,
    )


# --- fetching -----------------------------------------------------------------------------------

_GONE_REASONS = (
    "removed",
    "terminated",
    "does not exist",
    "no longer available",
    "available anymore",
)


def _says_gone(status: str | None, reason: str | None) -> bool:
    """A player status that means the video is gone, not merely hidden from this visitor."""
    text = (reason or "").strip().lower()
    if status not in {"ERROR", "UNPLAYABLE"} or "country" in text or "private" in text:
        return False
    return text.rstrip(".") == "video unavailable" or any(w in text for w in _GONE_REASONS)


def _consent_host(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() == "consent.youtube.com"


def _watch_page(
    attempts: Attempts, vid: str, oembed: Mapping[str, Any] | None, warnings: list[str]
) -> PostResult | str:
    """The watch-page route: a settled result, or why the page gave no video."""
    try:
        page = attempts.get(watch_url(vid), headers={"Cookie": CONSENT_COOKIE}, stop=_consent_host)
    except RateLimited:
        raise
    except FetchError as exc:
        return f"the watch page could not be fetched ({exc})"
    if page.status == 429:
        raise attempts.rate_limited(page, None, "YouTube")
    if page.stopped or is_consent_page(page.final_url, page.body):
        return "the watch page answered with the consent interstitial, not the video"
    if page.status == 404:
        return attempts.gone(f"YouTube video {vid} does not exist (watch page 404).", page, "watch")
    if page.status != 200:
        return f"the watch page answered HTTP {page.status}"
    status, reason = playability(page.body)
    if _says_gone(status, reason) and oembed is None:
        return attempts.gone(f"YouTube says '{reason}' for video {vid}.", page, "watch")
    try:
        post = parse_watch_page(page.body, video_id=vid, oembed=oembed)
    except ParseError as exc:
        return f"the watch page could not be read ({exc})"
    if status not in (None, "OK"):
        warnings.append(f"playability {status}: {reason or 'no reason given'}")
    if warnings:
        post = replace(post, extra={**post.extra, "warnings": warnings})
    return attempts.ok(post, page)


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """oEmbed, then the watch page (with the consent cookie) for date, description, duration.

    404 → gone; oEmbed 401 = embedding disabled (the watch page still answers); a non-JSON
    "Forbidden" → private. A consent or bot wall leaves an oEmbed-only post with a warning.
    """
    vid = video_id(url)
    if vid is None:
        raise ParseError(f"{url} is not a YouTube video URL (watch?v=<id>, youtu.be/<id>, …).")
    attempts = Attempts(fetcher)
    response = attempts.get(oembed_url(vid))
    if response.status == 429:
        raise attempts.rate_limited(response, None, "YouTube oEmbed")
    oembed = json_object(response.body)
    warnings: list[str] = []
    if response.status == 404:
        return attempts.gone(
            f"YouTube video {vid} does not exist or was removed (oEmbed 404).", response, "oembed"
        )
    if oembed is None or response.status != 200:
        body = response.body[:200].decode("utf-8", "replace").strip()
        if response.status == 401:
            warnings.append("embedding is disabled for this video (oEmbed answered 401)")
        elif response.status == 403 or body.lower() == "forbidden":
            return attempts.failed(
                f"YouTube video {vid} is private (oEmbed answered 'Forbidden'); it cannot be "
                "read without the owner's permission.",
                "oembed",
            )
        else:
            warnings.append(f"oEmbed answered HTTP {response.status}")
        oembed_response = None
        oembed = None
    else:
        oembed_response = response

    outcome = _watch_page(attempts, vid, oembed, warnings)
    if isinstance(outcome, PostResult):
        return outcome
    warnings.append(outcome)
    if oembed is not None and oembed_response is not None:
        post = parse_oembed(oembed, video_id=vid)
        return attempts.ok(
            replace(post, extra={**post.extra, "warnings": warnings}), oembed_response
        )
    return attempts.failed(f"YouTube video {vid}: {'; '.join(warnings)}.", "watch")
