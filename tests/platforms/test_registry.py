"""The platform registry: `find(url)` picks the module, None means a web page."""

from __future__ import annotations

from archiver import platforms
from archiver.model import Platform
from archiver.platforms import twitter


def test_find_picks_twitter_for_status_urls() -> None:
    assert platforms.find("https://x.com/jack/status/20") is twitter
    assert platforms.find("https://nitter.net/jack/status/20#m") is twitter


def test_find_returns_none_for_web_pages() -> None:
    assert platforms.find("https://www.nbcnews.com/politics/some-article-n1234") is None
    assert platforms.find("https://x.com/jack") is None
    assert platforms.find("https://t.co/mFn7mcB1vy") is None


def test_every_module_names_a_distinct_platform() -> None:
    names = [module.PLATFORM for module in platforms.MODULES]
    assert len(names) == len(set(names))
    assert Platform.WEB not in names
    assert twitter in platforms.MODULES
