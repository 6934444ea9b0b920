"""Reddit's 2024+ HTML post page (`<shreddit-post>`) as a Post. No route of `fetch_post` asks for
the page (anonymous readers get the login wall); this reads pages a caller already holds."""

from __future__ import annotations

from typing import Any

from archiver.errors import ParseError
from archiver.model import Platform, Post
from archiver.platforms._richtext import html_to_text
from archiver.platforms._route import html_soup, parse_timestamp
from archiver.platforms.reddit.fields import author_of
from archiver.platforms.reddit.ids import BASE


def parse_shreddit_page(page: str | bytes) -> Post:
    """A 2024+ post page: the `<shreddit-post>` element's attributes and its text body."""
    soup = html_soup(page)
    element = soup.find("shreddit-post")
    if element is None:
        raise ParseError("Reddit page has no <shreddit-post> element (login wall or app shell?).")

    def attr(name: str) -> str | None:
        value = element.get(name)
        return value if isinstance(value, str) and value else None

    fullname = attr("id") or ""
    permalink = attr("permalink") or ""
    url = BASE + permalink if permalink.startswith("/") else permalink
    body = element.find(None, {"slot": "text-body"})
    text, links = "", tuple[str, ...]()
    if body is not None:
        rich = html_to_text(str(body), base_url=url or BASE)
        text, links = rich.text, rich.links
    target = attr("content-href")
    if target and target.rstrip("/") != url.rstrip("/"):
        links = (target, *(link for link in links if link != target))
    extra: dict[str, Any] = {"fullname": fullname}
    for name in ("subreddit-prefixed-name", "score", "comment-count", "post-type", "domain"):
        if attr(name):
            extra[name.replace("-", "_")] = attr(name)
    return Post(
        platform=Platform.REDDIT,
        id=fullname.removeprefix("t3_"),
        url=url,
        author=author_of(attr("author")),
        text=text,
        via="page",
        created_at=parse_timestamp(attr("created-timestamp")),
        lang=attr("post-language"),
        links=links,
        title=attr("post-title"),
        extra=extra,
    )
