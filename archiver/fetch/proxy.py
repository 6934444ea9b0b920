"""Proxies picked as plain httpx picks them, by hand because httpx is given a transport."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

# Private httpx API, pinned by the <0.29 bound (as is HTTPTransport._pool in guard.DirectTransport):
# its reading of HTTP(S)_PROXY/ALL_PROXY/NO_PROXY and URL patterns, so env proxies behave exactly
# as in plain httpx, which skips them given a transport.
from httpx._utils import URLPattern, get_environment_proxies

from archiver.config import FetchConfig
from archiver.errors import ConfigError
from archiver.fetch.failures import scrub
from archiver.fetch.pool import linear
from archiver.urls import redact_url


def proxy_table(config: FetchConfig) -> dict[str, str | None]:
    """URL pattern → proxy URL (None: direct): `fetch.proxy`, else the environment like httpx.

    httpx skips the environment when given a transport, and we give it one (for the address
    guard), so the same rules are applied here: HTTP(S)_PROXY, ALL_PROXY and NO_PROXY.
    """
    if config.proxy:
        return {"all://": config.proxy}
    return get_environment_proxies()


def proxy_transport(config: FetchConfig, proxy: str) -> httpx.HTTPTransport:
    """A transport through `proxy`. It resolves names itself; its own address is not checked."""
    try:
        transport = httpx.HTTPTransport(verify=config.verify_tls, trust_env=True, proxy=proxy)
    except (ImportError, ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(
            f"Cannot use the proxy {redact_url(proxy)} (from fetch.proxy or HTTP(S)_PROXY/"
            f"ALL_PROXY): {scrub(str(exc))}. Use an http:// or https:// proxy URL."
        ) from None
    linear(transport._pool)  # private httpx API, pinned by the <0.29 bound
    return transport


def proxy_patterns(proxies: Mapping[str, str | None]) -> list[tuple[URLPattern, str | None]]:
    """The table as URL patterns, sorted as httpx sorts its mounts: the first match wins."""
    return sorted((URLPattern(key), proxy) for key, proxy in proxies.items())
