"""Main article text: trafilatura's extractor, trimmed where a second extractor disagrees.

trafilatura (fast mode, on the tree we already parsed) finds the article with high recall but
often keeps a headline, a newsletter box or a "related stories" list at either end. A
readability pass over the same tree finds the article core independently; paragraphs at the
edges of trafilatura's text that readability does not have are boilerplate far more often than
not, so those edge runs are cut, unless they read like prose (readability sometimes keeps only
part of a long article). Paragraphs in the middle are never cut: there, disagreement usually
means an embedded quote or list that one extractor skipped.

trafilatura runs in fast mode, which skips its own readability/justext comparison: that
comparison replaces its text wholesale when the other extractor is longer, which on news pages
more often adds boilerplate than article; the trimming here uses readability more narrowly.
A few site-independent cleanups follow: cross-link blocks ("Related", "Read more"), calls to
action, leaked timestamps and the repeated headline.
"""

from __future__ import annotations

import logging
import re

from lxml.html import HtmlElement

_TEXT_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "dd")
_BLANKS = re.compile(r"\n{3,}")
_SPACES = re.compile(r"[ \t\u00a0]+")
# Lines that are a bare URL or timestamp are leaked metadata, never article prose.
_JUNK_LINE = re.compile(
    r"^(?:https?://\S+|\d{4}-\d\d-\d\d(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?)$", re.I
)
# Section markers that introduce links to other stories ("Related", "You may also like"): the
# marker and the headline-like lines after it are cross-links, not article text.
_RELATED_MARKER = re.compile(
    r"^(?:related(?: articles| stories| posts| content| coverage| reading)?|read more|see more|"
    r"more from .{0,40}|more on this(?: story)?|you (?:may|might) also like|recommended(?: for you)?|"
    r"don'?t miss|also read|see also|most popular|most read|trending(?: now)?|top stories|"
    r"latest news|more stories|further reading)\s*[:.…\-–—]*\s*$",
    re.I,
)
# "Related: <headline>", "READ MORE: <headline>" lines.
_RELATED_PREFIX = re.compile(
    r"^(?:related|read more|see more|also read|read also|more|watch|listen|don'?t miss|"
    r"recommended|read next|see also)\s*[:|»>–—-]\s*\S",
    re.I,
)
# Calls to action in the article's frame: follow us, newsletters, apps, tip lines.
_CALL_TO_ACTION = re.compile(
    r"\b(?:subscribe to (?:our|the|\w+[’']s)\b.{0,40}\b(?:newsletters?|channel|podcast)|"
    r"subscribe to [\w.’' ]{1,40} on (?:youtube|twitter|facebook|instagram)|"
    r"follow (?:us|him|her|them) on|(?:get|download) (?:the|our) [\w ]{0,30}\bapp\b|"
    r"right in your inbox|have a (?:news )?tip\b|"
    r"^follow (?:\w+[’']s )?(?:full |complete |all |live )?coverage)",
    re.I,
)
# Page furniture that extractors keep as a line of its own: tag lists, reading time, comment counts.
_FURNITURE = re.compile(
    r"^(?:(?:filed under|tags|tagged|topics|categories|posted in)\s*:.{0,120}|"
    r"(?:reading time|read time|tempo de leitura|lesezeit|temps de lecture)\s*:.{0,30}|"
    r"\d+\s*min(?:ute)?s?\s+read|\d*\s*comments?|share|advertisement)$",
    re.I,
)
# A headline in a list of links rarely ends like a sentence.
_SENTENCE_OR_LABEL_END = re.compile(r"[.!?…\"”’:]$")
_BULLETS = "-–—•* "
_WORD = re.compile(r"\w+")
#: Below this much reference text, readability has not found an article to agree with.
_MIN_REFERENCE = 200
#: Share of the reference text that trafilatura's paragraphs must cover for the two to be
#: looking at the same article.
_MIN_AGREEMENT = 0.5
#: An edge run holding this many paragraphs this long is prose readability missed, not boilerplate.
_PROSE_CHARS, _PROSE_PARAGRAPHS = 300, 2
#: Below this many characters an extraction is suspect: readability is asked, and wins when it
#: finds more than twice as much (trafilatura's own rule for its fallback, kept for short texts).
_SHORT_TEXT = 500
#: Edge paragraphs at least this long that end a sentence are taken as article prose.
_PROSE_EDGE = 100
_SENTENCE_END = re.compile(r"[.!?…\"”’)]$")


def tidy(text: str) -> str:
    """Paragraphs separated by exactly one blank line, no trailing spaces."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n\n".join(line for line in lines if line)).strip()


def squash(text: str) -> str:
    """Text without any whitespace: extractors disagree on spacing, never on characters."""
    return "".join(text.split())


class TextIndex:
    """Answers "is this block's text part of the main text?" without a full scan per block.

    A substring search per block is quadratic: thousands of blocks against a long text took
    seconds. Whole paragraphs are found in a set. In a long text, other blocks must also start
    where a word of the text starts (a set of 12-character keys) before the substring search
    is paid for; texts glued across tags ("FLJune") can defeat that, so short texts, which are
    almost all, are always searched.
    """

    _KEY = 12
    _SCAN_LIMIT = 100_000

    def __init__(self, text: str) -> None:
        self.squashed = squash(text)
        self._paragraphs: set[str] = set()
        for line in text.split("\n"):
            line_squashed = squash(line)
            self._paragraphs.add(line_squashed)
            self._paragraphs.add(line_squashed.lstrip("-•*"))
        self._starts: set[str] = set()
        offset = 0
        for word in text.split() if len(self.squashed) > self._SCAN_LIMIT else ():
            self._starts.add(self.squashed[offset : offset + self._KEY])
            offset += len(word)

    def __contains__(self, block: str) -> bool:
        if block in self._paragraphs:
            return True
        if len(self.squashed) <= self._SCAN_LIMIT or block[: self._KEY] in self._starts:
            return block in self.squashed
        return False


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
    except Exception as exc:  # deliberately broad: a third-party bug must not lose the page
        warnings.append(f"main-text extraction failed: {exc.__class__.__name__}: {exc}")
        return ""
    body = getattr(document, "text", None)
    return body if isinstance(body, str) else ""


def needs_reference(paragraphs: list[str]) -> bool:
    """Whether readability could change anything: the text is short, or an edge paragraph is
    short or not a sentence. Otherwise its pass (a fifth of the time) is skipped."""
    if sum(len(p) for p in paragraphs) < _SHORT_TEXT:
        return True
    return not all(
        len(p) >= _PROSE_EDGE and _SENTENCE_END.search(p) for p in (paragraphs[0], paragraphs[-1])
    )


def readability_text(tree: HtmlElement, warnings: list[str]) -> str:
    """The article core as readability sees it: paragraphs separated by blank lines.

    Used as the reference trafilatura's text is trimmed to, and as the text itself when
    trafilatura finds none. Readability rearranges the tree it is given: callers pass a tree
    they are done with.
    """
    try:
        # trafilatura's maintained readability port works on a parsed tree, so the page is not
        # parsed again; readability-lxml would re-parse and is several times slower.
        from trafilatura.readability_lxml import Document
        from trafilatura.utils import fromstring_bytes
    except ImportError:
        return ""
    _quiet_trafilatura()
    try:
        summary = fromstring_bytes(Document(tree, min_text_length=25).summary())
    except Exception as exc:  # deliberately broad: the page keeps trafilatura's text
        warnings.append(f"readability failed: {exc.__class__.__name__}: {exc}")
        return ""
    if summary is None:
        return ""
    paragraphs = []
    for elem in summary.iter(*_TEXT_BLOCKS, "div"):
        # Leaf blocks only, so nested containers do not repeat their children's text.
        if next(elem.iterdescendants(*_TEXT_BLOCKS, "div"), None) is None:
            text = " ".join(elem.text_content().split())
            if text:
                paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _is_prose_run(paragraphs: list[str]) -> bool:
    return sum(len(p) >= _PROSE_CHARS for p in paragraphs) >= _PROSE_PARAGRAPHS


def trim_to_agreement(paragraphs: list[str], reference: str) -> list[str]:
    """Cut leading and trailing paragraphs the reference extraction does not contain."""
    ref = TextIndex(reference)
    if len(ref.squashed) < _MIN_REFERENCE or not paragraphs:
        return paragraphs
    inside = [squash(p) in ref for p in paragraphs]
    covered = sum(len(squash(p)) for p, hit in zip(paragraphs, inside, strict=True) if hit)
    if covered < _MIN_AGREEMENT * len(ref.squashed):
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
    """Drop leaked metadata, a repeated headline, cross-link blocks and calls to action."""
    kept: list[str] = []
    i = 0
    while i < len(paragraphs):
        para = paragraphs[i]
        bare = para.strip(_BULLETS)
        if len(para) < 80 and _RELATED_MARKER.match(bare):
            # Skip the marker and the short headline-like lines that follow it.
            i += 1
            while (
                i < len(paragraphs)
                and len(paragraphs[i]) < 150
                and not _SENTENCE_OR_LABEL_END.search(paragraphs[i].rstrip(" |"))
            ):
                i += 1
            continue
        i += 1
        if (
            _JUNK_LINE.match(para)
            or _FURNITURE.match(bare)
            or (len(para) < 250 and _RELATED_PREFIX.match(bare))
            or (len(para) < 200 and _CALL_TO_ACTION.search(para))
        ):
            continue
        kept.append(para)
    # The headline (or a variant of it) repeated as the first line is furniture, not text.
    if kept and title and _is_headline(kept[0], title):
        kept = kept[1:]
    return kept


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def _is_headline(line: str, title: str) -> bool:
    """The title itself, or a headline-shaped line (short, no full stop) made mostly of its words."""
    if squash(line).casefold() == squash(title).casefold():
        return True
    if len(line) > max(1.5 * len(title), 80) or _SENTENCE_END.search(line):
        return False
    words = _words(line)
    return bool(words) and len(words & _words(title)) >= 0.6 * len(words)


def _complete_body(article_body: str | None, extracted: str) -> str | None:
    """JSON-LD articleBody, when it is the whole article rather than a teaser."""
    if not article_body:
        return None
    body = tidy(article_body)
    if body.endswith(("...", "…", "[…]", "[...]")):
        return None
    return body if len(body) >= max(500, 0.5 * len(extracted)) else None


def split_paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs of `text` after tidying (every line break is a paragraph break)."""
    return [p for p in tidy(text).split("\n\n") if p]


def finish_text(
    paragraphs: list[str], reference: str, *, title: str | None, article_body: str | None
) -> str | None:
    """Trim `paragraphs` to the reference, drop noise; fall back on readability or articleBody.

    `paragraphs` is trafilatura's text, `reference` readability's ("" when not computed).
    """
    length = len(squash("".join(paragraphs)))
    if length < _SHORT_TEXT and len(squash(reference)) > max(2 * length, _MIN_REFERENCE):
        paragraphs = split_paragraphs(reference)
    elif paragraphs:
        paragraphs = trim_to_agreement(paragraphs, reference)
    text = "\n\n".join(_drop_noise(paragraphs, title))
    # A short extraction next to a full articleBody means the extractor missed the article.
    body = _complete_body(article_body, text)
    if body and len(text) < 0.5 * len(body):
        return body
    return text or body or None
