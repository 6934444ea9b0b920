"""The `/comments/<id>/.rss` route: Reddit's Atom feed of a post and its comments, as a Post."""

from __future__ import annotations

from typing import Any

from lxml import etree

from archiver.errors import ParseError
from archiver.model import Platform, Post
from archiver.platforms._richtext import fragment_soup, html_to_text
from archiver.platforms._route import parse_timestamp
from archiver.platforms.reddit.fields import author_of, removal
from archiver.platforms.reddit.ids import BASE

_ATOM = "{http://www.w3.org/2005/Atom}"
_MEDIA_NS = "{http://search.yahoo.com/mrss/}"


def _atom_content(content_html: str, base_url: str) -> tuple[str, tuple[str, ...]]:
    """Body of a feed entry: the markdown div's text, and the `[link]` target of link posts."""
    soup = fragment_soup(content_html)
    body = soup.find("div", class_="md")
    text, links = "", tuple[str, ...]()
    if body is not None:
        rich = html_to_text(str(body), base_url=base_url)
        text, links = rich.text, rich.links
    for anchor in soup.find_all("a"):
        href = anchor.get("href")
        if anchor.get_text(strip=True) == "[link]" and isinstance(href, str):
            if not href.startswith(BASE + "/r/") or "/comments/" not in href:
                links = (href, *(link for link in links if link != href))
            break
    return text, links


def parse_atom(xml: bytes, *, comment_id: str | None = None, via: str = "rss") -> Post:
    """A `/comments/<id>/.rss` Atom feed (post first, then comments) → Post.

    Parsed without DTDs, entities or network access: the feed is untrusted input.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"Reddit feed is not well-formed XML: {exc}") from exc
    if root.tag != f"{_ATOM}feed":
        raise ParseError(f"Reddit feed root is {root.tag!r}, not an Atom <feed>.")
    wanted = f"t1_{comment_id}" if comment_id else None
    entry = None
    for candidate in root.iter(f"{_ATOM}entry"):
        entry_id = (candidate.findtext(f"{_ATOM}id") or "").strip()
        if (wanted and entry_id == wanted) or (not wanted and entry_id.startswith("t3_")):
            entry = candidate
            break
    if entry is None:
        raise ParseError(f"Reddit feed has no entry for {wanted or 'the post'}.")
    fullname = (entry.findtext(f"{_ATOM}id") or "").strip()
    link = entry.find(f"{_ATOM}link")
    url = link.get("href") if link is not None and link.get("href") else ""
    author_name = (entry.findtext(f"{_ATOM}author/{_ATOM}name") or "").strip().removeprefix("/u/")
    content = entry.findtext(f"{_ATOM}content") or ""
    text, links = _atom_content(content, url or BASE)
    category = entry.find(f"{_ATOM}category")
    extra: dict[str, Any] = {"fullname": fullname}
    if category is not None and category.get("term"):
        extra["subreddit"] = category.get("term")
    thumbnail = entry.find(f"{_MEDIA_NS}thumbnail")
    if thumbnail is not None and thumbnail.get("url"):
        extra["thumbnail"] = thumbnail.get("url")
    if entry.findtext(f"{_ATOM}updated"):
        extra["updated"] = entry.findtext(f"{_ATOM}updated")
    reply_to = None
    if comment_id:
        alternate = next(
            (e.get("href") for e in root.findall(f"{_ATOM}link") if e.get("rel") == "alternate"),
            None,
        )
        extra["post_url"] = alternate
    removed = removal(author_name or None, text or None)
    if removed:
        extra["removed"] = removed
    title = entry.findtext(f"{_ATOM}title")
    return Post(
        platform=Platform.REDDIT,
        id=fullname.split("_", 1)[-1],
        url=url,
        author=author_of(author_name or None),
        text=text,
        via=via,
        created_at=parse_timestamp(
            entry.findtext(f"{_ATOM}published") or entry.findtext(f"{_ATOM}updated")
        ),
        links=links,
        reply_to=reply_to,
        title=None if comment_id else (title.strip() if title else None),
        extra=extra,
    )
