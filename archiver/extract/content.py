"""The article itself: main text, the links and media inside it, and embedded posts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit, urlunsplit

from lxml.html import HtmlElement

from archiver.extract.metadata import absolute_url
from archiver.model import Media

_BOILERPLATE_TAGS = frozenset({"nav", "footer", "aside", "form", "button", "select"})
_BOILERPLATE_ATTR = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|footer|sidebar|related|recommend\w*|share|sharing|"
    r"social|comments?|promo|newsletter|advert\w*|ads?|breadcrumbs?|more-stories|trending|"
    r"popular|subscribe|paywall|cookie\w*|outbrain|taboola)(?:$|[\s_-])",
    re.I,
)
_BLOCK_TAGS = (
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "td",
    "dd",
    "dt",
    "pre",
    "figcaption",
    "div",
    "section",
)
_TWEET = re.compile(
    r"^https?://(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/]+/status(?:es)?/\d+", re.I
)
_YOUTUBE_ID = re.compile(r"^/embed/([A-Za-z0-9_-]{6,})")
_BSKY_AT = re.compile(r"^at://(did:[^/]+|[^/]+)/app\.bsky\.feed\.post/([A-Za-z0-9]+)")


def _boilerplate(elem: HtmlElement, stop: HtmlElement | None = None) -> bool:
    """Is `elem` inside navigation, a footer, an aside or a widget named like one?"""
    node: HtmlElement | None = elem
    while node is not None and node is not stop:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _BOILERPLATE_TAGS:
            return True
        if tag in ("body", "html"):
            return False
        attrs = f"{node.get('class', '')} {node.get('id', '')} {node.get('role', '')}"
        if attrs.strip() and _BOILERPLATE_ATTR.search(attrs):
            return True
        node = node.getparent()
    return False


def _squash(text: str) -> str:
    return "".join(text.split())


def content_blocks(tree: HtmlElement, text: str) -> list[HtmlElement]:
    """Leaf-most block elements of the HTML whose text is part of the extracted main text."""
    squashed = _squash(text)
    if not squashed:
        return []
    blocks: list[HtmlElement] = []
    for elem in tree.iter(*_BLOCK_TAGS):
        if elem.tag in ("div", "section") and any(
            child.tag in _BLOCK_TAGS for child in elem.iterchildren()
        ):
            continue
        block = _squash(elem.text_content())
        if len(block) >= 12 and block in squashed and not _boilerplate(elem):
            blocks.append(elem)
    return blocks


def content_root(blocks: list[HtmlElement]) -> HtmlElement | None:
    """Deepest element holding most of the content blocks: where the article lives."""
    if not blocks:
        return None
    counts: Counter[HtmlElement] = Counter()
    depth: dict[HtmlElement, int] = {}
    for block in blocks:
        ancestors = list(block.iterancestors())
        for level, anc in enumerate(reversed(ancestors)):
            counts[anc] += 1
            depth[anc] = level
    need = max(1, int(len(blocks) * 0.7))
    candidates = [anc for anc, n in counts.items() if n >= need]
    if not candidates:
        return None
    return max(candidates, key=lambda anc: depth[anc])


def _strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def _absolute(base: str, href: str | None) -> str | None:
    return absolute_url(base, href)


def content_links(blocks: Iterable[HtmlElement], base: str) -> tuple[str, ...]:
    """Absolute http(s) links inside the content blocks, in order, without fragments or repeats."""
    links: dict[str, None] = {}
    page = _strip_fragment(base)
    for block in blocks:
        for anchor in block.iter("a"):
            url = _absolute(base, anchor.get("href"))
            if url:
                url = _strip_fragment(url)
                if url != page:
                    links.setdefault(url, None)
    return tuple(links)


def _embed_from_iframe(src: str) -> str | None:
    parts = urlsplit(src)
    host = parts.netloc.lower().removeprefix("www.")
    if host in ("youtube.com", "youtube-nocookie.com", "m.youtube.com"):
        match = _YOUTUBE_ID.match(parts.path)
        return f"https://www.youtube.com/watch?v={match.group(1)}" if match else None
    if host == "player.vimeo.com" and parts.path.startswith("/video/"):
        return "https://vimeo.com/" + parts.path.removeprefix("/video/").strip("/")
    if host in ("platform.twitter.com", "platform.x.com"):
        ids = parse_qs(parts.query).get("id")
        return f"https://twitter.com/i/status/{ids[0]}" if ids and ids[0].isdigit() else None
    if host == "embed.bsky.app":
        match = _BSKY_AT.match("at://" + parts.path.removeprefix("/embed/"))
        if match:
            return f"https://bsky.app/profile/{match.group(1)}/post/{match.group(2)}"
        return None
    if host == "instagram.com" and re.match(r"^/(?:p|reel|tv)/[^/]+", parts.path):
        path = re.sub(r"/embed(?:/captioned)?/?$", "/", parts.path)
        return urlunsplit(("https", "www.instagram.com", path, "", ""))
    if host == "tiktok.com" and "/embed" in parts.path:
        video = re.search(r"/(\d{8,})", parts.path)
        return f"https://www.tiktok.com/embed/v2/{video.group(1)}" if video else None
    if host == "facebook.com" and parts.path.startswith("/plugins/"):
        hrefs = parse_qs(parts.query).get("href")
        return hrefs[0] if hrefs and hrefs[0].startswith("http") else None
    # Mastodon serves its embeds at https://<instance>/@user/<id>/embed.
    if re.match(r"^/@[^/]+/\d+/embed/?$", parts.path):
        return urlunsplit(("https", parts.netloc, re.sub(r"/embed/?$", "", parts.path), "", ""))
    return None


def _last_matching(elem: HtmlElement, base: str, pattern: re.Pattern[str]) -> str | None:
    found = None
    for anchor in elem.iter("a"):
        url = _absolute(base, anchor.get("href"))
        if url and pattern.match(url):
            found = url
    return found


def embedded_posts(tree: HtmlElement, base: str) -> tuple[str, ...]:
    """Tweets, Instagram/TikTok/Bluesky/Mastodon/Reddit posts and videos embedded in the page."""
    posts: dict[str, None] = {}

    def add(url: str | None) -> None:
        if url:
            posts.setdefault(
                _strip_fragment(url.split("?")[0] if "youtube" not in url else url), None
            )

    for elem in tree.iter("blockquote", "iframe", "script", "div"):
        classes = f" {elem.get('class', '')} ".lower()
        if elem.tag == "blockquote":
            if "twitter-tweet" in classes or "twitter-video" in classes:
                add(_last_matching(elem, base, _TWEET))
            elif "instagram-media" in classes:
                add(
                    _absolute(base, elem.get("data-instgrm-permalink"))
                    or _last_matching(elem, base, re.compile(r"https?://(www\.)?instagram\.com/"))
                )
            elif "tiktok-embed" in classes:
                add(_absolute(base, elem.get("cite")))
            elif "bluesky-embed" in classes:
                match = _BSKY_AT.match(elem.get("data-bluesky-uri") or "")
                if match:
                    add(f"https://bsky.app/profile/{match.group(1)}/post/{match.group(2)}")
                else:
                    add(
                        _last_matching(
                            elem, base, re.compile(r"https://bsky\.app/profile/[^/]+/post/")
                        )
                    )
            elif "mastodon-embed" in classes:
                add(
                    _absolute(base, elem.get("data-embed-url", "").removesuffix("/embed"))
                    or _last_matching(elem, base, re.compile(r"https://[^/]+/@[^/]+/\d+"))
                )
            elif "reddit-embed-bq" in classes or "reddit-card" in classes:
                add(
                    _last_matching(
                        elem, base, re.compile(r"https://(www\.)?reddit\.com/r/[^/]+/comments/")
                    )
                )
        elif elem.tag == "iframe":
            src = _absolute(base, elem.get("src") or elem.get("data-src"))
            if src:
                add(_embed_from_iframe(src))
        elif elem.tag == "script" and elem.get("data-telegram-post"):
            add("https://t.me/" + elem.get("data-telegram-post", "").strip("/"))
    return tuple(posts)


def _image_src(img: HtmlElement) -> str | None:
    for attr in ("src", "data-src", "data-lazy-src", "data-original", "data-url"):
        value = (img.get(attr) or "").strip()
        if value and not value.startswith("data:"):
            return value
    srcset = img.get("srcset") or img.get("data-srcset")
    if srcset:
        last = srcset.split(",")[-1].strip().split(" ")[0]
        return last or None
    return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def content_media(root: HtmlElement | None, base: str) -> tuple[Media, ...]:
    """Images (with alt text) and videos inside the article element, skipping icons and widgets."""
    if root is None:
        return ()
    found: dict[str, Media] = {}
    for elem in root.iter("img", "video"):
        if _boilerplate(elem, stop=root):
            continue
        if elem.tag == "img":
            width, height = _int(elem.get("width")), _int(elem.get("height"))
            if (width is not None and width < 80) or (height is not None and height < 80):
                continue
            url = _absolute(base, _image_src(elem))
            if url and not url.lower().endswith((".svg", ".gif")):
                found.setdefault(
                    url,
                    Media(
                        url=url,
                        type="image",
                        alt=(elem.get("alt") or "").strip() or None,
                        width=width,
                        height=height,
                    ),
                )
        else:
            src = elem.get("src") or next(
                (s.get("src") for s in elem.iter("source") if s.get("src")), None
            )
            url = _absolute(base, src)
            if url:
                found.setdefault(
                    url,
                    Media(url=url, type="video", preview_url=_absolute(base, elem.get("poster"))),
                )
    return tuple(found.values())
