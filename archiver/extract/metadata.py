"""Page metadata from JSON-LD, OpenGraph, Twitter cards, meta tags and the HTML itself.

Every reader is defensive: publishers ship broken JSON-LD, wrong attribute names and mixed
formats, and one bad block must never cost the rest of the page.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit
from warnings import catch_warnings, simplefilter

from dateutil import parser as dateparser
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
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_BY_PREFIX = re.compile(r"^\s*(?:by|von|par|por|di|door|av)\s*[:\-]?\s+", re.I)
_AUTHOR_SPLIT = re.compile(r"\s+(?:and|&|und|et|y|e)\s+|\s*[;|]\s*|\s*,\s+(?=\S+\s+\S+)", re.I)
_URLISH = re.compile(r"^(?:https?:)?//|^www\.|\.(?:com|org|net)\b|@", re.I)


@dataclass
class Metadata:
    title: str | None = None
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    description: str | None = None
    image: str | None = None
    jsonld: list[Any] = field(default_factory=list)
    opengraph: dict[str, Any] = field(default_factory=dict)
    twitter_card: dict[str, str] = field(default_factory=dict)
    #: articleBody of the page's main JSON-LD object, if it has one.
    article_body: str | None = None


# --- small helpers ------------------------------------------------------------------------------


def clean_text(value: object) -> str | None:
    """Collapse whitespace and unescape stray entities; None for anything empty or not a string."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = " ".join(htmllib.unescape(value).split())
    return text or None


def _lower(value: object) -> str:
    return value.lower() if isinstance(value, str) else ""


def _types(node: dict[str, Any]) -> set[str]:
    raw = node.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    # "http://schema.org/NewsArticle" and "schema:NewsArticle" appear in the wild too.
    return {_lower(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for v in values if isinstance(v, str)}


def parse_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO-ish string; naive times are taken as UTC."""
    text = clean_text(value)
    if not text or len(text) > 64 or not any(ch.isdigit() for ch in text):
        return None
    try:
        parsed = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            with catch_warnings():
                # Unknown zone names ("IST") are ambiguous; the time is then read as UTC.
                simplefilter("ignore", dateparser.UnknownTimezoneWarning)
                parsed = dateparser.parse(text, fuzzy=False)
        except (ValueError, OverflowError, TypeError, dateparser.ParserError):
            return None
    if parsed is None or not 1900 <= parsed.year <= 2200:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        result: datetime = parsed.astimezone(UTC)
        return result
    except (ValueError, OverflowError):
        return None


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


# --- JSON-LD ------------------------------------------------------------------------------------


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


def _main_node(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    articles = [n for n in nodes if _types(n) & ARTICLE_TYPES]
    strong = [n for n in articles if _types(n) - _WEAK_TYPES]
    pool = strong or articles
    if not pool:
        return None
    # Pages list related articles too; the one with a body or a headline is the page's own.
    return max(pool, key=lambda n: (bool(n.get("articleBody")), bool(n.get("headline"))))


def _by_id(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 1}


def _names(value: Any, index: dict[str, dict[str, Any]], depth: int = 0) -> list[str]:
    """Names from a Person/Organization/list/string/@id reference."""
    if depth > 4:
        return []
    if isinstance(value, list):
        return [name for item in value for name in _names(item, index, depth + 1)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if "name" not in value and isinstance(value.get("@id"), str) and value["@id"] in index:
            return _names(index[value["@id"]], index, depth + 1)
        name = value.get("name")
        if isinstance(name, list):
            return [n for n in name if isinstance(n, str)]
        if isinstance(name, str):
            return [name]
    return []


def _image_url(value: Any) -> str | None:
    if isinstance(value, list):
        for item in value:
            found = _image_url(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        return _image_url(value.get("url") or value.get("contentUrl"))
    return value if isinstance(value, str) else None


# --- meta tags ----------------------------------------------------------------------------------


def _read_meta(tree: HtmlElement) -> tuple[dict[str, list[str]], dict[str, Any], dict[str, str]]:
    """One pass over <meta>: all by lower-cased name/property/itemprop/http-equiv, OpenGraph
    (og:* and article:*, repeated keys as lists) and Twitter card (by `name=` or, as many sites
    wrongly write it, `property=`; first value wins)."""
    tags: dict[str, list[str]] = {}
    graph: dict[str, Any] = {}
    card: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content")
        if content is None:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = meta.get(attr)
            if key:
                tags.setdefault(key.strip().lower(), []).append(content.strip())
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        if key.startswith(("og:", "article:")):
            current = graph.get(key)
            if current is None:
                graph[key] = content
            elif isinstance(current, list):
                current.append(content)
            else:
                graph[key] = [current, content]
        card_key = (meta.get("name") or meta.get("property") or "").strip().lower()
        if card_key.startswith("twitter:") and card_key not in card:
            card[card_key] = content
    return tags, graph, card


def _first(*values: object) -> str | None:
    for value in values:
        if isinstance(value, list):
            value = value[0] if value else None
        text = clean_text(value)
        if text:
            return text
    return None


def clean_authors(raw: list[str]) -> tuple[str, ...]:
    """Names only: no URLs or handles, no "By " prefix, split "A and B", deduplicated in order."""
    names: dict[str, str] = {}
    for value in raw:
        text = clean_text(value)
        if not text:
            continue
        text = _BY_PREFIX.sub("", text)
        for part in _AUTHOR_SPLIT.split(text):
            part = _BY_PREFIX.sub("", part).strip(" ,.-|·")
            if (
                not part
                or _URLISH.search(part)
                or len(part) > 80
                or not any(c.isalpha() for c in part)
            ):
                continue
            names.setdefault(part.casefold(), part)
    return tuple(names.values())


def _canonical(tree: HtmlElement, base: str, page_url: str, og_url: str | None) -> str | None:
    candidates = [
        link.get("href")
        for link in tree.iter("link")
        if "canonical" in (link.get("rel") or "").lower().split()
    ]
    candidates.append(og_url)
    page_path = urlsplit(page_url).path.strip("/") if page_url else ""
    for candidate in candidates:
        resolved = absolute_url(base, candidate)
        if not resolved:
            continue
        # A canonical at the site root on an article URL is a template bug, not a claim.
        if page_path and not urlsplit(resolved).path.strip("/") and not urlsplit(resolved).query:
            continue
        return resolved
    return None


def base_url(tree: HtmlElement, url: str) -> str:
    """The URL relative links resolve against: `<base href>` if valid, else the page URL."""
    for base in tree.iter("base"):
        resolved = absolute_url(url, base.get("href"))
        if resolved:
            return resolved
    return url


def _itemprop_text(tree: HtmlElement, prop: str) -> list[str]:
    values: list[str] = []
    for elem in tree.xpath(f'//*[@itemprop="{prop}"]'):
        value = elem.get("content") or elem.get("datetime")
        if value is None:
            inner = elem.xpath('.//*[@itemprop="name"]')
            value = (inner[0] if inner else elem).text_content()
        values.append(value)
    return values[:10]


def read_metadata(tree: HtmlElement, url: str, warnings: list[str]) -> Metadata:
    """Everything but the main text, each field from its most trustworthy source first."""
    meta = Metadata()
    base = base_url(tree, url)
    meta.jsonld = read_jsonld(tree, warnings)
    nodes = list(jsonld_nodes(meta.jsonld))
    index = _by_id(nodes)
    main = _main_node(nodes) or {}
    tags, meta.opengraph, meta.twitter_card = _read_meta(tree)
    og, tw = meta.opengraph, meta.twitter_card

    def tag(*keys: str) -> list[str]:
        return [v for k in keys for v in tags.get(k, [])]

    publisher = _names(main.get("publisher"), index)
    websites = [n for n in nodes if "website" in _types(n)]
    title_elem = tree.find(".//title")
    html_title = title_elem.text_content() if title_elem is not None else None
    meta.title = _first(
        main.get("headline"),
        og.get("og:title"),
        tw.get("twitter:title"),
        tag("dc.title", "parsely-title", "sailthru.title"),
        html_title,
        main.get("name"),
    )
    meta.site_name = _first(
        og.get("og:site_name"),
        publisher,
        [w.get("name") for w in websites],
        tag("application-name", "apple-mobile-web-app-title"),
    )
    meta.title = _strip_site_suffix(meta.title, meta.site_name)
    meta.description = _first(
        og.get("og:description"),
        tag("description"),
        tw.get("twitter:description"),
        main.get("description"),
        tag("dc.description"),
    )
    image = _first(
        og.get("og:image"),
        og.get("og:image:url"),
        og.get("og:image:secure_url"),
        tw.get("twitter:image"),
        tw.get("twitter:image:src"),
        _image_url(main.get("image")),
    )
    meta.image = absolute_url(base, image)
    meta.canonical_url = _canonical(tree, base, url, _first(og.get("og:url")))

    html_elem = tree if tree.tag == "html" else tree.find(".//html")
    lang_sources: list[object] = [
        html_elem.get("lang") if html_elem is not None else None,
        html_elem.get("xml:lang") if html_elem is not None else None,
        main.get("inLanguage"),
        og.get("og:locale"),
        *tag("content-language", "language", "dc.language"),
    ]
    for source in lang_sources:
        language = normalise_language(source[0] if isinstance(source, list) and source else source)
        if language:
            meta.language = language
            break

    authors = clean_authors(_names(main.get("author"), index) + _names(main.get("creator"), index))
    if not authors:
        authors = clean_authors(
            tag(
                "author",
                "article:author",
                "dc.creator",
                "parsely-author",
                "sailthru.author",
                "byl",
                "byline",
                "cxenseparse:author",
            )
        )
    if not authors:
        authors = clean_authors(_itemprop_text(tree, "author"))
    if not authors:
        authors = clean_authors([a.text_content() for a in tree.xpath('//a[@rel="author"]')][:5])
    meta.authors = authors

    meta.published_at = _first_date(
        main.get("datePublished"),
        tag("article:published_time", "og:published_time", "datepublished"),
        lambda: _itemprop_text(tree, "datePublished"),
        tag(
            "dc.date.issued",
            "dcterms.issued",
            "dc.date",
            "dcterms.date",
            "date",
            "parsely-pub-date",
            "sailthru.date",
            "pubdate",
            "publishdate",
            "publish-date",
            "article.published",
            "cxenseparse:recs:publishtime",
        ),
        main.get("dateCreated"),
        lambda: [t.get("datetime") for t in tree.xpath("//time[@pubdate]")],
    )
    meta.modified_at = _first_date(
        main.get("dateModified"),
        tag(
            "article:modified_time",
            "og:updated_time",
            "datemodified",
            "dcterms.modified",
            "dc.date.modified",
            "last-modified",
            "lastmod",
            "article.updated",
        ),
        lambda: _itemprop_text(tree, "dateModified"),
    )
    body = main.get("articleBody")
    if isinstance(body, str) and body.strip():
        meta.article_body = body
    return meta


def guess_published(tree: HtmlElement, url: str) -> datetime | None:
    """htmldate's reading of markup and URL, for pages that state no publication date outright."""
    try:
        from htmldate import find_date
    except ImportError:
        return None
    try:
        # htmldate prunes the tree it is given.
        found = find_date(
            deepcopy(tree),
            extensive_search=False,  # free-text date guesses are wrong too often to keep as evidence
            original_date=True,
            outputformat="%Y-%m-%dT%H:%M:%S",
            url=url or None,
        )
    except Exception:  # deliberately broad: a failing fallback guess is simply no guess
        return None
    return parse_datetime(found)


def _strip_site_suffix(title: str | None, site: str | None) -> str | None:
    """Cut the site name off a title like "Headline | Site": the site name is its own field."""
    if not title or not site:
        return title
    for sep in (" | ", " - ", " – ", " — ", " :: ", " : ", "｜", "："):
        suffix = sep + site
        if title.casefold().endswith(suffix.casefold()) and len(title) > len(suffix) + 10:
            return title[: -len(suffix)].rstrip()
    return title


def _first_date(*sources: object) -> datetime | None:
    """The first parseable date; sources may be callables, so costly lookups run only if needed."""
    for source in sources:
        if callable(source):
            source = source()
        values = source if isinstance(source, list) else [source]
        for value in values:
            parsed = parse_datetime(value)
            if parsed is not None:
                return parsed
    return None
