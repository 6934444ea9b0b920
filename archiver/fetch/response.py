"""What a GET chain answers: the final `Response` with every hop, and each `Hop` on the way.

A plain value, so platforms read status, text and JSON without touching httpx.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from archiver.charset import decode_text
from archiver.errors import HTTPError, ParseError, RateLimited
from archiver.model import Exchange, Headers, Redirect, header
from archiver.urls import redact_url

#: Retry-After values beyond this are clamped: a server cannot park a worker for days.
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Response:
    """The final answer of a GET chain, with every hop that led to it.

    Its URLs, like those of its exchanges and errors, carry no `user:password@`.
    """

    url: str
    final_url: str
    status: int
    reason: str
    headers: Headers
    body: bytes
    content_type: str
    charset: str | None
    redirects: tuple[Redirect, ...]
    exchanges: tuple[Exchange, ...]
    stopped: bool = False

    def header(self, name: str) -> str | None:
        """First value of response header `name`, case-insensitively."""
        return header(self.headers, name)

    def text(self) -> str:
        """The body as text; undecodable bytes become U+FFFD rather than an error."""
        return decode_text(self.body, self.charset)

    def json(self) -> Any:
        """The body parsed as JSON, or ParseError naming the URL."""
        try:
            # json.loads detects UTF-16/32 itself but refuses a UTF-8 BOM, which servers do send.
            return json.loads(self.body.removeprefix(codecs.BOM_UTF8))
        except (ValueError, RecursionError) as exc:
            raise ParseError(
                f"{redact_url(self.final_url)} did not answer with valid JSON "
                f"(HTTP {self.status}, {self.content_type or 'no content type'}): {exc}"
            ) from None

    def raise_for_status(self) -> None:
        """Raise RateLimited for 429 (and 503 with Retry-After), HTTPError for other 4xx/5xx."""
        if self.status < 400:
            return
        where = redact_url(self.final_url)
        retry_after_header = self.header("retry-after")
        if self.status == 429 or (self.status == 503 and retry_after_header is not None):
            delay = retry_after_seconds(retry_after_header, now=datetime.now(UTC))
            wait = f"; retry after {delay:.0f}s" if delay is not None else ""
            raise RateLimited(
                f"{where} is rate limiting us (HTTP {self.status}){wait}",
                url=redact_url(self.final_url),
                status=self.status,
                retry_after=delay,
                exchanges=self.exchanges,
            )
        raise HTTPError(
            f"{where} answered HTTP {self.status} {self.reason}".rstrip(),
            url=redact_url(self.final_url),
            status=self.status,
            exchanges=self.exchanges,
        )


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait per Retry-After (delta-seconds or HTTP-date), capped; None if absent."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass
class Hop:
    """One hop's exchange, with the media type and charset of its body."""

    exchange: Exchange
    content_type: str
    charset: str | None
