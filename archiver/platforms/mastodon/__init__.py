"""Mastodon and the wider fediverse: the instance's REST API, then ActivityPub.

A fediverse server cannot be recognised by its domain, so `match` goes by path shape only and
`FALLBACK_TO_WEB` tells the archiver to capture the page as a web page when no route answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archiver.errors import FetchError, ParseError, RateLimited
from archiver.model import Platform, PostResult
from archiver.platforms._route import Attempts, json_object, parse_timestamp
from archiver.platforms.mastodon.activitypub import is_tombstone, parse_activity
from archiver.platforms.mastodon.api import parse_status
from archiver.platforms.mastodon.fields import as_str
from archiver.platforms.mastodon.ids import RouteKind, StatusRef, match, parse_url

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.MASTODON
#: When neither the API nor ActivityPub answers (and the post is not gone), capture the page.
FALLBACK_TO_WEB = True

ACTIVITY_ACCEPT = (
    "application/activity+json, "
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)

__all__ = [
    "ACTIVITY_ACCEPT",
    "FALLBACK_TO_WEB",
    "PLATFORM",
    "RouteKind",
    "StatusRef",
    "fetch_post",
    "is_tombstone",
    "match",
    "parse_activity",
    "parse_status",
    "parse_url",
]


def _status_from_api(response: Response) -> dict[str, Any] | None:
    data = json_object(response.body)
    if response.status != 200 or data is None or not isinstance(data.get("id"), str):
        return None
    return data if isinstance(data.get("account"), Mapping) else None


def _gone_from_api(response: Response) -> bool:
    """Mastodon's own 404 is JSON (`{"error":"Record not found"}`); an HTML one is not Mastodon."""
    if response.status == 410:
        return True
    data = json_object(response.body)
    # Other software answers unknown API routes with JSON too, but not with a string error.
    return response.status == 404 and data is not None and isinstance(data.get("error"), str)


def _rate_limit(attempts: Attempts, response: Response) -> None:
    if response.status == 429:
        reset = parse_timestamp(response.header("x-ratelimit-reset"))
        raise attempts.rate_limited(
            response, reset, f"Fediverse server {urlsplit(response.url).netloc}"
        )


def _fetch_activity(attempts: Attempts, url: str) -> tuple[PostResult | None, str]:
    """ActivityPub GET; a result when it settles the matter, else the reason it did not."""
    response = attempts.get(url, headers={"Accept": ACTIVITY_ACCEPT})
    _rate_limit(attempts, response)
    data = json_object(response.body)
    if response.status in {404, 410} or (data is not None and is_tombstone(data)):
        return attempts.gone(
            f"The post at {url} was deleted (ActivityPub answered {response.status}"
            f"{', Tombstone' if data is not None and is_tombstone(data) else ''}).",
            response,
            "activitypub",
        ), ""
    if response.status == 401:
        return None, "server requires authorised fetch (HTTP 401 to an unsigned ActivityPub GET)"
    if response.status == 200 and data is not None:
        try:
            return attempts.ok(parse_activity(data), response), ""
        except ParseError as exc:
            return None, str(exc)
    return (
        None,
        f"ActivityPub GET of {url} answered {response.status} {response.content_type or ''}",
    )


def _origin_copy(
    attempts: Attempts, status: Mapping[str, Any], viewer: str
) -> PostResult | str | None:
    """The origin server's copy of a remote status (its API when it speaks Mastodon, else
    ActivityPub): a settled result, why it could not be had, or None for a local status."""
    uri = as_str(status.get("uri")) or as_str(status.get("url"))
    if uri is None or urlsplit(uri).netloc.lower() == viewer:
        return None
    origin = parse_url(uri)
    try:
        if origin is not None and origin.kind == "api":
            response = attempts.get(f"https://{origin.host}/api/v1/statuses/{origin.id}")
            _rate_limit(attempts, response)
            data = _status_from_api(response)
            if data is not None:
                post = parse_status(data, api_host=origin.host, via="api-origin")
                return attempts.ok(post, response)
            if _gone_from_api(response):
                return attempts.gone(
                    f"The post was deleted on its origin server {origin.host} "
                    f"(a stale copy remains on {viewer}).",
                    response,
                    "api-origin",
                )
        result, problem = _fetch_activity(attempts, uri)
    except RateLimited:
        raise
    except FetchError as exc:
        # The uri comes from the remote server's data; the Fetcher's guard may refuse it.
        return f"origin copy at {uri} could not be fetched: {exc}"
    return result if result is not None else f"origin copy at {uri}: {problem}"


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """Fetch a fediverse post: `/api/v1/statuses/<id>` (origin copy for remote posts), then
    ActivityPub. 404/410/Tombstone → gone; 401 → failed (authorised fetch); 429 → RateLimited."""
    ref = parse_url(url)
    if ref is None:
        raise ParseError(f"{url} is not a fediverse post URL (/@user/<id>, /notice/<id>, …).")
    attempts = Attempts(fetcher)
    problems: list[str] = []
    if ref.kind == "api":
        response = attempts.get(f"https://{ref.host}/api/v1/statuses/{ref.id}")
        _rate_limit(attempts, response)
        data = _status_from_api(response)
        if data is not None:
            post = parse_status(data, api_host=ref.host)
            origin = _origin_copy(attempts, data.get("reblog") or data, ref.host)
            # Deleted at the origin means gone, however stale the copy on this server.
            if isinstance(origin, PostResult):
                return origin
            if origin is not None:
                post = replace(post, extra={**post.extra, "origin_error": origin})
            return attempts.ok(post, response)
        if _gone_from_api(response):
            return attempts.gone(
                f"{ref.host} says status {ref.id} does not exist or is not public "
                f"(HTTP {response.status}).",
                response,
                "api",
            )
        if response.status == 401:
            problems.append("server requires authorised fetch (API answered HTTP 401)")
        else:
            problems.append(f"API answered {response.status} {response.content_type or ''}".strip())
    activity_url = ref.url
    if ref.kind == "api" and ref.user and not ref.remote and "/users/" not in ref.url:
        activity_url = f"https://{ref.host}/users/{ref.user}/statuses/{ref.id}"
    result, problem = _fetch_activity(attempts, activity_url)
    if result is not None:
        return result
    problems.append(problem)
    if any("authorised fetch" in p for p in problems):
        return attempts.failed(
            f"{ref.host}: server requires authorised fetch; the post cannot be read without an "
            f"account on a federating server ({'; '.join(problems)})."
        )
    return attempts.failed(f"No fediverse route answered for {url}: {'; '.join(problems)}.")
