"""Shared by platform modules: route bookkeeping (every request kept, whichever route answers)
and small readers for the JSON and timestamps platforms send."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from archiver.errors import FetchError, RateLimited
from archiver.model import Exchange, Post, PostResult, Status

if TYPE_CHECKING:
    from archiver.fetch import Fetcher, Response


class Attempts:
    """The requests one `fetch_post` makes, in order, so failed fallbacks stay on record."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self.exchanges: list[Exchange] = []

    def get(self, url: str, **kwargs: Any) -> Response:
        try:
            response = self.fetcher.get(url, **kwargs)
        except FetchError as exc:
            # Earlier routes' requests belong to the record of this failure too.
            self.exchanges.extend(exc.exchanges)
            exc.exchanges = tuple(self.exchanges)
            raise
        self.exchanges.extend(response.exchanges)
        return response

    def ok(self, post: Post, response: Response) -> PostResult:
        primary = response.exchanges[-1] if response.exchanges else None
        return PostResult(Status.OK, post, tuple(self.exchanges), primary, None, post.via)

    def gone(
        self,
        reason: str,
        response: Response | None = None,
        via: str | None = None,
        post: Post | None = None,
    ) -> PostResult:
        """Gone; `post` holds what the platform still shows (a removed Reddit post's title)."""
        primary = response.exchanges[-1] if response is not None and response.exchanges else None
        return PostResult(Status.GONE, post, tuple(self.exchanges), primary, reason, via)

    def failed(self, reason: str, via: str | None = None) -> PostResult:
        return PostResult(Status.FAILED, None, tuple(self.exchanges), None, reason, via)

    def rate_limited(
        self, response: Response, reset_at: datetime | None, where: str
    ) -> RateLimited:
        """A RateLimited error with the wait until `reset_at`, measured on the server's clock."""
        retry_after: float | None = None
        if reset_at is not None:
            retry_after = max(0.0, (reset_at - server_now(response.headers)).total_seconds())
        else:
            retry_after = _retry_after_header(response)
        return RateLimited(
            f"{where} answered 429 Too Many Requests for {response.url}; "
            "wait for the limit to reset and try again.",
            url=response.url,
            status=response.status,
            retry_after=retry_after,
            exchanges=tuple(self.exchanges),
        )


def server_now(headers: Any) -> datetime:
    """The response's `Date`, so a reset timestamp is compared on the server's own clock."""
    value = _header(headers, "date")
    if value:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _retry_after_header(response: Response) -> float | None:
    value = _header(response.headers, "retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, (when - server_now(response.headers)).total_seconds())


def _header(headers: Any, name: str) -> str | None:
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name:
                return str(value)
        return None
    for key, value in headers:
        if str(key).lower() == name:
            return str(value)
    return None


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp (with `Z` or an offset) as an aware UTC datetime; None if unusable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.11 accepts at most 6 fractional digits; some servers send more.
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        if digits > 6:
            text = f"{head}.{rest[:6]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def mapping(value: object) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one: platform JSON is often partial."""
    return value if isinstance(value, Mapping) else {}


def json_value(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (HTML walls, plain-text errors)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is anything else."""
    data = json_value(body)
    return data if isinstance(data, dict) else None
