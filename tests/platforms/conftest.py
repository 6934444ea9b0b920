"""Fixtures for platform tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archiver.config import FetchConfig
from archiver.fetch import Fetcher


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    # pytest-httpx mocks httpx's transport, so the real Fetcher (redirects, limits) is exercised.
    with Fetcher(FetchConfig()) as f:
        yield f
