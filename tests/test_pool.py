"""LinearPool: httpcore's connection pool with a linear, corrected request assignment."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpcore
import pytest
from httpcore._sync.connection_pool import PoolRequest  # pinned: httpcore>=1.0.9,<1.1

from archiver.config import FetchConfig
from archiver.fetch import Fetcher
from archiver.fetch.guard import _GuardedBackend
from archiver.fetch.pool import LinearHTTPProxy, LinearPool
from tests.hostile_server import ForwardProxy
from tests.site_server import Site


class FakeConnection(httpcore.ConnectionInterface):
    """A connection in a given state, for one origin; it never touches the network."""

    def __init__(self, host: str, state: str = "idle") -> None:
        self.origin = httpcore.Origin(b"http", host.encode(), 80)
        self.state = state

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        return self.state == "expired"

    def info(self) -> str:
        return self.state

    def close(self) -> None:
        self.state = "closed"

    def __repr__(self) -> str:
        return f"<{self.origin.host.decode()} {self.state}>"


def pool(*connections: FakeConnection, keepalive: int = 20, most: int = 100) -> LinearPool:
    p = LinearPool(max_connections=most, max_keepalive_connections=keepalive)
    p._connections = list(connections)
    return p


def queue(p: LinearPool, host: str) -> PoolRequest:
    request = PoolRequest(httpcore.Request("GET", f"http://{host}/"))
    p._requests.append(request)
    return request


def test_the_keepalive_limit_counts_idle_connections_and_closes_the_oldest() -> None:
    idle = [FakeConnection("a.test") for _ in range(3)]
    busy = [FakeConnection("a.test", "active") for _ in range(5)]
    p = pool(*idle, *busy, keepalive=2)
    # httpcore 1.0 compares all eight connections with the limit and closes every idle one.
    assert p._assign_requests_to_connections() == [idle[0]]
    assert p._connections == [*idle[1:], *busy]


def test_closed_connections_are_dropped_and_expired_ones_closed() -> None:
    closed, expired, idle = (FakeConnection("a.test", s) for s in ("closed", "expired", "idle"))
    p = pool(closed, expired, idle)
    assert p._assign_requests_to_connections() == [expired]
    assert p._connections == [idle]


def test_an_idle_connection_serves_one_queued_request_and_the_others_get_new_ones() -> None:
    idle = FakeConnection("a.test")
    p = pool(idle, FakeConnection("b.test"))
    first, second, third = (queue(p, "a.test") for _ in range(3))
    assert p._assign_requests_to_connections() == []
    assert first.connection is idle
    # httpcore 1.0 hands the same idle connection to all three; two then fail and queue again.
    assert isinstance(second.connection, httpcore.HTTPConnection)
    assert isinstance(third.connection, httpcore.HTTPConnection)
    assert second.connection is not third.connection
    assert len(p._connections) == 4


def test_a_connection_promised_to_a_request_is_neither_closed_nor_given_away() -> None:
    promised = FakeConnection("a.test")  # assigned, still idle until its request starts on it
    p = pool(promised, keepalive=0)
    waiting = queue(p, "a.test")
    waiting.assign_to_connection(promised)
    other = queue(p, "a.test")
    assert p._assign_requests_to_connections() == []
    assert promised in p._connections and waiting.connection is promised
    assert other.connection is not promised and other.connection is not None


def test_a_full_pool_closes_an_idle_connection_of_another_origin_to_make_room() -> None:
    spare, busy = FakeConnection("b.test"), FakeConnection("a.test", "active")
    p = pool(spare, busy, most=2)
    first, second = queue(p, "a.test"), queue(p, "a.test")
    assert p._assign_requests_to_connections() == [spare]
    assert isinstance(first.connection, httpcore.HTTPConnection)
    assert first.connection in p._connections and spare not in p._connections
    # Nothing left to close or reuse: the second request waits for one to end.
    assert second.is_queued()


@pytest.fixture
def sites() -> Iterator[list[Site]]:
    started = [Site() for _ in range(4)]
    for n, site in enumerate(started):
        for page in range(10):
            site.set(f"/{page}", f"site {n} page {page}".encode() * 50, delay=0.01)
    yield started
    for site in started:
        site.stop()


def test_many_fetches_in_flight_across_origins_all_arrive_intact(sites: list[Site]) -> None:
    wanted = [(n, page) for _ in range(3) for page in range(10) for n in range(len(sites))]
    urls = [sites[n].url(f"/{page}") for n, page in wanted]
    with Fetcher(FetchConfig(allow_private_networks=True)) as fetcher:
        with ThreadPoolExecutor(24) as threads:
            results = list(threads.map(fetcher.get, urls))
        transport = fetcher._client._transport
        assert isinstance(transport._pool, LinearPool)  # type: ignore[attr-defined]
        open_now = transport._pool.connections  # type: ignore[attr-defined]
    for (n, page), result in zip(wanted, results, strict=True):
        assert result.status == 200
        assert result.body == f"site {n} page {page}".encode() * 50
    assert sum(len(site.requests(f"/{p}")) for site in sites for p in range(10)) == len(urls)
    # Connections were reused, and the idle ones kept stay within the keep-alive limit (20).
    assert len(open_now) < len(urls) / 2
    assert sum(c.is_idle() for c in open_now) <= 20


def test_fetches_through_a_proxy_use_the_same_pass(
    sites: list[Site], forward_proxy: ForwardProxy
) -> None:
    urls = [site.url(f"/{page}") for page in range(10) for site in sites]
    config = FetchConfig(allow_private_networks=True, proxy=forward_proxy.url)
    with Fetcher(config) as fetcher:
        [transport] = fetcher._client._mounts.values()
        assert type(transport._pool) is LinearHTTPProxy  # type: ignore[union-attr]
        with ThreadPoolExecutor(16) as threads:
            results = list(threads.map(fetcher.get, urls))
    assert all(r.status == 200 and r.header("via") == "1.1 test-proxy" for r in results)
    assert sorted(s.path for s in forward_proxy.seen) == sorted(urls)


def test_the_address_guard_stays_the_network_backend_of_the_pool() -> None:
    with Fetcher(FetchConfig()) as fetcher:
        pool = fetcher._client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, LinearPool)
    assert isinstance(pool._network_backend, _GuardedBackend)
