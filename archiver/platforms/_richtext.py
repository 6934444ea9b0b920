"""Sanitised post HTML (Mastodon, Telegram, Reddit) → plain text with links expanded.

Platforms shorten the visible text of links (`github.com/schochastics/quarto…`) while the
anchor's `href` keeps the real target, so the text we store shows the `href` instead.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import Comment, NavigableString, Tag

_BLOCKS = frozenset(
    {
        "p", "div", "blockquote", "li", "ul", "ol", "pre", "table", "tr",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "section", "article",
    }
)  # fmt: skip
_BREAK = "\x1e"  # block boundary marker, turned into a blank line at the end
_URLISH = re.compile(r"^(?:https?://|www\.)\S+$|^[\w-]+(?:\.[\w-]+)+(?:[/?#]\S*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class RichText:
    text: str
    #: Outlinks from anchors (mentions and hashtags left out), absolute, in order, de-duplicated.
    links: tuple[str, ...]


def _is_mention_or_tag(anchor: Tag, visible: str) -> bool:
    classes: list[str] = list(anchor.get("class") or [])
    rel: list[str] = list(anchor.get("rel") or [])
    if {"mention", "hashtag", "u-url"} & set(classes) or "tag" in rel:
        return True
    # Telegram and Reddit mark neither: a hashtag/mention is an anchor reading "#x" or "@x".
    return visible.startswith(("#", "@")) and " " not in visible.strip()


def _looks_like_url(visible: str) -> bool:
    """True when the anchor text is a (possibly truncated) URL rather than words."""
    stripped = visible.strip().rstrip("…").removesuffix("...")
    return bool(stripped) and _URLISH.match(stripped) is not None


def fragment_soup(markup: str) -> BeautifulSoup:
    """An HTML fragment from a platform answer, parsed with the standard library's parser."""
    with warnings.catch_warnings():
        # Short bodies that look like a URL or file name make bs4 warn; they are still HTML.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(markup, "html.parser")


def html_to_text(html: str, *, base_url: str | None = None) -> RichText:
    """Plain text of post HTML: paragraphs → blank lines, `<br>` → newline, URL-like anchor
    text → the anchor's full `href`; other anchor text is kept and its `href` listed."""
    soup = fragment_soup(html)
    pieces: list[str] = []
    links: list[str] = []

    def walk(node: Tag, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                text = str(child)
                pieces.append(text if pre else re.sub(r"\s+", " ", text))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in {"script", "style", "template"}:
                continue
            if name == "br":
                pieces.append("\n")
            elif name == "img":
                # Custom emoji and inline images: their alt text is what a reader sees.
                alt = child.get("alt")
                if isinstance(alt, str):
                    pieces.append(alt)
            elif name == "a":
                _anchor(child, pre)
            elif name in _BLOCKS:
                pieces.append(_BREAK)
                walk(child, pre or name == "pre")
                pieces.append(_BREAK)
            else:
                walk(child, pre)

    def _anchor(anchor: Tag, pre: bool) -> None:
        visible = anchor.get_text()
        href = anchor.get("href")
        if not isinstance(href, str) or not href.strip() or _is_mention_or_tag(anchor, visible):
            walk(anchor, pre)
            return
        try:
            target = urljoin(base_url, href.strip()) if base_url else href.strip()
        except ValueError:  # "http://[" and other hrefs urllib cannot split
            target = ""
        if not target.startswith(("http://", "https://")):
            walk(anchor, pre)
            return
        if target not in links:
            links.append(target)
        if _looks_like_url(visible):
            pieces.append(target)
        else:
            walk(anchor, pre)

    walk(soup, False)
    text = "".join(pieces).replace("\xa0", " ")
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    text = re.sub(rf"[ \t\n]*{_BREAK}[{_BREAK}\s]*", "\n\n", text)
    return RichText(text=text.strip(), links=tuple(links))


def urls_in_text(text: str) -> tuple[str, ...]:
    """Absolute http(s) URLs written out in plain text, in order, de-duplicated."""
    found: list[str] = []
    for match in re.finditer(r"https?://[^\s<>\"')\]]+", text):
        url = match.group(0).rstrip(".,;:!?")
        if url not in found:
            found.append(url)
    return tuple(found)
