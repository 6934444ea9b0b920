"""The only httpx code: GETs hop by hop, each hop recorded, limits that hold against hostile hosts.

httpx's own redirect following is off so that each HTTP 3xx, meta refresh and JavaScript redirect
becomes a recorded `Exchange`, and so that the address policy is applied at every hop. Bodies are
read raw and decoded here, chunk by bounded chunk, so a compression bomb costs at most the limit.
"""

from __future__ import annotations

import codecs
import html
import http.cookiejar
import io
import ipaddress
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

# Private httpx API, used twice and pinned by the <0.29 bound: its reading of HTTP(S)_PROXY/
# ALL_PROXY/NO_PROXY and URL patterns here (so env proxies behave exactly as in plain httpx, which
# skips them given a transport), and HTTPTransport._pool in _DirectTransport.
from httpx._utils import URLPattern, get_environment_proxies

from archiver.charset import decode_text, detect_charset, media_type_of
from archiver.config import FetchConfig
from archiver.errors import (
    BlockedAddress,
    BodyTooLarge,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPError,
    InvalidURL,
    NetworkError,
    ParseError,
    RateLimited,
    RedirectLoop,
    TooManyRedirects,
)
from archiver.model import Exchange, Headers, Redirect, RedirectKind, header
from archiver.urls import (
    PRIVATE_NETWORK_HINT,
    address_problem,
    check_host,
    redact_url,
    validate_url,
)

#: Only bodies this small are searched for meta-refresh and JavaScript redirects, so ordinary pages
#: that happen to script `location` are not taken for redirect pages.
HTML_REDIRECT_MAX_BYTES = 16 * 1024
#: Retry-After values beyond this are clamped: a server cannot park a worker for days.
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Decoded here with bounded output per step; br/zstd are not offered, so servers do not send them.
ACCEPT_ENCODING = "gzip, deflate"
_REDACTED = frozenset({"authorization", "cookie", "proxy-authorization"})
_DECODE_STEP = 64 * 1024


# --- the response ------------------------------------------------------------------------------


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


# --- HTML redirects -----------------------------------------------------------------------------

_META_TAG = re.compile(r"<meta\b([^>]*)>", re.I)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script\s*>", re.I | re.S)
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")
_REFRESH = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$""", re.I | re.S)
_JS_STRING = r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_JS_REDIRECT = re.compile(
    r"(?:\blocation\s*\.\s*(?:replace|assign)\s*\(\s*" + _JS_STRING + r"\s*\)"
    r"|\b(?:window\s*\.\s*|document\s*\.\s*|top\s*\.\s*|self\s*\.\s*)?location"
    r"(?:\s*\.\s*href)?\s*=(?!=)\s*" + _JS_STRING + ")"
)


def _unquote_attr(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return html.unescape(value)


def meta_refresh_target(page: str) -> str | None:
    """The URL of the first `<meta http-equiv=refresh>` that names one, as written."""
    for tag in _META_TAG.finditer(_COMMENT.sub("", page)):
        attrs = {k.lower(): _unquote_attr(v) for k, v in _ATTR.findall(tag.group(1))}
        if attrs.get("http-equiv", "").strip().lower() != "refresh":
            continue
        match = _REFRESH.match(attrs.get("content", ""))
        target = match.group(1).strip().strip("\"'").strip() if match else ""
        if target:
            return target
    return None


def _js_string(literal: str) -> str | None:
    body = literal[1:-1]
    if literal[0] == "'":
        body = body.replace("\\'", "'").replace('"', '\\"')
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def javascript_redirect_target(page: str) -> str | None:
    """The URL of a `location.replace("…")` / `location = "…"` redirect, JS escapes decoded.

    Only `<script>` elements count: a button's `onclick="location.href=…"` is not a redirect.
    """
    for script in _SCRIPT.findall(_COMMENT.sub("", page)):
        match = _JS_REDIRECT.search(script)
        if match:
            return _js_string(match.group(1) or match.group(2))
    return None


# --- address guard below the transport ---------------------------------------------------------


def _resolve(host: str, port: int, timeout: float | None) -> list[Any]:
    """getaddrinfo, given up after `timeout` seconds (the connect timeout).

    The system resolver has no timeout of its own to pass; the lookup runs in a daemon thread
    that is left to finish on its own if it takes too long, so exit never waits for it.
    """
    if timeout is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answer: list[Any] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            answer.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="resolve", daemon=True).start()
    if not done.wait(timeout):
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g}s")
    if failure:
        raise failure[0]
    return answer


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve, check every address, then connect to a checked address (no DNS-rebinding gap).

    It lives below the transport, so TLS still uses the host name for SNI and certificate checks,
    and mocked transports never reach it.
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        check_host(host, allow_private=False)
        try:
            infos = _resolve(host, port, timeout)
        except (socket.gaierror, UnicodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise NetworkError(
                f"Cannot resolve host {host} ({reason}): check the address and your network/DNS"
            ) from None
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            problem = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
            if problem:
                raise BlockedAddress(
                    f"{host} resolves to {address}, {problem} {PRIVATE_NETWORK_HINT}"
                )
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address,
                    port,
                    timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # getaddrinfo never answers with an empty list
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedAddress(
            f"Refusing to connect to the local socket {path} {PRIVATE_NETWORK_HINT}"
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DirectTransport(httpx.HTTPTransport):
    """httpx's transport (so test mocks still apply) with the address guard as network backend.

    httpx offers no way to pass a network backend, so its connection pool is rebuilt with one.
    """

    def __init__(self, config: FetchConfig) -> None:
        super().__init__(verify=config.verify_tls, trust_env=True)
        if not config.allow_private_networks:
            limits = httpx.Limits()
            self._pool = httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(verify=config.verify_tls, trust_env=True),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=_GuardedBackend(),
            )


def proxy_table(config: FetchConfig) -> dict[str, str | None]:
    """URL pattern → proxy URL (None: direct): `fetch.proxy`, else the environment like httpx.

    httpx skips the environment when given a transport, and we give it one (for the address
    guard), so the same rules are applied here: HTTP(S)_PROXY, ALL_PROXY and NO_PROXY.
    """
    if config.proxy:
        return {"all://": config.proxy}
    return get_environment_proxies()


def _proxy_transport(config: FetchConfig, proxy: str) -> httpx.HTTPTransport:
    """A transport through `proxy`. It resolves names itself; its own address is not checked."""
    try:
        return httpx.HTTPTransport(verify=config.verify_tls, trust_env=True, proxy=proxy)
    except (ImportError, ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(
            f"Cannot use the proxy {redact_url(proxy)} (from fetch.proxy or HTTP(S)_PROXY/"
            f"ALL_PROXY): {_scrub(str(exc))}. Use an http:// or https:// proxy URL."
        ) from None


# --- decoding ----------------------------------------------------------------------------------


class _Inflater:
    """One content-encoding layer, giving out at most `_DECODE_STEP` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._deflate = encoding == "deflate"
        wbits = zlib.MAX_WBITS | 16 if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._obj.decompress(data, _DECODE_STEP)
            except zlib.error:
                # "deflate" often comes without its zlib header (raw deflate); httpx allows it too.
                if self._deflate and not self._started:
                    self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise
            self._started = True
            if out:
                yield out
            data = self._obj.unconsumed_tail

    def flush(self) -> bytes:
        return self._obj.flush()


def _decoders(content_encoding: str | None, url: str) -> list[_Inflater]:
    layers: list[_Inflater] = []
    for value in (content_encoding or "").lower().split(","):
        encoding = value.strip()
        if encoding in ("", "identity"):
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise NetworkError(
                f"{redact_url(url)} answered with content-encoding {encoding!r}, "
                "which archiver cannot decode",
                url=url,
            )
        layers.append(_Inflater(encoding))
    return layers


def _decode(layers: list[_Inflater], data: bytes) -> Iterator[bytes]:
    if not layers:
        if data:
            yield data
        return
    for piece in layers[0].feed(data):
        yield from _decode(layers[1:], piece)


def _flush(layers: list[_Inflater]) -> Iterator[bytes]:
    for i, layer in enumerate(layers):
        yield from _decode(layers[i + 1 :], layer.flush())


# --- errors ------------------------------------------------------------------------------------

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


def _scrub(text: str) -> str:
    """Remove user:password@ from anything echoed back (proxy URLs end up in exception texts)."""
    return _USERINFO.sub(r"\1***@", text)


def _httpx_error(
    exc: httpx.HTTPError, url: str, config: FetchConfig, late: bool, proxy: str | None
) -> FetchError:
    where = redact_url(url)
    host = urlsplit(url).hostname or "?"
    text = _scrub(str(exc)) or type(exc).__name__
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


def _with_exchanges(exc: FetchError, exchanges: list[Exchange]) -> FetchError:
    exc.exchanges = tuple(exchanges)
    exc.url = redact_url(exc.url) if exc.url else exc.url
    return exc


def _recorded_headers(request: httpx.Request) -> Headers:
    """Request headers as sent (auth included, as httpx adds it on send), secrets redacted."""
    return tuple(
        (
            name.decode("latin-1"),
            "[redacted]"
            if name.decode("latin-1").lower() in _REDACTED
            else value.decode("latin-1"),
        )
        for name, value in request.headers.raw
    )


# --- the fetcher -------------------------------------------------------------------------------


@dataclass
class _Hop:
    exchange: Exchange
    content_type: str
    charset: str | None


def _blocked_jar() -> http.cookiejar.CookieJar:
    # The client keeps no cookies across fetches; each chain has its own jar (see Fetcher.get).
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class Fetcher:
    """One httpx client with archiver's limits, address guard and hop-by-hop redirects."""

    def __init__(
        self,
        config: FetchConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._now = now or (lambda: datetime.now(UTC))
        proxies = proxy_table(config) if transport is None else {}
        self._proxies = sorted((URLPattern(key), proxy) for key, proxy in proxies.items())
        self._client = httpx.Client(
            transport=transport or _DirectTransport(config),
            mounts={
                key: None if proxy is None else _proxy_transport(config, proxy)
                for key, proxy in proxies.items()
            },
            follow_redirects=False,
            trust_env=True,
            cookies=_blocked_jar(),
            headers={"Accept": "*/*", "Accept-Encoding": ACCEPT_ENCODING},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request for `url` goes through, or None when it goes direct."""
        target = httpx.URL(url)
        for pattern, proxy in self._proxies:
            if pattern.matches(target):
                return proxy
        return None

    def user_agent(self, url: str) -> str:
        """User-Agent for `url`: the longest matching `user_agents` suffix, else the default."""
        host = (urlsplit(url).hostname or "").lower()
        best = ""
        agent = self.config.user_agent
        for suffix, value in self.config.user_agents.items():
            suffix = suffix.lower().lstrip(".")
            if (host == suffix or host.endswith("." + suffix)) and len(suffix) > len(best):
                best, agent = suffix, value
        return agent

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        html_redirects: bool = True,
        stop: Callable[[str], bool] | None = None,
        max_bytes: int | None = None,
    ) -> Response:
        """GET `url` hop by hop; any HTTP status is returned, transport problems raise."""
        limit = self.config.max_body_bytes if max_bytes is None else max_bytes
        deadline = time.monotonic() + self.config.total_timeout
        requested = validate_url(url)
        current = requested
        exchanges: list[Exchange] = []
        redirects: list[Redirect] = []
        jar = httpx.Cookies()
        seen: set[tuple[str, str]] = set()
        while True:
            self._check_target(current, exchanges)
            hop = self._exchange(current, headers, jar, deadline, limit, exchanges)
            seen.add((current, self._cookie_state(jar, current)))
            target = self._next_hop(hop, current, follow_redirects, html_redirects)
            if target is None:
                exchanges.append(hop.exchange)
                return self._response(requested, current, hop, redirects, exchanges)
            location, kind = target
            redirect = Redirect(
                url=redact_url(current),
                status=hop.exchange.status or 0,
                location=redact_url(location),
                kind=kind,
            )
            exchanges.append(replace(hop.exchange, redirect=redirect))
            redirects.append(redirect)
            if len(redirects) > self.config.max_redirects:
                raise TooManyRedirects(
                    f"{redact_url(requested)} redirected more than {self.config.max_redirects} "
                    "times (fetch.max_redirects)",
                    url=redact_url(requested),
                    exchanges=tuple(exchanges),
                )
            if (location, self._cookie_state(jar, location)) in seen:
                raise RedirectLoop(
                    f"{redact_url(requested)} redirects in a loop: {redact_url(current)} "
                    f"sent us back to {redact_url(location)}",
                    url=redact_url(requested),
                    exchanges=tuple(exchanges),
                )
            if stop is not None and stop(location):
                return replace(
                    self._response(requested, location, hop, redirects, exchanges), stopped=True
                )
            current = location

    # -- one hop ---------------------------------------------------------------------------------

    def _check_target(self, url: str, exchanges: list[Exchange]) -> None:
        host = urlsplit(url).hostname or ""
        try:
            check_host(host, allow_private=self.config.allow_private_networks)
        except BlockedAddress as exc:
            raise BlockedAddress(
                f"Refusing to fetch {redact_url(url)}: {exc}",
                url=redact_url(url),
                exchanges=tuple(exchanges),
            ) from None

    @staticmethod
    def _cookie_state(jar: httpx.Cookies, url: str) -> str:
        # The cookie machinery (http.cookiejar) costs a good part of a hop's CPU; most hops
        # carry no cookies at all.
        if not jar:
            return ""
        request = httpx.Request("GET", url)
        jar.set_cookie_header(request)
        return str(request.headers.get("cookie", ""))

    def _exchange(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        jar: httpx.Cookies,
        deadline: float,
        limit: int,
        exchanges: list[Exchange],
    ) -> _Hop:
        cfg = self.config
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(
                f"Gave up on {redact_url(url)}: the total time limit of {cfg.total_timeout:g}s "
                "(fetch.total_timeout) was reached",
                url=redact_url(url),
                exchanges=tuple(exchanges),
            )
        timeout = httpx.Timeout(
            connect=min(cfg.connect_timeout, remaining),
            read=min(cfg.read_timeout, remaining),
            write=min(cfg.read_timeout, remaining),
            pool=remaining,
        )
        request_headers = {"User-Agent": self.user_agent(url), **(headers or {})}
        request = self._client.build_request("GET", url, headers=request_headers, timeout=timeout)
        if jar:
            jar.set_cookie_header(request)
        started = self._now()
        # Exchanges are stored: no user:password in their URL, no credentials in their headers.
        failed = Exchange(method="GET", url=redact_url(url), request_headers=(), started_at=started)

        def fail(error: FetchError) -> FetchError:
            sent = _recorded_headers(request)
            exchanges.append(replace(failed, request_headers=sent, error=str(error)))
            return _with_exchanges(error, exchanges)

        try:
            response = self._client.send(request, stream=True)
        except BlockedAddress as exc:
            raise fail(
                BlockedAddress(f"Refusing to fetch {redact_url(url)}: {exc}", url=url)
            ) from None
        except FetchError as exc:
            exc.url = exc.url or url
            raise fail(exc) from None
        except httpx.HTTPError as exc:
            late = time.monotonic() >= deadline
            raise fail(_httpx_error(exc, url, cfg, late, self.proxy_for(url))) from None
        try:
            recorded = replace(
                failed,
                request_headers=_recorded_headers(request),
                status=response.status_code,
                reason=response.reason_phrase,
                http_version=response.http_version,
                response_headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
                ),
            )
            body, error = self._read_body(response, url, deadline, limit)
        finally:
            response.close()
        if error is not None:
            exchanges.append(
                replace(
                    recorded, body=body, error=str(error), truncated=isinstance(error, BodyTooLarge)
                )
            )
            raise _with_exchanges(error, exchanges)
        if "set-cookie" in response.headers:
            jar.extract_cookies(response)
        content_type = response.headers.get("content-type")
        return _Hop(
            exchange=replace(recorded, body=body),
            content_type=media_type_of(content_type),
            charset=detect_charset(body, content_type),
        )

    def _read_body(
        self, response: httpx.Response, url: str, deadline: float, limit: int
    ) -> tuple[bytes, FetchError | None]:
        """Read and decode the body within the limits; on failure return what came and the error."""
        # BytesIO hands its buffer over without a copy, so the body costs the limit, not twice it.
        buffer = io.BytesIO()
        size = 0
        try:
            if response.is_stream_consumed:
                # Responses built in memory (mock transports) arrive read and decoded by httpx.
                raw: Iterator[bytes] = iter((response.content,))
                layers: list[_Inflater] = []
            else:
                raw = response.iter_raw()
                layers = _decoders(response.headers.get("content-encoding"), url)
            for chunk in _then_flush(raw, layers):
                # Checked per raw chunk: a server trickling bytes that decode to nothing is cut too.
                if time.monotonic() > deadline:
                    return buffer.getvalue(), FetchTimeout(
                        f"Gave up on {redact_url(url)} while reading the body: the total "
                        f"time limit of {self.config.total_timeout:g}s (fetch.total_timeout) "
                        "was reached",
                        url=url,
                    )
                for piece in chunk:
                    if size + len(piece) > limit:
                        buffer.write(piece[: limit - size])
                        return buffer.getvalue(), BodyTooLarge(
                            f"The body of {redact_url(url)} is larger than {limit} bytes "
                            "(fetch.max_body_bytes); the rest was not read",
                            url=url,
                        )
                    size += len(piece)
                    buffer.write(piece)
        except FetchError as exc:
            return buffer.getvalue(), exc
        except zlib.error as exc:
            return buffer.getvalue(), NetworkError(
                f"{redact_url(url)}: the body is not valid "
                f"{response.headers.get('content-encoding')} data ({exc})",
                url=url,
            )
        except httpx.HTTPError as exc:
            late = time.monotonic() >= deadline
            return buffer.getvalue(), _httpx_error(exc, url, self.config, late, None)
        return buffer.getvalue(), None

    # -- where next --------------------------------------------------------------------------------

    def _next_hop(
        self, hop: _Hop, url: str, follow_redirects: bool, html_redirects: bool
    ) -> tuple[str, RedirectKind] | None:
        if not follow_redirects:
            return None
        exchange = hop.exchange
        if exchange.status in REDIRECT_STATUSES:
            location = header(exchange.response_headers, "location")
            target = self._resolve(url, location)
            return (target, RedirectKind.HTTP) if target else None
        if (
            not html_redirects
            or exchange.status != 200
            or hop.content_type not in ("text/html", "application/xhtml+xml", "")
            or len(exchange.body) >= HTML_REDIRECT_MAX_BYTES
        ):
            return None
        page = decode_text(exchange.body, hop.charset)
        for find, kind in (
            (meta_refresh_target, RedirectKind.META_REFRESH),
            (javascript_redirect_target, RedirectKind.JAVASCRIPT),
        ):
            target = self._resolve(url, find(page))
            if target and target != url:
                return target, kind
        return None

    @staticmethod
    def _resolve(base: str, location: str | None) -> str | None:
        if not location or not location.strip():
            return None
        try:
            return validate_url(urljoin(base, location.strip()))
        except (InvalidURL, ValueError):
            return None

    def _response(
        self,
        requested: str,
        final_url: str,
        hop: _Hop,
        redirects: list[Redirect],
        exchanges: list[Exchange],
    ) -> Response:
        exchange = hop.exchange
        return Response(
            url=redact_url(requested),
            final_url=redact_url(final_url),
            status=exchange.status or 0,
            reason=exchange.reason,
            headers=exchange.response_headers,
            body=exchange.body,
            content_type=hop.content_type,
            charset=hop.charset,
            redirects=tuple(redirects),
            exchanges=tuple(exchanges),
        )


def _then_flush(raw: Iterator[bytes], layers: list[_Inflater]) -> Iterator[Iterator[bytes]]:
    """Per raw chunk its decoded pieces (lazily, so output stays bounded); then what flush gives."""
    for chunk in raw:
        yield _decode(layers, chunk)
    yield _flush(layers)
