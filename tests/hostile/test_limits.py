"""Limits that archiver.archiving adds to the fetcher's, each named in the failure it causes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.archiving import capture_url
from archiver.config import ArchiveConfig, Config, FetchConfig
from archiver.fetch import Fetcher
from archiver.model import Status
from tests.hostile_server import HostileServer

pytestmark = pytest.mark.usefixtures("no_env_proxies")


def test_media_over_max_media_bytes_names_that_key(hostile_server: HostileServer) -> None:
    config = Config(
        fetch=FetchConfig(allow_private_networks=True, max_body_bytes=1 << 30),
        archive=ArchiveConfig(max_media_bytes=100_000),
    )
    url = hostile_server.url("/endless")
    with Fetcher(config.fetch) as fetcher:
        media = capture_url(fetcher, url, config, datetime.now(UTC), kind="media")
        page = capture_url(fetcher, hostile_server.url("/image.png"), config, datetime.now(UTC))
    assert media.status is Status.FAILED
    assert media.error == (
        f"body-too-large: The media file {url} is larger than 100000 bytes "
        "(archive.max_media_bytes); the rest was not read"
    )
    assert [e.truncated for _, e in media.exchanges] == [True]
    assert page.status is Status.OK
