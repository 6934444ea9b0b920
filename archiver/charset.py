"""Charsets, as browsers read them: BOM, Content-Type, `<meta>`, then detection. Pure."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_SNIFF_BYTES = 64 * 1024

META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""")
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def codec_name(label: str | None) -> str | None:
    """Python codec name for a charset label, as browsers read it; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except (LookupError, ValueError):
        return None
    # Browsers decode latin-1 and ASCII labels as windows-1252 (WHATWG Encoding), and so must we
    # to read the same text the page showed.
    return "cp1252" if name in ("iso8859-1", "ascii") else name


def media_type_of(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_textual(media_type: str) -> bool:
    return (
        not media_type
        or media_type.startswith("text/")
        or media_type.endswith(("+xml", "+json", "/xml", "/json", "/javascript", "/ecmascript"))
        or media_type in ("application/xhtml+xml", "application/x-www-form-urlencoded")
    )


def detect_charset(body: bytes, content_type: str | None) -> str | None:
    """Charset of `body`: BOM, then Content-Type, then `<meta>`, then detection; None for binary."""
    for bom, name in BOMS:
        if body.startswith(bom):
            return name
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            declared = codec_name(value)
            if declared:
                return declared
    media_type = media_type_of(content_type)
    if not _is_textual(media_type):
        return None
    if media_type in ("", "text/html", "application/xhtml+xml") or media_type.endswith("xml"):
        match = _XML_ENCODING.match(body[:1024]) or META_CHARSET.search(body[:4096])
        declared = codec_name(match.group(1).decode("ascii")) if match else None
        if declared:
            return declared
    sample = body[:_SNIFF_BYTES]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sample cut inside a multi-byte character is still UTF-8.
        if exc.start >= len(sample) - 3 and len(body) > len(sample):
            return "utf-8"
    # Detection guesses wildly on a few bytes; browsers' default for unlabelled pages is cp1252.
    guess = guess_charset(sample) if len(sample) >= 512 else None
    return codec_name(guess) or "cp1252"


def guess_charset(sample: bytes) -> str | None:
    """The detector's best guess for `sample`, or windows-1252 when it scores exactly as well.

    Western text (Spanish ñ, say) often decodes cleanly as both windows-1250 and windows-1252 and
    the detector then picks either; browsers read unlabelled legacy pages as windows-1252.
    """
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if (
            match.encoding == "cp1252"
            and match.chaos == best.chaos
            and match.coherence == best.coherence
        ):
            return "cp1252"
    return str(best.encoding)


def decode_text(body: bytes, charset: str | None) -> str:
    """Decode with `charset` (utf-8 if unknown); never raises on bad bytes or bad labels."""
    name = codec_name(charset) or "utf-8"
    if name == "utf-8":
        name = "utf-8-sig"
    try:
        return body.decode(name, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
