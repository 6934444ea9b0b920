"""`Fetcher`: one httpx client, GETs followed hop by hop, each hop recorded as an `Exchange`.

httpx's own redirect following is off so that each HTTP 3xx, meta refresh and JavaScript redirect
becomes a recorded `Exchange`, and so that the address policy is applied at every hop.
"""

from __future__ import annotations

import http.cookiejar
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from archiver.charset import detect_charset, media_type_of
from archiver.config import FetchConfig
from archiver.errors import (
    BlockedAddress,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    RedirectLoop,
    TooManyRedirects,
)
from archiver.fetch.body import ACCEPT_ENCODING, read_body
from archiver.fetch.failures import translate_httpx_error, with_exchanges
from archiver.fetch.guard import DirectTransport
from archiver.fetch.proxy import proxy_patterns, proxy_table, proxy_transport
from archiver.fetch.redirects import next_hop
from archiver.fetch.response import Hop, Response
from archiver.model import Exchange, Headers, Redirect
from archiver.urls import check_host, redact_url, validate_url

_REDACTED = frozenset({"authorization", "cookie", "proxy-authorization"})


class _NoCookies(httpx.Cookies):
    """The client's jar, which keeps nothing: each chain has its own jar (see Fetcher.get).

    httpx offers every response to its client's jar, and wrapping one for http.cookiejar costs
    about a tenth of a small request's CPU, for cookies a blocking policy would then refuse.
    """

    def __init__(self) -> None:
        super().__init__(
            http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        )

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Client(httpx.Client):
    """httpx's client with a jar that keeps nothing (its own setter would copy it into a plain one)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        if cookies:
            raise ValueError("the fetch client keeps no cookies; give them per request")


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
        self._proxies = proxy_patterns(proxies)
        self._client = _Client(
            transport=transport or DirectTransport(config),
            mounts={
                key: None if proxy is None else proxy_transport(config, proxy)
                for key, proxy in proxies.items()
            },
            follow_redirects=False,
            trust_env=True,
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
            target = next_hop(hop, current, follow_redirects, html_redirects)
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
    ) -> Hop:
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
            return with_exchanges(error, exchanges)

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
            raise fail(translate_httpx_error(exc, url, cfg, late, self.proxy_for(url))) from None
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
            body, error = read_body(response, url, deadline, limit, self.config)
        finally:
            response.close()
        if error is not None:
            exchanges.append(
                replace(
                    recorded, body=body, error=str(error), truncated=isinstance(error, BodyTooLarge)
                )
            )
            raise with_exchanges(error, exchanges)
        if "set-cookie" in response.headers:
            jar.extract_cookies(response)
        content_type = response.headers.get("content-type")
        return Hop(
            exchange=replace(recorded, body=body),
            content_type=media_type_of(content_type),
            charset=detect_charset(body, content_type),
        )

    def _response(
        self,
        requested: str,
        final_url: str,
        hop: Hop,
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
