"""JSON-LD: the page's `application/ld+json` blocks, repaired where broken, and the objects in them.

Publishers ship JSON-LD with entities, raw newlines, unescaped quotes and trailing commas, spread
over several blocks and `@graph`s that refer to each other by `@id`; these readers take all of it
and never let one bad block cost the others.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Iterator
from typing import Any

from lxml.html import HtmlElement

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "scholarlyarticle",
        "techarticle",
        "report",
        "webpage",
        "itempage",
        "videoobject",
    }
)
# WebPage and VideoObject describe the page only loosely: an Article block wins over them.
_WEAK_TYPES = frozenset({"webpage", "itempage", "videoobject"})

_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _lower(value: object) -> str:
    return value.lower() if isinstance(value, str) else ""


def node_types(node: dict[str, Any]) -> set[str]:
    """The object's `@type`s, lower-cased and without a vocabulary prefix, so they compare."""
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    # "http://schema.org/NewsArticle" and "schema:NewsArticle" appear in the wild too.
    return {_lower(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for v in values if isinstance(v, str)}


def _closes_string(text: str, index: int) -> bool:
    """Does the quote at `index` end a JSON string, judging by what follows it?"""
    rest = text[index + 1 : index + 200].lstrip()
    if not rest or rest[0] in ":}]":
        return True
    if rest[0] == ",":
        after = rest[1:].lstrip()
        return not after or after[0] in '"{[]}-0123456789tfn'
    return False


def _repair_json(raw: str) -> str:
    """Fix the usual breakage: entities, raw control characters and unescaped quotes inside
    strings, trailing commas."""
    text = htmllib.unescape(raw) if "&quot;" in raw or "&#" in raw else raw
    text = text.strip().removeprefix("<!--").removesuffix("-->").strip()
    text = text.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    text = _TRAILING_COMMA.sub(r"\1", text)
    out: list[str] = []
    in_string = escaped = False
    for index, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                if not _closes_string(text, index):
                    out.append('\\"')
                    continue
                in_string = False
            elif ch in "\n\r\t":
                out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
                continue
        elif ch == '"':
            in_string = True
        out.append(ch)
    return "".join(out)


def read_jsonld(tree: HtmlElement, warnings: list[str]) -> list[Any]:
    """Every `application/ld+json` block, parsed or repaired, else skipped with a warning."""
    blocks: list[Any] = []
    scripts = [
        s
        for s in tree.iter("script")
        if (s.get("type") or "").strip().lower() == "application/ld+json"
    ]
    for index, script in enumerate(scripts):
        raw = script.text or ""
        if not raw.strip():
            continue
        try:
            blocks.append(json.loads(raw))
            continue
        except (ValueError, RecursionError):
            pass
        try:
            blocks.append(json.loads(_repair_json(raw), strict=False))
            warnings.append(f"JSON-LD block {index + 1} was invalid JSON and was repaired")
        except (ValueError, RecursionError) as exc:
            warnings.append(f"JSON-LD block {index + 1} skipped: invalid JSON ({exc})")
    return blocks


def jsonld_nodes(blocks: list[Any]) -> Iterator[dict[str, Any]]:
    """Every object in the blocks: top-level lists, `@graph` members, in document order."""
    stack: list[Any] = list(reversed(blocks))
    seen = 0
    while stack and seen < 10000:
        item = stack.pop()
        seen += 1
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if isinstance(graph, (list, dict)):
                stack.append(graph)


def main_node(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The object describing the page itself; an Article-like one wins over a looser WebPage."""
    articles = [n for n in nodes if node_types(n) & ARTICLE_TYPES]
    strong = [n for n in articles if node_types(n) - _WEAK_TYPES]
    pool = strong or articles
    if not pool:
        return None
    # Pages list related articles too; the one with a body or a headline is the page's own.
    return max(pool, key=lambda n: (bool(n.get("articleBody")), bool(n.get("headline"))))


def nodes_by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects by `@id`, so references (`{"@id": ...}` alone) can be followed to them."""
    return {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 1}


def entity_names(value: Any, index: dict[str, dict[str, Any]], depth: int = 0) -> list[str]:
    """Names from a Person/Organization/list/string/@id reference."""
    if depth > 4:
        return []
    if isinstance(value, list):
        return [name for item in value for name in entity_names(item, index, depth + 1)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if "name" not in value and isinstance(value.get("@id"), str) and value["@id"] in index:
            return entity_names(index[value["@id"]], index, depth + 1)
        name = value.get("name")
        if isinstance(name, list):
            return [n for n in name if isinstance(n, str)]
        if isinstance(name, str):
            return [name]
    return []


def image_url(value: Any) -> str | None:
    """The first URL in an `image`: a string, an ImageObject or a list of either."""
    if isinstance(value, list):
        for item in value:
            found = image_url(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        return image_url(value.get("url") or value.get("contentUrl"))
    return value if isinstance(value, str) else None
