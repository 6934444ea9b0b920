"""The one exception tree of archiver; the CLI turns each into a message and an exit code.

ArchiverError
├── ConfigError              bad or unknown configuration key, unreadable file
├── InvalidURL               malformed URL or unsupported scheme
├── FetchError               anything that stopped us getting a response
│   ├── BlockedAddress       private, loopback, link-local … target (SSRF guard)
│   ├── NetworkError         DNS, connect, TLS, reset
│   ├── FetchTimeout         connect/read timeout or the total time limit
│   ├── TooManyRedirects     hop limit reached
│   ├── RedirectLoop         a hop came back to a URL already visited
│   ├── BodyTooLarge         decoded body over the size limit
│   ├── HTTPError            a 4xx/5xx answer where content was needed
│   │   └── RateLimited      429 (or 503) with the Retry-After delay, if any
│   └── LoginWall            the platform answered with a login page instead of content
├── ParseError               a platform answer we could not understand (bad JSON, unknown shape)
├── LimitExceeded            a configured limit (links, depth, HTML size) was hit
├── NotFound                 no capture, watch or job matches what was asked for
└── StoreError               database problems
    └── SchemaOutdated       database at an older migration: run `archiver db upgrade`
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archiver.model import Exchange


class ArchiverError(Exception):
    """Base of every error archiver raises on purpose."""

    #: Short machine-readable name, stored as the failure reason's prefix.
    code = "error"

    def __str__(self) -> str:
        return " ".join(str(a) for a in self.args) or self.code


class ConfigError(ArchiverError):
    code = "config"


class InvalidURL(ArchiverError):
    code = "invalid-url"


class FetchError(ArchiverError):
    code = "fetch"

    def __init__(
        self, message: str, *, url: str | None = None, exchanges: tuple[Exchange, ...] = ()
    ) -> None:
        super().__init__(message)
        self.url = url
        #: What was recorded before the failure, so a failed capture still keeps its hops.
        self.exchanges = exchanges


class BlockedAddress(FetchError):
    code = "blocked-address"


class NetworkError(FetchError):
    code = "network"


class FetchTimeout(FetchError):
    code = "timeout"


class TooManyRedirects(FetchError):
    code = "too-many-redirects"


class RedirectLoop(FetchError):
    code = "redirect-loop"


class BodyTooLarge(FetchError):
    code = "body-too-large"


class HTTPError(FetchError):
    code = "http"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int = 0,
        exchanges: tuple[Exchange, ...] = (),
    ) -> None:
        super().__init__(message, url=url, exchanges=exchanges)
        self.status = status


class RateLimited(HTTPError):
    code = "rate-limited"

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int = 429,
        retry_after: float | None = None,
        exchanges: tuple[Exchange, ...] = (),
    ) -> None:
        super().__init__(message, url=url, status=status, exchanges=exchanges)
        self.retry_after = retry_after


class LoginWall(FetchError):
    code = "login-wall"


class ParseError(ArchiverError):
    code = "parse"


class LimitExceeded(ArchiverError):
    code = "limit"


class NotFound(ArchiverError):
    code = "not-found"


class StoreError(ArchiverError):
    code = "store"


class SchemaOutdated(StoreError):
    code = "schema-outdated"
