"""Main article text: trafilatura on the already-parsed tree, JSON-LD articleBody as a fallback."""

from __future__ import annotations

import logging
import re

from lxml.html import HtmlElement

_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")


def tidy(text: str) -> str:
    """Paragraphs separated by exactly one blank line, no trailing spaces."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n\n".join(line for line in lines if line)).strip()


def trafilatura_text(tree: HtmlElement, url: str | None, warnings: list[str]) -> str:
    """trafilatura's main text; it copies the tree, so ours stays intact for the other passes."""
    from trafilatura.core import bare_extraction

    # trafilatura logs every page it rejects at ERROR level; that is an answer, not a fault.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    try:
        document = bare_extraction(tree, url=url, include_comments=False, with_metadata=False)
    except (RecursionError, ValueError, TypeError, AttributeError) as exc:
        warnings.append(f"main-text extraction failed: {exc.__class__.__name__}: {exc}")
        return ""
    body = getattr(document, "text", None)
    return tidy(body) if isinstance(body, str) else ""


def main_text(
    tree: HtmlElement, url: str | None, article_body: str | None, warnings: list[str]
) -> str | None:
    """The article's text, paragraphs separated by blank lines; None when there is none."""
    text = trafilatura_text(tree, url, warnings)
    if not text and article_body:
        text = tidy(article_body)
    return text or None
