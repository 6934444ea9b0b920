"""Shared pytest fixtures, one section per concern; database fixtures live in tests/fixtures/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile_server import ForwardProxy, HostileServer

pytest_plugins = ["tests.fixtures.databases"]

# --- fetching: hostile origin server and forward proxy on 127.0.0.1 ----------------------------


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    """A forward proxy that resolves `origin.test` to 127.0.0.1 (where `hostile_server` listens)."""
    proxy = ForwardProxy(hosts={"origin.test": "127.0.0.1"})
    try:
        yield proxy
    finally:
        proxy.stop()


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own proxy settings out of tests that talk to 127.0.0.1."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
