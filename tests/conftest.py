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
    proxy = ForwardProxy()
    try:
        yield proxy
    finally:
        proxy.stop()
