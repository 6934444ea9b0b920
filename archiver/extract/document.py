"""Bytes → text → lxml tree, tolerant of whatever the web serves."""

from __future__ import annotations

import codecs

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

from archiver.charset import BOMS, META_CHARSET, guess_charset


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


# libxml2 rejects these code points (XML 1.0 forbids them). In UTF-8 the control bytes never
# occur inside a multi-byte sequence, so deleting them bytewise is safe (and faster than a regex).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHARACTERS = ("\ufffe".encode(), "\uffff".encode())


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None


def _utf8(data: bytes | str, charset: str | None, warnings: list[str]) -> bytes:
    """The document as UTF-8 bytes, decoded by: a BOM; UTF-8 itself when the bytes are valid
    UTF-8 (pages declaring Latin-1 while serving UTF-8 are common, the reverse is not possible
    by accident); the transport's charset; `<meta charset>`; detection. Valid UTF-8 input is
    passed through without re-encoding."""
    if isinstance(data, str):
        return data.encode("utf-8", "replace")
    for bom, name in BOMS:
        if data.startswith(bom):
            if name == "utf-8":
                return data[len(bom) :]
            return data.decode(name, errors="replace").encode("utf-8", "replace")
    given = _known(charset)
    if charset and not given:
        warnings.append(f"unknown charset {charset!r} given for the page; guessed instead")
    match = META_CHARSET.search(data[:4096])
    declared = _known(match.group(1).decode("ascii", "replace")) if match else None
    candidates = [name for name in (given, declared) if name]
    # UTF-16/32 text can be valid UTF-8 byte for byte; a declaration of those is believed first.
    wide = [name for name in candidates if name.startswith("utf-16") or name.startswith("utf-32")]
    for name in dict.fromkeys([*wide, "utf-8", *candidates]):
        try:
            text = data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name != "utf-8":
            return text.encode("utf-8", "replace")
        stated = next((c for c in candidates if c != "utf-8"), None)
        if stated and not data.isascii():
            warnings.append(f"page declares charset {stated} but is valid UTF-8; read as UTF-8")
        return data
    name = guess_charset(data[:65536]) or given or declared or "utf-8"
    warnings.append(f"page is not valid in its declared charset; decoded as {name}")
    return data.decode(name, errors="replace").encode("utf-8", "replace")


def load_document(
    data: bytes | str, charset: str | None, warnings: list[str]
) -> HtmlElement | None:
    """Decode and parse into a full document tree (fragments get html/body); None if empty."""
    raw = _utf8(data, charset, warnings).translate(None, _CONTROL_BYTES)
    for bad in _NONCHARACTERS:
        if bad in raw:
            raw = raw.replace(bad, b"")
    if not raw.strip():
        warnings.append("empty document")
        return None
    parser = _parser()
    try:
        tree = document_fromstring(raw, parser=parser)
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
