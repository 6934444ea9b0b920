"""Public Telegram channel posts through the embed widget (`t.me/<channel>/<id>?embed=1`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup
from bs4.element import Tag

from archiver.errors import ParseError
from archiver.model import Author, Media, Platform, Post, PostResult
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import Attempts, parse_timestamp

if TYPE_CHECKING:
    from archiver.fetch import Fetcher

PLATFORM = Platform.TELEGRAM

_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog"})
_CHANNEL = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_PUBLIC = re.compile(rf"^/(?:s/)?(?P<channel>{_CHANNEL})/(?P<id>\d+)/?$")
_PRIVATE = re.compile(r"^/c/(?P<channel>\d+)/(?P<id>\d+)/?$")
# Paths that look like /<name>/<n> but are not channels.
_RESERVED = frozenset(
    {"joinchat", "addstickers", "addemoji", "share", "proxy", "socks", "iv", "login"}
)
_BG_URL = re.compile(r"background-image\s*:\s*url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@dataclass(frozen=True)
class PostRef:
    channel: str
    id: str
    #: `t.me/c/<internal-id>/<id>`: only members with an account can read it.
    private: bool = False


def parse_url(url: str) -> PostRef | None:
    """The channel post a t.me/telegram.me URL names, else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or (parts.hostname or "").lower() not in _HOSTS:
        return None
    found = _PRIVATE.match(parts.path)
    if found:
        return PostRef(found["channel"], found["id"], private=True)
    found = _PUBLIC.match(parts.path)
    if found is None or found["channel"].lower() in _RESERVED:
        return None
    return PostRef(found["channel"], found["id"])


def match(url: str) -> bool:
    """Is this a Telegram channel post URL (t.me/<channel>/<id>, t.me/s/…, t.me/c/…)?"""
    return parse_url(url) is not None


def widget_url(ref: PostRef) -> str:
    return f"https://t.me/{ref.channel}/{ref.id}?embed=1&mode=tme"


# --- pure parsers -------------------------------------------------------------------------------


def _cls(name: str) -> dict[str, Any]:
    return {"class_": name}


def _background_url(tag: Tag | None) -> str | None:
    style = tag.get("style") if tag is not None else None
    found = _BG_URL.search(style) if isinstance(style, str) else None
    return found.group(1) if found else None


def widget_error(page: str | bytes) -> str | None:
    """The widget's error text ("Post not found", "Channel is private" …), else None.

    Telegram answers HTTP 200 for these, so the status code never tells.
    """
    soup = BeautifulSoup(page, "lxml")
    error = soup.find(**_cls("tgme_widget_message_error"))
    if error is None:
        return None
    return error.get_text(" ", strip=True) or "Post not found"


def _duration_ms(text: str) -> int | None:
    parts = text.strip().split(":")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds * 1000


def _media(message: Tag, base: str) -> tuple[Media, ...]:
    media: list[Media] = []
    for item in message.find_all(["a", "div"], class_=True):
        classes: list[str] = list(item.get("class") or [])
        if "tgme_widget_message_photo_wrap" in classes:
            url = _background_url(item)
            if url:
                media.append(Media(url=urljoin(base, url), type="image"))
        elif "tgme_widget_message_video_player" in classes:
            video = item.find("video")
            src = video.get("src") if video is not None else None
            duration = item.find(**_cls("message_video_duration"))
            thumb = _background_url(item.find(**_cls("tgme_widget_message_video_thumb")))
            is_gif = "tgme_widget_message_gif" in " ".join(classes) or (
                video is not None and "tgme_widget_message_roundvideo" in (video.get("class") or [])
            )
            if isinstance(src, str) and src:
                media.append(
                    Media(
                        url=urljoin(base, src),
                        type="gif" if is_gif else "video",
                        duration_ms=_duration_ms(duration.get_text()) if duration else None,
                        preview_url=urljoin(base, thumb) if thumb else None,
                    )
                )
            elif thumb:
                # "Media is too big": the widget shows only a thumbnail; the video stays in the app.
                media.append(Media(url=urljoin(base, thumb), type="image", alt="video thumbnail"))
        elif "tgme_widget_message_document_wrap" in classes:
            title = item.find(**_cls("tgme_widget_message_document_title"))
            href = item.get("href")
            media.append(
                Media(
                    url=urljoin(base, href) if isinstance(href, str) and href else base,
                    type="other",
                    alt=title.get_text(strip=True) if title else None,
                )
            )
    return tuple(media)


def parse_widget(page: str | bytes, *, url: str) -> Post:
    """The `?embed=1` widget HTML of one channel post → Post."""
    soup = BeautifulSoup(page, "lxml")
    message = soup.find(**_cls("tgme_widget_message"), attrs={"data-post": True})
    if not isinstance(message, Tag):
        raise ParseError(f"Telegram widget for {url} has no message (div.tgme_widget_message).")
    data_post = str(message.get("data-post"))
    channel, _, post_id = data_post.partition("/")
    post_url = f"https://t.me/{data_post}"

    extra: dict[str, Any] = {}
    reply = message.find(**_cls("tgme_widget_message_reply"))
    reply_to = None
    if isinstance(reply, Tag):
        href = reply.get("href")
        reply_to = urljoin(post_url, href) if isinstance(href, str) and href else None
        reply.extract()  # the quoted parent is not this post's text
    text_el = message.find(**_cls("tgme_widget_message_text"))
    text, links = "", tuple[str, ...]()
    if isinstance(text_el, Tag):
        rich = html_to_text(str(text_el), base_url=post_url)
        text, links = rich.text, rich.links

    owner = message.find(**_cls("tgme_widget_message_owner_name"))
    owner_href = owner.get("href") if isinstance(owner, Tag) else None
    author = Author(
        name=owner.get_text(strip=True) if isinstance(owner, Tag) else None,
        handle=f"@{channel}",
        url=owner_href if isinstance(owner_href, str) and owner_href else f"https://t.me/{channel}",
    )
    signature = message.find(**_cls("tgme_widget_message_from_author"))
    if isinstance(signature, Tag):
        extra["signed_by"] = signature.get_text(strip=True)

    time_el = message.select_one(".tgme_widget_message_date time[datetime]")
    created_at = parse_timestamp(time_el.get("datetime")) if time_el is not None else None
    views = message.find(**_cls("tgme_widget_message_views"))
    if isinstance(views, Tag):
        extra["views"] = views.get_text(strip=True)
    meta = message.find(**_cls("tgme_widget_message_meta"))
    if isinstance(meta, Tag) and "edited" in meta.get_text(" ", strip=True).lower():
        extra["edited"] = True

    forwarded = message.find(**_cls("tgme_widget_message_forwarded_from_name"))
    if isinstance(forwarded, Tag):
        href = forwarded.get("href")
        extra["forwarded_from"] = {
            "name": forwarded.get_text(strip=True),
            "url": href if isinstance(href, str) and href else None,
        }

    preview = message.find(**_cls("tgme_widget_message_link_preview"))
    if isinstance(preview, Tag):
        card: dict[str, str | None] = {"url": None}
        href = preview.get("href")
        card["url"] = href if isinstance(href, str) and href else None
        for key in ("site_name", "title", "description"):
            el = preview.find(**_cls(f"link_preview_{key}"))
            card[key] = el.get_text(" ", strip=True) if isinstance(el, Tag) else None
        image = preview.find(class_=re.compile(r"^link_preview_(?:right_)?image$"))
        card["image"] = _background_url(image if isinstance(image, Tag) else None)
        extra["link_preview"] = card
        if card["url"] and card["url"] not in links:
            links = (*links, card["url"])
        preview.extract()  # its image belongs to the linked page, not to the post

    poll = message.find(**_cls("tgme_widget_message_poll_question"))
    if isinstance(poll, Tag):
        extra["poll"] = {
            "question": poll.get_text(" ", strip=True),
            "options": [
                o.get_text(" ", strip=True)
                for o in message.find_all(**_cls("tgme_widget_message_poll_option_text"))
            ],
        }

    return Post(
        platform=PLATFORM,
        id=post_id,
        url=post_url,
        author=author,
        text=text,
        via="widget",
        created_at=created_at,
        links=links,
        media=_media(message, post_url),
        reply_to=reply_to,
        extra=extra,
    )


# --- fetching -----------------------------------------------------------------------------------


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """The embed widget; its "Post not found" (HTTP 200) → gone; `t.me/c/…` → failed."""
    ref = parse_url(url)
    if ref is None:
        raise ParseError(f"{url} is not a Telegram post URL (t.me/<channel>/<id>).")
    attempts = Attempts(fetcher)
    if ref.private:
        return attempts.failed(
            f"{url} is in a private channel; private channel needs an account (Telegram app).",
            "widget",
        )
    response = attempts.get(widget_url(ref))
    if response.status == 429:
        raise attempts.rate_limited(response, None, "Telegram")
    if response.status == 404:
        return attempts.gone(
            f"Telegram has no post {ref.channel}/{ref.id} (HTTP 404).", response, "widget"
        )
    if response.status != 200:
        return attempts.failed(
            f"Telegram widget for {url} answered HTTP {response.status}.", "widget"
        )
    error = widget_error(response.body)
    if error is not None:
        if "private" in error.lower():
            return attempts.failed(
                f"Telegram says '{error}' for {url}: private channel needs an account.", "widget"
            )
        return attempts.gone(
            f"Telegram says '{error}' for {ref.channel}/{ref.id}.", response, "widget"
        )
    try:
        return attempts.ok(parse_widget(response.body, url=url), response)
    except ParseError as exc:
        return attempts.failed(str(exc), "widget")
