"""Reddit without an account: the post's Atom feed, oEmbed, then the `.json` listing.

Since 2026 Reddit walls most anonymous access (the `.json` listing answers 403 with its app
shell, old.reddit.com redirects to `/login/?reason=lor2`); such answers are reported as login
walls and never archived as the post.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from lxml import etree

from archiver.errors import ParseError
from archiver.model import Author, Media, Platform, Post, PostResult
from archiver.platforms._richtext import fragment_soup, html_to_text
from archiver.platforms._route import (
    Attempts,
    array,
    html_soup,
    json_object,
    json_value,
    parse_timestamp,
    server_now,
)

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.REDDIT
BASE = "https://www.reddit.com"

_ID = r"[a-z0-9]{1,13}"
_POST_PATH = re.compile(
    rf"^/(?:(?:r|user|u)/(?P<where>[A-Za-z0-9_-]+)/)?comments/(?P<id>{_ID})"
    rf"(?:/(?P<slug>[^/]*)(?:/(?P<comment>{_ID}))?)?/?$",
    re.IGNORECASE,
)
_SHARE_PATH = re.compile(r"^/(?:r|u|user)/[A-Za-z0-9_-]+/s/[A-Za-z0-9]+/?$")
_GALLERY_PATH = re.compile(rf"^/gallery/(?P<id>{_ID})/?$", re.IGNORECASE)
_ATOM = "{http://www.w3.org/2005/Atom}"
_MEDIA_NS = "{http://search.yahoo.com/mrss/}"
_REMOVED_TEXT = {"[deleted]", "[removed]"}


@dataclass(frozen=True)
class PostRef:
    #: base36 post ID; None for share links, which must be resolved over HTTP first.
    post_id: str | None
    comment_id: str | None = None
    share_url: str | None = None
    #: `https://www.reddit.com/r/<sub>/comments/<id>/<slug>/` when the URL spelled it out.
    permalink: str | None = None


def parse_url(url: str) -> PostRef | None:
    """The post (or comment) a Reddit URL names; share links (`/r/x/s/<code>`) need resolving."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"}:
        return None
    if host in {"redd.it", "www.redd.it"}:
        found = re.fullmatch(rf"/({_ID})/?", parts.path, re.IGNORECASE)
        return PostRef(found[1].lower()) if found else None
    if host != "reddit.com" and not host.endswith(".reddit.com"):
        return None
    if _SHARE_PATH.match(parts.path):
        return PostRef(None, share_url=f"https://www.reddit.com{parts.path}")
    gallery = _GALLERY_PATH.match(parts.path)
    if gallery:
        return PostRef(gallery["id"].lower())
    found = _POST_PATH.match(parts.path)
    if found is None:
        return None
    comment = found["comment"].lower() if found["comment"] else None
    post_id = found["id"].lower()
    permalink = None
    if found["where"] and found["slug"] and parts.path.lower().startswith("/r/"):
        permalink = f"{BASE}/r/{found['where']}/comments/{post_id}/{found['slug']}/"
    return PostRef(post_id, comment, permalink=permalink)


def match(url: str) -> bool:
    """Is this a Reddit post or comment URL (any reddit.com subdomain, redd.it, share links)?"""
    return parse_url(url) is not None


# --- pure parsers -------------------------------------------------------------------------------


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _removal(author: str | None, body: str | None, category: object = None) -> str | None:
    """Why a post is gone, from Reddit's own markers, or None when it is not."""
    if isinstance(category, str) and category:
        return category
    if body in _REMOVED_TEXT:
        return body.strip("[]")
    if author == "[deleted]" and not body:
        return "deleted"
    return None


def _author(name: str | None) -> Author:
    if name is None or name == "[deleted]":
        return Author(name=name)
    return Author(name=name, handle=f"u/{name}", url=f"{BASE}/user/{name}/")


def _selftext(html_text: str | None, *, base_url: str) -> tuple[str, tuple[str, ...]]:
    if not html_text:
        return "", ()
    if html_text.lstrip().startswith("&lt;"):
        html_text = htmllib.unescape(html_text)  # asked without raw_json=1
    rich = html_to_text(html_text, base_url=base_url)
    return rich.text, rich.links


def _listing_media(data: Mapping[str, Any]) -> tuple[Media, ...]:
    media: list[Media] = []
    secure = data.get("secure_media") or data.get("media")
    video = secure.get("reddit_video") if isinstance(secure, Mapping) else None
    if isinstance(video, Mapping) and _str(video.get("fallback_url")):
        duration = video.get("duration")
        media.append(
            Media(
                url=htmllib.unescape(video["fallback_url"]),
                type="gif" if video.get("is_gif") else "video",
                width=video.get("width") if isinstance(video.get("width"), int) else None,
                height=video.get("height") if isinstance(video.get("height"), int) else None,
                duration_ms=duration * 1000 if isinstance(duration, int) else None,
            )
        )
    metadata = data.get("media_metadata")
    gallery = data.get("gallery_data")
    order = (
        [i.get("media_id") for i in gallery.get("items", ()) if isinstance(i, Mapping)]
        if isinstance(gallery, Mapping)
        else list(metadata)
        if isinstance(metadata, Mapping)
        else []
    )
    captions = {
        i.get("media_id"): i.get("caption")
        for i in (gallery.get("items", ()) if isinstance(gallery, Mapping) else ())
        if isinstance(i, Mapping)
    }
    for media_id in order:
        item = metadata.get(media_id) if isinstance(metadata, Mapping) else None
        source = item.get("s") if isinstance(item, Mapping) else None
        if not isinstance(source, Mapping):
            continue
        url = _str(source.get("u")) or _str(source.get("gif")) or _str(source.get("mp4"))
        if url:
            media.append(
                Media(
                    url=htmllib.unescape(url),
                    type="gif" if source.get("gif") or source.get("mp4") else "image",
                    alt=_str(captions.get(media_id)),
                    width=source.get("x") if isinstance(source.get("x"), int) else None,
                    height=source.get("y") if isinstance(source.get("y"), int) else None,
                )
            )
    target = _str(data.get("url_overridden_by_dest")) or _str(data.get("url"))
    if not media and target and data.get("post_hint") == "image":
        media.append(Media(url=htmllib.unescape(target), type="image"))
    return tuple(media)


def _find_comment(listing: object, comment_id: str) -> Mapping[str, Any] | None:
    if not isinstance(listing, Mapping):
        return None
    children = (
        listing.get("data", {}).get("children")
        if isinstance(listing.get("data"), Mapping)
        else None
    )
    for child in array(children):
        if not isinstance(child, Mapping) or child.get("kind") != "t1":
            continue
        data = child.get("data")
        if not isinstance(data, Mapping):
            continue
        if data.get("id") == comment_id:
            return data
        found = _find_comment(data.get("replies"), comment_id)
        if found is not None:
            return found
    return None


def parse_listing(data: Any, *, comment_id: str | None = None, via: str = "json") -> Post:
    """A `/comments/<id>.json?raw_json=1` answer (`[post listing, comment listing]`) → Post.

    With `comment_id`, the post is that comment (searched through the reply tree).
    """
    try:
        post: Mapping[str, Any] = data[0]["data"]["children"][0]["data"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ParseError("Reddit listing has no post at [0].data.children[0].data.") from exc
    if not isinstance(post, Mapping) or not _str(post.get("id")):
        raise ParseError("Reddit listing's first child is not a post.")
    permalink = BASE + (_str(post.get("permalink")) or f"/comments/{post['id']}/")
    if comment_id is not None:
        comment = _find_comment(data[1] if len(data) > 1 else None, comment_id)
        if comment is None:
            raise ParseError(f"Reddit listing does not contain comment {comment_id}.")
        return _comment_post(comment, permalink, via)

    text, links = _selftext(_str(post.get("selftext_html")), base_url=permalink)
    if not post.get("selftext_html") and _str(post.get("selftext")):
        text = post["selftext"]
    target = _str(post.get("url_overridden_by_dest")) or _str(post.get("url"))
    if target and not post.get("is_self") and target.startswith("http"):
        target = htmllib.unescape(target)
        links = (target, *(link for link in links if link != target))
    created = post.get("created_utc")
    extra: dict[str, Any] = {"subreddit": post.get("subreddit"), "fullname": post.get("name")}
    for key in ("score", "ups", "upvote_ratio", "num_comments", "over_18", "spoiler", "domain",
                "edited", "link_flair_text", "locked", "removed_by_category", "post_hint",
                "crosspost_parent", "is_self", "thumbnail"):  # fmt: skip
        if post.get(key) not in (None, "", [], {}):
            extra[key] = post[key]
    removed = _removal(
        _str(post.get("author")), _str(post.get("selftext")), post.get("removed_by_category")
    )
    if removed:
        extra["removed"] = removed
    return Post(
        platform=PLATFORM,
        id=post["id"],
        url=permalink,
        author=_author(_str(post.get("author"))),
        text=text,
        via=via,
        created_at=datetime.fromtimestamp(created, UTC)
        if isinstance(created, int | float)
        else None,
        links=links,
        media=_listing_media(post),
        title=_str(post.get("title")),
        extra=extra,
    )


def _comment_post(comment: Mapping[str, Any], post_url: str, via: str) -> Post:
    permalink = _str(comment.get("permalink"))
    url = BASE + permalink if permalink else f"{post_url.rstrip('/')}/{comment.get('id')}/"
    text, links = _selftext(_str(comment.get("body_html")), base_url=url)
    if not comment.get("body_html") and _str(comment.get("body")):
        text = comment["body"]
    parent = _str(comment.get("parent_id")) or ""
    reply_to = post_url if parent.startswith("t3_") else f"{post_url.rstrip('/')}/{parent[3:]}/"
    created = comment.get("created_utc")
    extra: dict[str, Any] = {"subreddit": comment.get("subreddit"), "post_url": post_url}
    for key in ("score", "edited", "distinguished", "stickied"):
        if comment.get(key) not in (None, "", [], {}):
            extra[key] = comment[key]
    removed = _removal(_str(comment.get("author")), _str(comment.get("body")))
    if removed:
        extra["removed"] = removed
    return Post(
        platform=PLATFORM,
        id=str(comment.get("id")),
        url=url,
        author=_author(_str(comment.get("author"))),
        text=text,
        via=via,
        created_at=datetime.fromtimestamp(created, UTC)
        if isinstance(created, int | float)
        else None,
        links=links,
        reply_to=reply_to,
        extra=extra,
    )


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
    removed = _removal(author_name or None, text or None)
    if removed:
        extra["removed"] = removed
    title = entry.findtext(f"{_ATOM}title")
    return Post(
        platform=PLATFORM,
        id=fullname.split("_", 1)[-1],
        url=url,
        author=_author(author_name or None),
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


def parse_oembed(data: Mapping[str, Any], *, post_id: str, via: str = "oembed") -> Post:
    """Reddit oEmbed (title, author, subreddit; no body text) → Post."""
    if not _str(data.get("title")) and not _str(data.get("html")):
        raise ParseError("Reddit oEmbed answer has neither 'title' nor 'html'.")
    url = f"{BASE}/comments/{post_id}/"
    extra: dict[str, Any] = {"oembed_html": data.get("html")}
    soup = fragment_soup(_str(data.get("html")) or "")
    for anchor in soup.find_all("a", href=True):
        href = str(anchor["href"])
        path = urlsplit(href).path
        if f"/comments/{post_id}/" in path:
            url = f"{BASE}{path}"
        elif re.fullmatch(r"/r/[^/]+/?", path):
            extra["subreddit"] = path.strip("/").split("/", 1)[1]
    return Post(
        platform=PLATFORM,
        id=post_id,
        url=url,
        author=_author(_str(data.get("author_name"))),
        text="",
        via=via,
        title=_str(data.get("title")),
        extra=extra,
    )


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
        platform=PLATFORM,
        id=fullname.removeprefix("t3_"),
        url=url,
        author=_author(attr("author")),
        text=text,
        via="page",
        created_at=parse_timestamp(attr("created-timestamp")),
        lang=attr("post-language"),
        links=links,
        title=attr("post-title"),
        extra=extra,
    )


def login_wall(status: int, final_url: str, body: bytes, content_type: str | None) -> str | None:
    """Why an answer is Reddit's login wall or block page (a reason string), else None."""
    parts = urlsplit(final_url)
    if parts.path.startswith("/login") or "lor2" in parse_qs(parts.query).get("reason", []):
        return "Reddit login wall: redirected to the login page (reason=lor2); log in to read it."
    head = body[:200_000].decode("utf-8", errors="replace").lower()
    if status == 403 or (status == 429 and "whoa there" in head):
        if "whoa there" in head:
            return "Reddit login wall: 403 'whoa there, pardner!' (this address is blocked)."
        if "network security" in head or "blocked" in head:
            return "Reddit login wall: 403 'blocked by network security' (this address is blocked)."
        if (content_type or "").endswith("html"):
            return "Reddit login wall: 403 with the app shell instead of content."
    if status == 200 and (content_type or "") == "text/html":
        return "Reddit login wall: an HTML page (the app shell) came back instead of data."
    return None


# --- fetching -----------------------------------------------------------------------------------


def _rate_limit(attempts: Attempts, response: Response) -> None:
    if (
        response.status != 429
        or "whoa there" in response.body[:5000].decode("utf-8", "replace").lower()
    ):
        return
    reset = response.header("x-ratelimit-reset")
    retry = None
    try:
        retry = float(reset) if reset else None
    except ValueError:
        retry = None
    # Reddit's reset header counts seconds from now, not a timestamp.
    reset_at = (
        server_now(response.headers) + timedelta(seconds=retry) if retry is not None else None
    )
    raise attempts.rate_limited(response, reset_at, "Reddit")


def _settle(attempts: Attempts, response: Response, post: Post) -> PostResult:
    """OK, or gone when Reddit marks the post deleted/removed (what remains is kept)."""
    removed = post.extra.get("removed")
    if removed:
        return attempts.gone(f"Reddit marks the post as {removed}.", response, post.via, post)
    return attempts.ok(post, response)


def _is_login(url: str) -> bool:
    """Do not fetch the login page a walled answer redirects to: the redirect is the evidence."""
    return urlsplit(url).path.startswith("/login")


def _is_reddit_post(url: str) -> bool:
    ref = parse_url(url)
    return ref is not None and ref.post_id is not None


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """Atom feed → oEmbed → `.json` listing; share links resolved first. Login walls → failed."""
    ref = parse_url(url)
    if ref is None:
        raise ParseError(
            f"{url} is not a Reddit post URL (/r/<sub>/comments/<id>/…, redd.it/<id>)."
        )
    attempts = Attempts(fetcher)
    if ref.post_id is None:
        assert ref.share_url is not None
        # Stop before requesting the permalink itself: the page is walled, the redirect is not.
        response = attempts.get(ref.share_url, stop=lambda u: _is_reddit_post(u) or _is_login(u))
        resolved = parse_url(response.final_url)
        if resolved is None or resolved.post_id is None:
            wall = login_wall(
                response.status, response.final_url, response.body, response.content_type
            )
            return attempts.failed(
                wall
                or f"Reddit share link {ref.share_url} did not lead to a post "
                f"(ended at {response.final_url}, HTTP {response.status}).",
                "share-link",
            )
        ref = resolved
    post_id, comment_id = ref.post_id, ref.comment_id
    assert post_id is not None
    short = f"{BASE}/comments/{post_id}/" + (f"_/{comment_id}/" if comment_id else "")
    problems: list[str] = []

    response = attempts.get(f"{short}.rss", stop=_is_login)
    _rate_limit(attempts, response)
    wall = login_wall(response.status, response.final_url, response.body, response.content_type)
    if wall is None and response.status == 200:
        try:
            return _settle(attempts, response, parse_atom(response.body, comment_id=comment_id))
        except ParseError as exc:
            problems.append(f"feed: {exc}")
    elif wall is None and response.status == 404:
        return attempts.gone(f"Reddit has no post {post_id} (feed answered 404).", response, "rss")
    else:
        problems.append(wall or f"feed answered HTTP {response.status}")

    if comment_id is None:
        permalink = ref.permalink or f"{BASE}/comments/{post_id}/"
        response = attempts.get(f"{BASE}/oembed?url={quote(permalink, safe='')}", stop=_is_login)
        _rate_limit(attempts, response)
        wall = login_wall(response.status, response.final_url, response.body, response.content_type)
        data = json_object(response.body)
        if wall is None and response.status == 200 and data is not None:
            try:
                return attempts.ok(parse_oembed(data, post_id=post_id), response)
            except ParseError as exc:
                problems.append(f"oEmbed: {exc}")
        elif wall is None and response.status == 404:
            return attempts.gone(
                f"Reddit has no post {post_id} (oEmbed answered 404).", response, "oembed"
            )
        else:
            problems.append(wall or f"oEmbed answered HTTP {response.status}")

    response = attempts.get(f"{BASE}/comments/{post_id}/.json?raw_json=1", stop=_is_login)
    _rate_limit(attempts, response)
    wall = login_wall(response.status, response.final_url, response.body, response.content_type)
    listing = json_value(response.body)
    if wall is None and response.status == 200 and isinstance(listing, list):
        try:
            return _settle(attempts, response, parse_listing(listing, comment_id=comment_id))
        except ParseError as exc:
            problems.append(f"JSON: {exc}")
    elif wall is None and response.status == 404:
        return attempts.gone(f"Reddit has no post {post_id} (JSON answered 404).", response, "json")
    else:
        problems.append(wall or f"JSON listing answered HTTP {response.status}")

    walls = [p for p in problems if p.startswith("Reddit login wall")]
    reason = walls[0] if walls else f"No Reddit route answered for {url}"
    return attempts.failed(f"{reason} (tried: {'; '.join(problems)})")
