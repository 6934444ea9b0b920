"""Proxies from the environment and from `fetch.proxy`, through a real forward proxy."""

from __future__ import annotations

import base64
import socket

import pytest

from archiver.config import FetchConfig
from archiver.errors import BlockedAddress, ConfigError, NetworkError
from archiver.fetch import Fetcher
from tests.hostile_server import ForwardProxy, HostileServer

pytestmark = pytest.mark.usefixtures("no_env_proxies")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_proxy_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    url = hostile_server.url("/ok", host="origin.test")
    # The guard stays on: the proxy resolves origin.test, and its own 127.0.0.1 address is fine.
    with Fetcher(FetchConfig()) as fetcher:
        assert fetcher.proxy_for(url) == forward_proxy.url
        response = fetcher.get(url)
    assert response.status == 200 and response.header("via") == "1.1 test-proxy"
    assert [s.path for s in forward_proxy.seen] == [url]


def test_lower_case_and_all_proxy_variables(
    monkeypatch: pytest.MonkeyPatch, hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    monkeypatch.setenv("all_proxy", forward_proxy.url)
    with Fetcher(FetchConfig()) as fetcher:
        assert fetcher.get(hostile_server.url("/ok", host="origin.test")).status == 200
    assert len(forward_proxy.seen) == 1


def test_no_proxy_bypasses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    monkeypatch.setenv("HTTP_PROXY", forward_proxy.url)
    monkeypatch.setenv("NO_PROXY", "example.org,127.0.0.1")
    hostile_server.clear()
    with Fetcher(FetchConfig(allow_private_networks=True)) as fetcher:
        assert fetcher.proxy_for(hostile_server.url("/ok")) is None
        response = fetcher.get(hostile_server.url("/ok"))
    assert response.status == 200 and response.header("via") is None
    assert forward_proxy.seen == []
    assert [s.path for s in hostile_server.seen] == ["/ok"]


def test_configured_proxy_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("NO_PROXY", "origin.test")
    with Fetcher(FetchConfig(proxy=forward_proxy.url)) as fetcher:
        response = fetcher.get(hostile_server.url("/ok", host="origin.test"))
    assert response.header("via") == "1.1 test-proxy"


def test_private_targets_are_refused_before_reaching_the_proxy(
    hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    with Fetcher(FetchConfig(proxy=forward_proxy.url)) as fetcher:
        for url in (hostile_server.url("/ok"), "http://localhost/", "http://169.254.169.254/"):
            with pytest.raises(BlockedAddress):
                fetcher.get(url)
    assert forward_proxy.seen == []


def test_redirects_through_the_proxy_are_checked_at_every_hop(
    hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    fetcher = Fetcher(FetchConfig(proxy=forward_proxy.url))
    with fetcher, pytest.raises(BlockedAddress, match=r"169\.254\.169\.254 is a link-local"):
        fetcher.get(hostile_server.url("/to-metadata", host="origin.test"))
    assert [s.path for s in forward_proxy.seen] == [
        hostile_server.url("/to-metadata", host="origin.test")
    ]


def test_proxy_credentials_are_sent_but_never_shown(
    hostile_server: HostileServer, forward_proxy: ForwardProxy
) -> None:
    proxy = forward_proxy.url.replace("http://", "http://alice:s3cret@")
    with Fetcher(FetchConfig(proxy=proxy)) as fetcher:
        response = fetcher.get(hostile_server.url("/ok", host="origin.test"))
    sent = forward_proxy.seen[0].headers["Proxy-Authorization"]
    assert base64.b64decode(sent.split()[1]) == b"alice:s3cret"
    assert "s3cret" not in repr(response)


def test_unreachable_proxy_is_named_without_its_password(hostile_server: HostileServer) -> None:
    proxy = f"http://alice:s3cret@127.0.0.1:{_closed_port()}"
    fetcher = Fetcher(FetchConfig(proxy=proxy))
    with fetcher, pytest.raises(NetworkError, match="Cannot connect to the proxy") as caught:
        fetcher.get(hostile_server.url("/ok", host="origin.test"))
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in repr(caught.value.exchanges)


def test_unsupported_proxy_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"fetch\.proxy"):
        Fetcher(FetchConfig(proxy="ftp://user:pw@proxy.example:21"))
