"""Reddit without an account: the post's Atom feed, oEmbed, then the `.json` listing.

Since 2026 Reddit walls most anonymous access (the `.json` listing answers 403 with its app
shell, old.reddit.com redirects to `/login/?reason=lor2`); such answers are reported as login
walls and never archived as the post.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote

from archiver.errors import ParseError
from archiver.model import Platform, Post, PostResult
from archiver.platforms._route import Attempts, json_object, json_value, server_now
from archiver.platforms.reddit.feed import parse_atom
from archiver.platforms.reddit.ids import BASE, PostRef, match, parse_url
from archiver.platforms.reddit.listing import parse_listing
from archiver.platforms.reddit.oembed import parse_oembed
from archiver.platforms.reddit.page import parse_shreddit_page
from archiver.platforms.reddit.walls import is_login, login_wall

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.REDDIT

__all__ = [
    "PLATFORM",
    "PostRef",
    "fetch_post",
    "login_wall",
    "match",
    "parse_atom",
    "parse_listing",
    "parse_oembed",
    "parse_shreddit_page",
    "parse_url",
]


def _rate_limit(attempts: Attempts, response: Response) -> None:
    """Raise on Reddit's rate limit; a 429 "whoa there" block page is a wall, judged later."""
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


def _is_reddit_post(url: str) -> bool:
    """Has a share link's redirect reached a post (whose page, being walled, is not fetched)?"""
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
        response = attempts.get(ref.share_url, stop=lambda u: _is_reddit_post(u) or is_login(u))
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

    response = attempts.get(f"{short}.rss", stop=is_login)
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
        response = attempts.get(f"{BASE}/oembed?url={quote(permalink, safe='')}", stop=is_login)
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

    response = attempts.get(f"{BASE}/comments/{post_id}/.json?raw_json=1", stop=is_login)
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
