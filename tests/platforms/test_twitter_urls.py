"""Which URLs are tweets, and which ID they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.platforms.twitter import match, snowflake_time, status_id, status_url

ONION = "twitter3e4tixl4xyajtrzo62zg5vztmjuricljdp2c5kshju4avyoid.onion"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/jack/status/20",
        "https://twitter.com/jack/status/20",
        "http://twitter.com/jack/statuses/20",
        "https://www.twitter.com/jack/status/20",
        "https://mobile.twitter.com/jack/status/20",
        "https://m.twitter.com/jack/status/20",
        "https://www.x.com/jack/status/20",
        "https://mobile.x.com/jack/status/20",
        "HTTPS://X.COM/jack/STATUS/20",
        "https://x.com/jack/status/20/",
        "https://x.com/jack/status/20?s=20&t=AbCdEf",
        "https://x.com/jack/status/20#reply",
        "https://x.com/i/web/status/20",
        "https://x.com/i/status/20",
        "https://x.com/SpaceX/status/20/photo/1",
        "https://x.com/SpaceX/status/20/video/1",
        f"http://{ONION}/jack/status/20",
        "https://fxtwitter.com/jack/status/20",
        "https://fixupx.com/jack/status/20",
        "https://twittpr.com/jack/status/20",
        "https://d.fxtwitter.com/jack/status/20",
        "https://dl.fxtwitter.com/jack/status/20",
        "https://t.fixupx.com/jack/status/20",
        "https://i.fxtwitter.com/jack/status/20",
        "https://g.fixupx.com/jack/status/20",
        "https://m.twittpr.com/jack/status/20",
        "https://o.fxtwitter.com/jack/status/20",
        "https://vxtwitter.com/jack/status/20",
        "https://fixvx.com/jack/status/20",
        "https://nitter.net/jack/status/20#m",
        "https://nitter.space/jack/status/20",
        "https://nitter.tiekoetter.com/jack/status/20",
        "https://xcancel.com/jack/status/20",
        "https://lightbrd.com/jack/status/20",
        "https://nitter.privacydev.net/jack/status/20",
    ],
)
def test_status_urls_match_and_give_the_id(url: str) -> None:
    assert match(url)
    assert status_id(url) == "20"


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/jack",
        "https://x.com/jack/status/",
        "https://x.com/jack/status/abc",
        "https://x.com/jack/status/20abc",
        "https://x.com/jack/status/20/likes",
        "https://x.com/jack/status/" + "1" * 41,
        "https://x.com/search?q=/jack/status/20",
        "https://x.com/jack/lists/20",
        "https://example.com/jack/status/20",
        "https://notx.com/jack/status/20",
        "https://x.com.example.net/jack/status/20",
        "https://api.twitter.com/jack/status/20",
        "https://z.fxtwitter.com/jack/status/20",
        "https://nitter/jack/status/20",
        "https://t.co/mFn7mcB1vy",
        "https://pbs.twimg.com/media/FsZNOgcWAAEQtrd.jpg",
        "ftp://x.com/jack/status/20",
        "x.com/jack/status/20",
        "not a url",
        "",
        "https://[::1/jack/status/20",
    ],
)
def test_other_urls_do_not_match(url: str) -> None:
    assert not match(url)
    assert status_id(url) is None


def test_status_id_keeps_long_ids_as_text() -> None:
    assert status_id("https://x.com/SpaceX/status/1848831595014459513") == "1848831595014459513"


def test_status_url_is_the_x_permalink() -> None:
    assert status_url("20", "jack") == "https://x.com/jack/status/20"
    assert status_url("20") == "https://x.com/i/status/20"


def test_snowflake_time() -> None:
    # The oEmbed sample's tweet was posted on 20 February 2014.
    assert snowflake_time("436461658601713664") == datetime(2014, 2, 20, 11, 25, 43, 133000, UTC)
    assert snowflake_time("20") is None
    assert snowflake_time("9" * 40) is None
