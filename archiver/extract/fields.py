"""One raw metadata value (from JSON-LD, a meta tag or an attribute) made into a field value.

The sources hold anything: numbers, lists, entities, stray whitespace, relative or javascript:
URLs. Each reader here takes any object and returns a clean value, or None when there is none.
"""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urljoin, urlsplit

_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def clean_text(value: object) -> str | None:
    """Collapse whitespace and unescape stray entities; None for anything empty or not a string."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = " ".join(htmllib.unescape(value).split())
    return text or None


def normalise_language(value: object) -> str | None:
    """BCP-47-ish: `en_US` → `en-US`, `EN` → `en`; anything not shaped like a tag is dropped."""
    text = clean_text(value)
    if not text:
        return None
    text = text.split(",")[0].split(";")[0].strip().replace("_", "-")
    if not _LANG.match(text):
        return None
    head, *rest = text.split("-")
    parts = [head.lower()]
    for part in rest:
        parts.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part)
    return "-".join(parts)


def absolute_url(base: str, value: object) -> str | None:
    """Resolve `value` against `base`; only http(s) results count."""
    text = clean_text(value)
    if not text:
        return None
    try:
        resolved = urljoin(base, text)
        parts = urlsplit(resolved)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return resolved
