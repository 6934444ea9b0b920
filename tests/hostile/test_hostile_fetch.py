"""Fetches against a real misbehaving server on 127.0.0.1: each ends quickly, in the right error,
with bounded memory."""

from __future__ import annotations

import socket
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from archiver.config import FetchConfig
from archiver.errors import (
    BlockedAddress,
    BodyTooLarge,
    FetchTimeout,
    HTTPError,
    NetworkError,
    ParseError,
    RateLimited,
    RedirectLoop,
    TooManyRedirects,
)
from archiver.fetch import Fetcher, Response
from archiver.model import RedirectKind
from tests.hostile_server import HostileServer

pytestmark = pytest.mark.usefixtures("no_env_proxies")

LIMIT = 1 << 20


@dataclass
class Cost:
    seconds: float = 0.0
    peak_bytes: int = 0


@contextmanager
def measured() -> Iterator[Cost]:
    cost = Cost()
    tracemalloc.start()
    start = time.monotonic()
    try:
        yield cost
    finally:
        cost.seconds = time.monotonic() - start
        cost.peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def get(server: HostileServer, path: str, **config: Any) -> Response:
    settings: dict[str, Any] = {
        "allow_private_networks": True,
        "max_body_bytes": LIMIT,
        "total_timeout": 10.0,
        "read_timeout": 5.0,
        **config,
    }
    with Fetcher(FetchConfig(**settings)) as fetcher:
        return fetcher.get(server.url(path))


# --- redirects -----------------------------------------------------------------------------------


def test_redirect_loop(hostile_server: HostileServer) -> None:
    with measured() as cost, pytest.raises(RedirectLoop) as caught:
        get(hostile_server, "/loop/a")
    assert [e.status for e in caught.value.exchanges] == [302, 302]
    assert cost.seconds < 2


def test_fifty_hop_chain_stops_at_the_hop_limit(hostile_server: HostileServer) -> None:
    hostile_server.clear()
    with pytest.raises(TooManyRedirects) as caught:
        get(hostile_server, "/chain/0")
    assert len(caught.value.exchanges) == 11
    assert len(hostile_server.seen) == 11


def test_fifty_hop_chain_with_a_higher_limit(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/chain/0", max_redirects=60)
    assert len(response.redirects) == 50 and response.status == 200


def test_meta_refresh_page(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/meta-refresh")
    assert response.redirects[0].kind is RedirectKind.META_REFRESH
    assert response.final_url == hostile_server.url("/ok?a=1&b=2")


def test_javascript_redirect_page(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/js-redirect")
    assert response.redirects[0].kind is RedirectKind.JAVASCRIPT
    assert response.final_url == hostile_server.url("/ok?from=js")
    assert "Bonjour, ça va" in response.text()


# --- address guard -------------------------------------------------------------------------------


class _ToLoopback(httpx.BaseTransport):
    """Sends `hostile.test` requests to 127.0.0.1, so the guard can stay on for the first hop."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "hostile.test":
            request.url = request.url.copy_with(host="127.0.0.1")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/to-metadata", "169.254.169.254 is a link-local address"), ("/to-loopback", "loopback")],
)
def test_server_redirect_to_private_address_is_refused(
    hostile_server: HostileServer, path: str, reason: str
) -> None:
    hostile_server.clear()
    fetcher = Fetcher(FetchConfig(), transport=_ToLoopback())
    with fetcher, pytest.raises(BlockedAddress) as caught:
        fetcher.get(hostile_server.url(path, host="hostile.test"))
    assert reason in str(caught.value)
    assert [s.path for s in hostile_server.seen] == [path]
    assert len(caught.value.exchanges) == 1 and caught.value.exchanges[0].status == 302


def test_loopback_server_itself_is_refused_by_default(hostile_server: HostileServer) -> None:
    hostile_server.clear()
    with Fetcher(FetchConfig()) as fetcher, pytest.raises(BlockedAddress, match="loopback"):
        fetcher.get(hostile_server.url("/ok"))
    assert hostile_server.seen == []


# --- bodies --------------------------------------------------------------------------------------


def test_gzip_bomb_costs_at_most_the_limit(hostile_server: HostileServer) -> None:
    with measured() as cost, pytest.raises(BodyTooLarge) as caught:
        get(hostile_server, "/gzip-bomb")
    assert f"{LIMIT} bytes" in str(caught.value) and "/gzip-bomb" in str(caught.value)
    (exchange,) = caught.value.exchanges
    assert exchange.truncated and len(exchange.body) == LIMIT
    assert cost.peak_bytes < 2.5 * LIMIT
    assert cost.seconds < 5


def test_endless_body(hostile_server: HostileServer) -> None:
    with measured() as cost, pytest.raises(BodyTooLarge):
        get(hostile_server, "/endless")
    assert cost.peak_bytes < 2.5 * LIMIT
    assert cost.seconds < 5


def test_per_call_limit(hostile_server: HostileServer) -> None:
    fetcher = Fetcher(FetchConfig(allow_private_networks=True))
    with fetcher, pytest.raises(BodyTooLarge, match="10000 bytes"):
        fetcher.get(hostile_server.url("/endless"), max_bytes=10_000)


@pytest.mark.parametrize("path", ["/trickle", "/trickle-gzip?delay=0.2"])
def test_trickling_server_is_cut_at_the_total_limit(
    hostile_server: HostileServer, path: str
) -> None:
    with measured() as cost, pytest.raises(FetchTimeout, match=r"fetch\.total_timeout") as caught:
        get(hostile_server, path, total_timeout=2.0)
    assert 1.9 < cost.seconds < 3.5
    assert caught.value.exchanges[0].status == 200


def test_stalled_body_hits_the_read_timeout(hostile_server: HostileServer) -> None:
    with measured() as cost, pytest.raises(FetchTimeout, match=r"fetch\.read_timeout"):
        get(hostile_server, "/stall?seconds=5", read_timeout=0.5)
    assert cost.seconds < 2


def test_total_limit_applies_to_a_stall_shorter_than_the_read_timeout(
    hostile_server: HostileServer,
) -> None:
    with measured() as cost, pytest.raises(FetchTimeout, match=r"fetch\.total_timeout"):
        get(hostile_server, "/stall?seconds=5", read_timeout=30.0, total_timeout=1.0)
    assert cost.seconds < 2


@pytest.mark.parametrize("path", ["/truncated-chunked", "/truncated-length"])
def test_truncated_bodies(hostile_server: HostileServer, path: str) -> None:
    with pytest.raises(
        NetworkError, match="connection closed before the response was complete"
    ) as e:
        get(hostile_server, path)
    (exchange,) = e.value.exchanges
    assert exchange.status == 200 and exchange.error is not None


def test_connection_reset(hostile_server: HostileServer) -> None:
    with pytest.raises(NetworkError, match=r"connection closed|connection failed"):
        get(hostile_server, "/reset")


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fetcher = Fetcher(FetchConfig(allow_private_networks=True))
    with fetcher, pytest.raises(NetworkError, match="Connection refused"):
        fetcher.get(f"http://127.0.0.1:{port}/")


# --- text ----------------------------------------------------------------------------------------


def test_latin1_labelled_utf8(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/latin1-as-utf8")
    assert response.charset == "utf-8"
    assert response.text() == "<p>Caf\ufffd cr\ufffdme \ufffd la fran\ufffdaise</p>"


def test_utf8_labelled_latin1(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/utf8-as-latin1")
    assert response.charset == "cp1252"
    assert response.text().startswith("<p>CafÃ©")


def test_unknown_charset_label(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/bogus-charset")
    assert response.text() == "<p>Café</p>"


def test_binary_served_as_html(hostile_server: HostileServer) -> None:
    with measured() as cost:
        response = get(hostile_server, "/binary-as-html")
    assert isinstance(response.text(), str) and response.redirects == ()
    assert len(response.body) == 200_000
    assert cost.seconds < 5


def test_malformed_json(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/malformed-json")
    with pytest.raises(ParseError, match="/malformed-json did not answer with valid JSON"):
        response.json()


# --- statuses ------------------------------------------------------------------------------------


def test_server_error(hostile_server: HostileServer) -> None:
    response = get(hostile_server, "/500")
    assert response.status == 500
    with pytest.raises(HTTPError, match="HTTP 500") as caught:
        response.raise_for_status()
    assert caught.value.status == 500


def test_rate_limited_with_seconds(hostile_server: HostileServer) -> None:
    with pytest.raises(RateLimited) as caught:
        get(hostile_server, "/429").raise_for_status()
    assert caught.value.retry_after == 120.0


def test_unavailable_with_a_date(hostile_server: HostileServer) -> None:
    with pytest.raises(RateLimited) as caught:
        get(hostile_server, "/503").raise_for_status()
    assert caught.value.retry_after is not None and 280 <= caught.value.retry_after <= 300
