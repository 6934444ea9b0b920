"""Platform modules and `find(url)`, which picks the one whose `match` accepts a URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from archiver.model import Platform, PostResult
from archiver.platforms import bluesky, mastodon, reddit, telegram, twitter, youtube

if TYPE_CHECKING:
    from archiver.fetch import Fetcher


class PlatformModule(Protocol):
    """What every module in `MODULES` provides (see docs/ARCHITECTURE.md, "Platforms")."""

    PLATFORM: Platform

    def match(self, url: str) -> bool: ...

    def fetch_post(self, fetcher: Fetcher, url: str) -> PostResult: ...


#: Checked in this order; Mastodon, whose URLs are recognised by path shape on any host, comes
#: after the platforms that name their hosts.
MODULES: tuple[PlatformModule, ...] = (twitter, bluesky, reddit, telegram, youtube, mastodon)


def find(url: str) -> PlatformModule | None:
    """The first platform module whose `match` accepts `url`; None means a generic web page."""
    for module in MODULES:
        if module.match(url):
            return module
    return None
