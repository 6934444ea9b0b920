"""Main article text: trafilatura's extractor, trimmed where a second extractor disagrees.

trafilatura (fast mode, on the tree we already parsed) finds the article with high recall but
often keeps a headline, a newsletter box or a "related stories" list at either end. A
readability pass over the same tree finds the article core independently; paragraphs at the
edges of trafilatura's text that readability does not have are boilerplate far more often than
not, so those edge runs are cut, unless they read like prose (readability sometimes keeps only
part of a long article). Paragraphs in the middle are never cut: there, disagreement usually
means an embedded quote or list that one extractor skipped.
"""

from __future__ import annotations

import logging
import re
from copy import deepcopy

from lxml.html import HtmlElement

_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
# Lines that are a bare URL or timestamp are leaked metadata, never article prose.
_JUNK_LINE = re.compile(
    r"^(?:https?://\S+|\d{4}-\d\d-\d\d(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?)$", re.I
)
#: Below this much reference text, readability has not found an article to agree with.
_MIN_REFERENCE = 200
#: Share of the reference text that trafilatura's paragraphs must cover for the two to be
#: looking at the same article.
_MIN_AGREEMENT = 0.5
#: An edge run holding this many paragraphs this long is prose readability missed, not boilerplate.
_PROSE_CHARS, _PROSE_PARAGRAPHS = 300, 2


def tidy(text: str) -> str:
    """Paragraphs separated by exactly one blank line, no trailing spaces."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n\n".join(line for line in lines if line)).strip()


def _squash(text: str) -> str:
    return "".join(text.split())


def _quiet_trafilatura() -> None:
    # trafilatura logs every page it finds no article in at ERROR level: an answer, not a fault.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def trafilatura_text(tree: HtmlElement, url: str | None, warnings: list[str]) -> str:
    """trafilatura's main text in fast mode; it copies the tree, so ours stays intact."""
    from trafilatura.core import bare_extraction

    _quiet_trafilatura()
    try:
        document = bare_extraction(
            tree, url=url, fast=True, include_comments=False, with_metadata=False
        )
    except (RecursionError, ValueError, TypeError, AttributeError) as exc:
        warnings.append(f"main-text extraction failed: {exc.__class__.__name__}: {exc}")
        return ""
    body = getattr(document, "text", None)
    return body if isinstance(body, str) else ""


def readability_text(tree: HtmlElement) -> str:
    """The article core as readability sees it, as plain text (used only as a reference)."""
    try:
        # trafilatura's maintained readability port works on a parsed tree, so the page is not
        # parsed again; readability-lxml would re-parse and is several times slower.
        from trafilatura.readability_lxml import Document
        from trafilatura.utils import fromstring_bytes
    except ImportError:
        return ""
    _quiet_trafilatura()
    try:
        summary = fromstring_bytes(Document(deepcopy(tree), min_text_length=25).summary())
    except (RecursionError, ValueError, TypeError, AttributeError):
        return ""
    return " ".join(summary.itertext()) if summary is not None else ""


def _is_prose_run(paragraphs: list[str]) -> bool:
    return sum(len(p) >= _PROSE_CHARS for p in paragraphs) >= _PROSE_PARAGRAPHS


def trim_to_agreement(paragraphs: list[str], reference: str) -> list[str]:
    """Cut leading and trailing paragraphs the reference extraction does not contain."""
    ref = _squash(reference)
    if len(ref) < _MIN_REFERENCE or not paragraphs:
        return paragraphs
    inside = [_squash(p) in ref for p in paragraphs]
    covered = sum(len(_squash(p)) for p, hit in zip(paragraphs, inside, strict=True) if hit)
    if covered < _MIN_AGREEMENT * len(ref):
        return paragraphs
    start = next((i for i, hit in enumerate(inside) if hit), len(paragraphs))
    end = len(paragraphs)
    while end > start and not inside[end - 1]:
        end -= 1
    if _is_prose_run(paragraphs[:start]):
        start = 0
    if _is_prose_run(paragraphs[end:]):
        end = len(paragraphs)
    return paragraphs[start:end]


def _drop_noise(paragraphs: list[str], title: str | None) -> list[str]:
    kept = [p for p in paragraphs if not _JUNK_LINE.match(p)]
    # The headline repeated as the first line is page furniture, not article text.
    if kept and title and _squash(kept[0]).casefold() == _squash(title).casefold():
        kept = kept[1:]
    return kept


def _complete_body(article_body: str | None, extracted: str) -> str | None:
    """JSON-LD articleBody, when it is the whole article rather than a teaser."""
    if not article_body:
        return None
    body = tidy(article_body)
    if body.endswith(("...", "…", "[…]", "[...]")):
        return None
    return body if len(body) >= max(500, 0.5 * len(extracted)) else None


def main_text(
    tree: HtmlElement,
    url: str | None,
    *,
    title: str | None,
    article_body: str | None,
    warnings: list[str],
) -> str | None:
    """The article's text, paragraphs separated by blank lines; None when there is none."""
    extracted = trafilatura_text(tree, url, warnings)
    reference = readability_text(tree)
    paragraphs = [p for p in tidy(extracted).split("\n\n") if p]
    if paragraphs:
        paragraphs = trim_to_agreement(paragraphs, reference)
    elif len(reference) >= _MIN_REFERENCE:
        paragraphs = [p for p in tidy(reference).split("\n\n") if p]
    text = "\n\n".join(_drop_noise(paragraphs, title))
    # A short extraction next to a full articleBody means the extractor missed the article.
    body = _complete_body(article_body, text)
    if body and len(text) < 0.5 * len(body):
        return body
    return text or body or None
