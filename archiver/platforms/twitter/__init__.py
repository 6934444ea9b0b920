"""X/Twitter: recognise status URLs and fetch tweets without a login.

Routes, in order: the syndication endpoint behind embedded tweets, publish.twitter.com's oEmbed,
then the third-party FxTwitter API. A route that says "gone" does not settle it: syndication
tombstones some public tweets, so a tweet is gone only when every route says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from archiver.errors import (
    ArchiverError,
    FetchError,
    HTTPError,
    InvalidURL,
    ParseError,
    RateLimited,
)
from archiver.model import Exchange, Platform, Post, PostResult, Status
from archiver.platforms.twitter.fields import as_dict, as_str, parse_time
from archiver.platforms.twitter.fxtwitter import parse_fxtwitter
from archiver.platforms.twitter.ids import match, snowflake_time, status_id, status_url
from archiver.platforms.twitter.oembed import parse_oembed
from archiver.platforms.twitter.syndication import parse_syndication
from archiver.platforms.twitter.token import js_number_to_string, syndication_token

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response

PLATFORM = Platform.TWITTER

__all__ = [
    "PLATFORM",
    "fetch_post",
    "js_number_to_string",
    "match",
    "parse_fxtwitter",
    "parse_oembed",
    "parse_syndication",
    "parse_time",
    "snowflake_time",
    "status_id",
    "status_url",
    "syndication_token",
]

_ACCEPT_JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class _NoPost:
    """A route's answer that holds no post; `gone` when it says the tweet does not exist."""

    reason: str
    gone: bool = False


def _syndication_url(tweet_id: str) -> str:
    token = syndication_token(tweet_id)
    return f"https://cdn.syndication.twimg.com/tweet-result?id={tweet_id}&token={token}&lang=en"


def _oembed_url(tweet_id: str) -> str:
    # twitter.com/i/status/<id> is accepted by every publish.twitter.com version seen so far.
    return (
        f"https://publish.twitter.com/oembed?url=https://twitter.com/i/status/{tweet_id}"
        "&omit_script=1&dnt=true"
    )


def _fxtwitter_url(tweet_id: str) -> str:
    return f"https://api.fxtwitter.com/status/{tweet_id}"


def _json_object(response: Response) -> dict[str, Any]:
    data = response.json()
    if not isinstance(data, dict):
        raise ParseError(f"answered a JSON {type(data).__name__}, not an object")
    return data


def _read_syndication(response: Response, tweet_id: str) -> Post | _NoPost:
    if response.status == 404:
        return _NoPost("HTTP 404", gone=True)
    if response.status != 200:
        return _NoPost(f"HTTP {response.status}")
    data = _json_object(response)
    if not data:
        return _NoPost("empty answer {}", gone=True)
    if data.get("__typename") == "TweetTombstone":
        said = as_str(as_dict(as_dict(data.get("tombstone")).get("text")).get("text"))
        return _NoPost(f"tombstone ({said})" if said else "tombstone", gone=True)
    return parse_syndication(data)


def _read_oembed(response: Response, tweet_id: str) -> Post | _NoPost:
    if response.status == 404:
        return _NoPost("HTTP 404", gone=True)
    if response.status == 403:
        return _NoPost("HTTP 403: not authorized to see this status (protected account)")
    if response.status != 200:
        return _NoPost(f"HTTP {response.status}")
    return parse_oembed(_json_object(response), status_url(tweet_id))


def _read_fxtwitter(response: Response, tweet_id: str) -> Post | _NoPost:
    try:
        data = _json_object(response)
    except ParseError:
        if response.status == 404:
            return _NoPost("HTTP 404", gone=True)
        raise
    # FxTwitter mirrors X's answer in `code`, and may do so inside an HTTP 200.
    code = data.get("code", response.status)
    if code == 404:
        return _NoPost("code 404 (not found)", gone=True)
    if code == 401:
        return _NoPost("code 401 (private or unavailable post)")
    if code != 200 or response.status != 200:
        return _NoPost(f"HTTP {response.status}, code {code} ({data.get('message')})")
    return parse_fxtwitter(data)


_Reader = Callable[["Response", str], "Post | _NoPost"]
_ROUTES: tuple[tuple[str, Callable[[str], str], _Reader], ...] = (
    ("syndication", _syndication_url, _read_syndication),
    ("oembed", _oembed_url, _read_oembed),
    ("fxtwitter", _fxtwitter_url, _read_fxtwitter),
)


def _rate_limit(response: Response) -> RateLimited | None:
    """The fetcher's verdict on 429 (and 503 with Retry-After), carrying the delay asked for."""
    try:
        response.raise_for_status()
    except RateLimited as exc:
        return exc
    except HTTPError:
        return None  # other statuses are each route's to judge
    return None


def fetch_post(fetcher: Fetcher, url: str) -> PostResult:
    """Fetch the tweet at `url` by the first route that answers with it; every request is kept."""
    tweet_id = status_id(url)
    if tweet_id is None:
        raise InvalidURL(f"{url} is not a tweet URL (expected https://x.com/<user>/status/<id>)")
    exchanges: list[Exchange] = []
    notes: list[str] = []
    gone = 0
    limited: list[RateLimited] = []
    for route, make_url, read in _ROUTES:
        try:
            response = fetcher.get(make_url(tweet_id), headers=_ACCEPT_JSON)
        except FetchError as exc:
            exchanges.extend(exc.exchanges)
            notes.append(f"{route}: {exc}")
            continue
        exchanges.extend(response.exchanges)
        rate_limited = _rate_limit(response)
        if rate_limited is not None:
            limited.append(rate_limited)
            notes.append(f"{route}: rate limited (HTTP {response.status})")
            continue
        if response.status >= 500:
            notes.append(f"{route}: HTTP {response.status}")
            continue
        try:
            answer = read(response, tweet_id)
        except ArchiverError as exc:
            notes.append(f"{route}: {exc}")
            continue
        if isinstance(answer, _NoPost):
            gone += 1 if answer.gone else 0
            notes.append(f"{route}: {answer.reason}")
            continue
        if notes:
            answer = replace(answer, extra={**answer.extra, "earlier_routes": tuple(notes)})
        return PostResult(
            status=Status.OK,
            post=answer,
            exchanges=tuple(exchanges),
            primary=response.exchanges[-1] if response.exchanges else None,
            via=route,
        )
    reason = "; ".join(notes)
    if len(limited) == len(_ROUTES):
        waits = [e.retry_after for e in limited if e.retry_after is not None]
        raise RateLimited(
            f"every route to tweet {tweet_id} is rate limiting us ({reason}); try again later",
            url=url,
            retry_after=max(waits) if waits else None,
            exchanges=tuple(exchanges),
        )
    status = Status.GONE if gone == len(_ROUTES) else Status.FAILED
    return PostResult(
        status=status, post=None, exchanges=tuple(exchanges), primary=None, reason=reason
    )
