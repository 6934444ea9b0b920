"""Pure HTML → `Page`: metadata, main text, the links and media in it, embedded posts.

Nothing here does I/O. Whatever the input, `extract_page` returns a `Page`; what it could not
read is listed in `Page.warnings`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from lxml.etree import strip_elements
from lxml.html import HtmlElement

from archiver.errors import ParseError
from archiver.extract.content import (
    BoilerplateTest,
    content_blocks,
    content_links,
    content_media,
    content_root,
    embedded_posts,
    without_boilerplate,
)
from archiver.extract.dates import guess_published
from archiver.extract.document import load_document
from archiver.extract.metadata import base_url, read_metadata
from archiver.extract.text import (
    TextIndex,
    finish_text,
    needs_reference,
    readability_text,
    split_paragraphs,
    trafilatura_text,
)
from archiver.model import Page

__all__ = ["extract_page"]

# Read by the metadata and embed passes, then dropped: each extractor below deletes these anyway,
# but only after copying the tree, several times. Media (img, picture, video, noscript, figure),
# formulas (math) and forms (handled with care by trafilatura) stay.
_NEVER_CONTENT = (
    *("head", "script", "style", "template", "link", "meta", "svg", "iframe", "object", "embed"),
    *("nav", "footer", "aside", "menu", "menuitem", "dialog", "button", "input", "select"),
    *("option", "optgroup", "textarea", "label", "fieldset", "legend", "datalist", "canvas"),
    *("map", "area", "applet", "frame", "frameset", "noindex", "marquee", "blink", "progress"),
)


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
    tree = load_document(html, charset, warnings)
    if tree is None:
        return Page(warnings=tuple(warnings))
    try:
        return _extract(tree, url, warnings)
    except RecursionError:
        return Page(warnings=(*warnings, "document nested too deeply to extract"))
    except Exception as exc:
        raise ParseError(
            f"extracting the page at {url} failed ({exc.__class__.__name__}: {exc}); the raw HTML "
            "is still stored with the capture, and this is a bug worth reporting with that page"
        ) from exc


def _extract(tree: HtmlElement, url: str, warnings: list[str]) -> Page:
    meta = read_metadata(tree, url, warnings)
    if meta.published_at is None:
        meta.published_at = guess_published(tree, url)
    base = base_url(tree, url)
    embeds = embedded_posts(tree, base)
    strip_elements(tree, *_NEVER_CONTENT, with_tail=False)
    raw = trafilatura_text(tree, url or None, warnings)
    paragraphs = split_paragraphs(raw)
    blocks = content_blocks(tree, raw)
    root = content_root(blocks)
    boilerplate = BoilerplateTest(root)
    blocks = without_boilerplate(blocks, boilerplate)
    media = content_media(root, base, boilerplate)
    # Readability rearranges the tree, so it runs after every other reader is done with it.
    reference = readability_text(tree, warnings) if needs_reference(paragraphs) else ""
    text = finish_text(paragraphs, reference, title=meta.title, article_body=meta.article_body)
    if text is None:
        warnings.append("no main text found")
    final = TextIndex(text or "")
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
        links=content_links((b for b in blocks if b.squashed in final), base),
        embedded_posts=embeds,
        media=media,
        jsonld=tuple(meta.jsonld),
        opengraph=meta.opengraph,
        twitter_card=meta.twitter_card,
        warnings=tuple(warnings),
    )
