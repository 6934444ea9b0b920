"""Page metadata from JSON-LD, OpenGraph, Twitter cards, meta tags and the HTML itself.

Every reader is defensive: publishers ship broken JSON-LD, wrong attribute names and mixed
formats, and one bad block must never cost the rest of the page. JSON-LD is read in `jsonld`,
dates in `dates`, single values in `fields`; this module weighs the sources against each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from archiver.extract.dates import first_date
from archiver.extract.fields import absolute_url, clean_text, normalise_language
from archiver.extract.jsonld import (
    entity_names,
    image_url,
    jsonld_nodes,
    main_node,
    node_types,
    nodes_by_id,
    read_jsonld,
)

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
    index = nodes_by_id(nodes)
    main = main_node(nodes) or {}
    tags, meta.opengraph, meta.twitter_card = _read_meta(tree)
    og, tw = meta.opengraph, meta.twitter_card

    def tag(*keys: str) -> list[str]:
        return [v for k in keys for v in tags.get(k, [])]

    publisher = entity_names(main.get("publisher"), index)
    websites = [n for n in nodes if "website" in node_types(n)]
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
        image_url(main.get("image")),
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

    authors = clean_authors(
        entity_names(main.get("author"), index) + entity_names(main.get("creator"), index)
    )
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

    meta.published_at = first_date(
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
    meta.modified_at = first_date(
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


def _strip_site_suffix(title: str | None, site: str | None) -> str | None:
    """Cut the site name off a title like "Headline | Site": the site name is its own field."""
    if not title or not site:
        return title
    for sep in (" | ", " - ", " – ", " — ", " :: ", " : ", "｜", "："):
        suffix = sep + site
        if title.casefold().endswith(suffix.casefold()) and len(title) > len(suffix) + 10:
            return title[: -len(suffix)].rstrip()
    return title
