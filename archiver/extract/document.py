"""Bytes → text → lxml tree, tolerant of whatever the web serves."""

from __future__ import annotations

import codecs
import re

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring


def _parser() -> HTMLParser:
    # Comments and processing instructions are never content; dropping them at parse time keeps
    # every later pass (metadata, main text) from tripping over them. One parser per parse: its
    # error log is read afterwards, and captures are parsed on several threads at once.
    return HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
    )


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
# libxml2 rejects these code points outright (XML 1.0 forbids them).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None


def decode_html(data: bytes | str, charset: str | None, warnings: list[str]) -> str:
    """Decode with, in order: a BOM, the transport's charset, `<meta charset>`, UTF-8, detection."""
    if isinstance(data, str):
        return data
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace")
    candidates: list[str] = []
    given = _known(charset)
    if charset and not given:
        warnings.append(f"unknown charset {charset!r} given for the page; guessed instead")
    if given:
        candidates.append(given)
    match = _META_CHARSET.search(data[:4096])
    declared = _known(match.group(1).decode("ascii", "replace")) if match else None
    if declared:
        candidates.append(declared)
    candidates.append("utf-8")
    for name in dict.fromkeys(candidates):
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    name = best.encoding if best is not None else (given or declared or "utf-8")
    warnings.append(f"page is not valid in its declared charset; decoded as {name}")
    return data.decode(name, errors="replace")


def parse_html(text: str, warnings: list[str]) -> HtmlElement | None:
    """Parse into a full document tree (fragments get html/body); None when there is nothing."""
    text = _INVALID_XML.sub("", text)
    if not text.strip():
        warnings.append("empty document")
        return None
    parser = _parser()
    try:
        tree = document_fromstring(text.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, UnicodeError) as exc:
        warnings.append(f"HTML could not be parsed: {exc}")
        return None
    if any(e.type == etree.ErrorTypes.ERR_RESOURCE_LIMIT for e in parser.error_log):
        # libxml2 stops descending at 256 levels and drops what lies deeper, without failing.
        warnings.append(
            "HTML is nested deeper than the parser's limit (256 levels); "
            "content below that depth was not extracted"
        )
    if not isinstance(tree, HtmlElement):
        warnings.append("HTML parsed into no document element")
        return None
    return tree
