"""Pure HTML → `Page`: metadata, main text, the links and media in it, embedded posts.

Nothing here does I/O. Whatever the input, `extract_page` returns a `Page`; what it could not
read is listed in `Page.warnings`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from archiver.extract.content import (
    content_blocks,
    content_links,
    content_media,
    content_root,
    embedded_posts,
)
from archiver.extract.document import decode_html, parse_html
from archiver.extract.metadata import base_url, read_metadata
from archiver.extract.text import main_text
from archiver.model import Page

__all__ = ["extract_page"]


def extract_page(html: bytes | str, url: str, *, charset: str | None = None) -> Page:
    """Extract metadata, main text, content links, media and embedded posts from one page.

    `charset` is the one the HTTP response declared, if any; the document's own declaration
    and detection are used when it is missing or wrong.
    """
    warnings: list[str] = []
    try:
        urlsplit(url)
    except ValueError:
        # Every relative link is resolved against it; an unsplittable one cannot be a base.
        warnings.append(f"page URL {url!r} cannot be parsed; links were not resolved against it")
        url = ""
    tree = parse_html(decode_html(html, charset, warnings), warnings)
    if tree is None:
        return Page(warnings=tuple(warnings))
    try:
        return _extract(tree, url, warnings)
    except RecursionError:
        return Page(warnings=(*warnings, "document nested too deeply to extract"))


def _extract(tree: object, url: str, warnings: list[str]) -> Page:
    from lxml.html import HtmlElement

    assert isinstance(tree, HtmlElement)
    meta = read_metadata(tree, url, warnings)
    base = base_url(tree, url)
    text = main_text(
        tree, url or None, title=meta.title, article_body=meta.article_body, warnings=warnings
    )
    blocks = content_blocks(tree, text or "")
    return Page(
        title=meta.title,
        text=text,
        authors=meta.authors,
        published_at=meta.published_at,
        modified_at=meta.modified_at,
        site_name=meta.site_name,
        canonical_url=meta.canonical_url,
        language=meta.language,
        description=meta.description,
        image=meta.image,
        links=content_links(blocks, base),
        embedded_posts=embedded_posts(tree, base),
        media=content_media(content_root(blocks), base),
        jsonld=tuple(meta.jsonld),
        opengraph=meta.opengraph,
        twitter_card=meta.twitter_card,
        warnings=tuple(warnings),
    )
