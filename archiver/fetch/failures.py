"""httpx's exceptions as archiver errors that name the URL, the config key and the fix.

Nothing echoed back carries credentials: proxy URLs with `user:password@` end up in httpx's texts.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from archiver.config import FetchConfig
from archiver.errors import FetchError, FetchTimeout, NetworkError
from archiver.model import Exchange
from archiver.urls import redact_url

_USERINFO = re.compile(r"(//)[^/@\s]+@")
_DNS_FAILURES = (
    "name or service not known",
    "nodename nor servname",
    "no address associated",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "name resolution",
    "[errno -2]",
    "[errno -3]",
    "[errno -5]",
    "[errno 8]",
    "[errno 11001]",
)


def scrub(text: str) -> str:
    """Remove user:password@ from anything echoed back (proxy URLs end up in exception texts)."""
    return _USERINFO.sub(r"\1***@", text)


def translate_httpx_error(
    exc: httpx.HTTPError, url: str, config: FetchConfig, late: bool, proxy: str | None
) -> FetchError:
    """The archiver error for `exc`; `late`: past the total deadline; `proxy`: the one in use."""
    where = redact_url(url)
    host = urlsplit(url).hostname or "?"
    text = scrub(str(exc)) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, httpx.TimeoutException) and not (
        proxy is not None and isinstance(exc, httpx.ConnectTimeout)
    ):
        if late:
            return FetchTimeout(
                f"Gave up on {where}: the total time limit of {config.total_timeout:g}s "
                "(fetch.total_timeout) was reached",
                url=url,
            )
        if isinstance(exc, httpx.ConnectTimeout):
            return FetchTimeout(
                f"Timed out connecting to {host} after {config.connect_timeout:g}s "
                f"(fetch.connect_timeout) while fetching {where}",
                url=url,
            )
        return FetchTimeout(
            f"{where} sent nothing for {config.read_timeout:g}s (fetch.read_timeout)", url=url
        )
    if isinstance(exc, httpx.ProxyError):
        return NetworkError(f"The proxy refused or failed the request for {where}: {text}", url=url)
    if proxy is not None and isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return NetworkError(
            f"Cannot connect to the proxy {redact_url(proxy)} for {where}: {text}. "
            "Check fetch.proxy or HTTP(S)_PROXY/ALL_PROXY/NO_PROXY",
            url=url,
        )
    if isinstance(exc, httpx.ConnectError):
        if any(marker in low for marker in _DNS_FAILURES):
            return NetworkError(
                f"Cannot resolve host {host} ({where}): check the address and your network/DNS",
                url=url,
            )
        if "refused" in low:
            return NetworkError(f"Connection refused by {host} ({where})", url=url)
        if "ssl" in low or "certificate" in low or "tls" in low:
            return NetworkError(
                f"TLS error with {host} ({where}): {text}. If the server uses a private CA, "
                "point SSL_CERT_FILE at it",
                url=url,
            )
        return NetworkError(f"Cannot connect to {host} ({where}): {text}", url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return NetworkError(
            f"{where}: connection closed before the response was complete ({text})", url=url
        )
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return NetworkError(f"{where}: the connection failed mid-transfer ({text})", url=url)
    if isinstance(exc, httpx.DecodingError):
        return NetworkError(f"{where}: the body could not be decoded ({text})", url=url)
    return NetworkError(f"{where}: {text}", url=url)


def with_exchanges(exc: FetchError, exchanges: list[Exchange]) -> FetchError:
    """`exc` with the hops so far attached and its URL redacted, ready to raise."""
    exc.exchanges = tuple(exchanges)
    exc.url = redact_url(exc.url) if exc.url else exc.url
    return exc
