"""The article itself: main text, the links and media inside it, and embedded posts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from lxml.html import HtmlElement

from archiver.extract.fields import absolute_url
from archiver.extract.text import TextIndex, squash
from archiver.model import Media

_BOILERPLATE_TAGS = frozenset({"nav", "footer", "aside", "form", "button", "select"})
_BOILERPLATE_WORDS = frozenset(
    [
        "nav",
        "navbar",
        "navigation",
        "menu",
        "footer",
        "sidebar",
        "related",
        "recommended",
        "recommendations",
        "share",
        "sharing",
        "social",
        "comment",
        "comments",
        "promo",
        "newsletter",
        "advert",
        "advertisement",
        "ad",
        "ads",
        "adslot",
        "breadcrumb",
        "breadcrumbs",
        "trending",
        "popular",
        "outbrain",
        "taboola",
    ]
)
# State classes on page wrappers ("has-sidebar", "no-ads") describe the page, not the element.
_STATE_PREFIX = re.compile(r"^(?:has|no|with|is|show|hide|enable|disable|page|body|template)[-_]")
_WORD_SPLIT = re.compile(r"[-_]+")
#: Icons, avatars and "related story" thumbnails are smaller than this (pixels, either side).
_MIN_IMAGE = 150
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
_INSTAGRAM_POST = re.compile(r"^https?://(?:www\.)?instagram\.com/(?:p|reel|tv)/")
_BSKY_POST = re.compile(r"^https://bsky\.app/profile/[^/]+/post/")
_MASTODON_POST = re.compile(r"^https://[^/]+/@[^/]+/\d+")
_REDDIT_POST = re.compile(r"^https://(?:www\.|old\.)?reddit\.com/r/[^/]+/comments/")
_YOUTUBE_ID = re.compile(r"^/embed/([A-Za-z0-9_-]{6,})")
_BSKY_AT = re.compile(r"^at://(did:[^/]+|[^/]+)/app\.bsky\.feed\.post/([A-Za-z0-9]+)")


class BoilerplateTest:
    """Is an element inside navigation, a footer, an aside or a widget named like one?

    Only ancestors below `root` (the article element) are asked: page wrappers above it carry
    names like "advert-content-wrap" without being boilerplate. Answers are cached per element,
    since the same ancestors are asked about for every block.
    """

    def __init__(self, root: HtmlElement | None = None) -> None:
        self._root = root
        self._cache: dict[HtmlElement, bool] = {}

    def _own(self, node: HtmlElement) -> bool:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _BOILERPLATE_TAGS:
            return True
        attrib = node.attrib
        if not attrib:
            return False
        role = attrib.get("role")
        if role and role.lower() in ("navigation", "complementary", "contentinfo", "banner"):
            return True
        names = attrib.get("class", "") + " " + attrib.get("id", "")
        for token in names.lower().split():
            if _STATE_PREFIX.match(token):
                continue
            if any(word in _BOILERPLATE_WORDS for word in _WORD_SPLIT.split(token)):
                return True
        return False

    def __call__(self, elem: HtmlElement) -> bool:
        chain: list[HtmlElement] = []
        node: HtmlElement | None = elem
        answer = False
        while node is not None and node is not self._root and node.tag not in ("body", "html"):
            known = self._cache.get(node)
            if known is not None:
                answer = known
                break
            chain.append(node)
            if self._own(node):
                answer = True
                break
            node = node.getparent()
        for seen in chain:
            self._cache[seen] = answer
        return answer


@dataclass(frozen=True)
class Block:
    """A leaf-most block of the HTML whose text is part of the extracted main text."""

    element: HtmlElement
    squashed: str
    hrefs: tuple[str, ...]


def content_blocks(tree: HtmlElement, text: str) -> list[Block]:
    """The blocks of `tree` that the main text contains, in document order, with their links.

    Links are read now because later passes (readability) may rearrange the tree.
    """
    index = TextIndex(text)
    if not index.squashed:
        return []
    blocks: list[Block] = []
    for elem in tree.iter(*_BLOCK_TAGS):
        # A div counts only when it holds text itself (text with <br>s, no <p>s).
        if elem.tag in ("div", "section") and not (elem.text and elem.text.strip()):
            continue
        block = squash(elem.text_content())
        if len(block) >= 12 and block in index:
            hrefs = tuple(a.get("href", "") for a in elem.iter("a") if a.get("href"))
            blocks.append(Block(elem, block, hrefs))
    return blocks


def without_boilerplate(blocks: list[Block], boilerplate: BoilerplateTest) -> list[Block]:
    return [block for block in blocks if not boilerplate(block.element)]


def content_root(blocks: list[Block]) -> HtmlElement | None:
    """Deepest element holding most of the content blocks: where the article lives."""
    if not blocks:
        return None
    counts: Counter[HtmlElement] = Counter()
    depth: dict[HtmlElement, int] = {}
    for block in blocks:
        ancestors = list(block.element.iterancestors())
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


def content_links(blocks: Iterable[Block], base: str) -> tuple[str, ...]:
    """Absolute http(s) links inside the content blocks, in order, without fragments or repeats."""
    links: dict[str, None] = {}
    page = _strip_fragment(base)
    for block in blocks:
        for href in block.hrefs:
            url = _absolute(base, href)
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
            # Query strings on embeds are tracking (?ref_src=, ?utm_source=); YouTube's is the id.
            keep_query = url.startswith("https://www.youtube.com/watch")
            posts.setdefault(_strip_fragment(url if keep_query else url.split("?")[0]), None)

    for elem in tree.iter("blockquote", "iframe", "script"):
        classes = f" {elem.get('class', '')} ".lower()
        if elem.tag == "blockquote":
            if "twitter-tweet" in classes or "twitter-video" in classes:
                add(_last_matching(elem, base, _TWEET))
            elif "instagram-media" in classes:
                add(
                    _absolute(base, elem.get("data-instgrm-permalink"))
                    or _last_matching(elem, base, _INSTAGRAM_POST)
                )
            elif "tiktok-embed" in classes:
                add(_absolute(base, elem.get("cite")))
            elif "bluesky-embed" in classes:
                match = _BSKY_AT.match(elem.get("data-bluesky-uri") or "")
                if match:
                    add(f"https://bsky.app/profile/{match.group(1)}/post/{match.group(2)}")
                else:
                    add(_last_matching(elem, base, _BSKY_POST))
            elif "mastodon-embed" in classes:
                add(
                    _absolute(base, elem.get("data-embed-url", "").removesuffix("/embed"))
                    or _last_matching(elem, base, _MASTODON_POST)
                )
            elif "reddit-embed-bq" in classes or "reddit-card" in classes:
                add(_last_matching(elem, base, _REDDIT_POST))
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


def content_media(
    root: HtmlElement | None, base: str, boilerplate: BoilerplateTest
) -> tuple[Media, ...]:
    """Images (with alt text) and videos inside the article element, skipping icons and widgets."""
    if root is None:
        return ()
    found: dict[str, Media] = {}
    for elem in root.iter("img", "video"):
        if boilerplate(elem):
            continue
        if elem.tag == "img":
            width, height = _int(elem.get("width")), _int(elem.get("height"))
            if (width is not None and width < _MIN_IMAGE) or (
                height is not None and height < _MIN_IMAGE
            ):
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
