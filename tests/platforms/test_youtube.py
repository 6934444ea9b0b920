from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from archiver.errors import ParseError, RateLimited
from archiver.fetch import Fetcher
from archiver.model import Status
from archiver.platforms import youtube

DATA = Path(__file__).resolve().parent.parent / "data" / "youtube"
OEMBED: dict[str, Any] = json.loads((DATA / "youtube_oembed_kittens_2021.body.json").read_bytes())
# Synthetic watch page (see tests/data/SOURCES.md); the consent page is a real 2021 capture.
WATCH = (DATA / "watch_eiHXASgRTcA.synthetic.html").read_bytes()
CONSENT = (DATA / "consent_page_es_2021.html").read_bytes()
VID = "eiHXASgRTcA"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=eiHXASgRTcA",
        "https://youtube.com/watch?feature=share&v=eiHXASgRTcA&pp=ygU",
        "https://m.youtube.com/watch?v=eiHXASgRTcA",
        "https://music.youtube.com/watch?v=eiHXASgRTcA&si=xyz",
        "https://youtu.be/eiHXASgRTcA?si=AbCdEf&t=12",
        "https://www.youtube.com/shorts/eiHXASgRTcA",
        "https://www.youtube.com/live/eiHXASgRTcA?feature=share",
        "https://www.youtube.com/embed/eiHXASgRTcA",
        "https://www.youtube-nocookie.com/embed/eiHXASgRTcA?rel=0",
    ],
)
def test_video_id_from_every_url_form(url: str) -> None:
    assert youtube.match(url)
    assert youtube.video_id(url) == VID


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/@smshdchrb",
        "https://www.youtube.com/watch?v=short",
        "https://www.youtube.com/playlist?list=PL123",
        "https://notyoutube.com/watch?v=eiHXASgRTcA",
        "https://youtu.be/",
    ],
)
def test_match_rejects_other_urls(url: str) -> None:
    assert not youtube.match(url)


def test_canonical_urls_drop_tracking() -> None:
    assert youtube.watch_url(VID) == "https://www.youtube.com/watch?v=eiHXASgRTcA"
    assert youtube.oembed_url(VID) == (
        "https://www.youtube.com/oembed?url=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3DeiHXASgRTcA"
        "&format=json"
    )


def test_parse_oembed() -> None:
    post = youtube.parse_oembed(OEMBED, video_id=VID)
    assert post.title == "Noisy kittens waiting for dinner!"
    assert post.author.name == "smshdchrb"
    assert post.author.url == "https://www.youtube.com/user/smshdchrb"
    assert post.created_at is None  # oEmbed carries no date
    (video,) = post.media
    assert (video.type, video.url) == ("video", "https://www.youtube.com/watch?v=eiHXASgRTcA")
    assert video.preview_url == "https://i.ytimg.com/vi/eiHXASgRTcA/hqdefault.jpg"


def test_parse_oembed_relative_author_url_of_2021() -> None:
    data = json.loads((DATA / "youtube_oembed_scadrei5_2021.body.json").read_bytes())
    post = youtube.parse_oembed(data, video_id="xxxxxxxxxxx")
    assert post.author.url == "https://www.youtube.com/user/Scadrei5"


def test_parse_watch_page_merges_over_oembed() -> None:
    post = youtube.parse_watch_page(WATCH, video_id=VID, oembed=OEMBED)
    assert post.via == "oembed+watch"
    assert post.title == "Noisy kittens waiting for dinner!"
    assert post.text.startswith("Our four kittens know exactly when dinner is due.\n")
    assert post.links == (
        "https://example.org/cats?list=kittens&utm_source=yt",
        "https://example.com/track/1234",
    )
    # publishDate carries an offset (-07:00), so it is an instant, stored in UTC.
    assert post.created_at == datetime(2009, 8, 22, 16, 14, 3, tzinfo=UTC)
    assert post.extra["created_at_precision"] == "second"
    assert post.extra["view_count"] == 1284392
    assert post.extra["length_seconds"] == 38
    assert post.extra["channel_id"] == "UCq2iOBdbZ1bHM6Qp2EGM1sA"
    assert post.extra["playability"] == {"status": "OK", "reason": None}
    assert post.author.handle == "@smshdchrb"
    (video,) = post.media
    assert video.duration_ms == 38_000
    assert video.preview_url == "https://i.ytimg.com/vi/eiHXASgRTcA/maxresdefault.jpg"


def test_parse_watch_page_bare_date_is_a_day() -> None:
    page = WATCH.replace(
        b'"publishDate":"2009-08-22T09:14:03-07:00"', b'"publishDate":"2009-08-22"'
    )
    post = youtube.parse_watch_page(page, video_id=VID)
    assert post.created_at == datetime(2009, 8, 22, tzinfo=UTC)
    assert post.extra["created_at_precision"] == "day"
    assert post.via == "watch"


def test_consent_page_is_recognised_and_not_parsed() -> None:
    assert youtube.is_consent_page("https://www.youtube.com/watch?v=eiHXASgRTcA", CONSENT)
    assert youtube.is_consent_page("https://consent.youtube.com/m?continue=x", b"")
    assert not youtube.is_consent_page("https://www.youtube.com/watch?v=eiHXASgRTcA", WATCH)
    with pytest.raises(ParseError):
        youtube.parse_watch_page(CONSENT, video_id=VID)


def test_watch_page_for_another_video_is_rejected() -> None:
    with pytest.raises(ParseError):
        youtube.parse_watch_page(WATCH, video_id="AAAAAAAAAAA")


# --- fetch_post ---------------------------------------------------------------------------------

OEMBED_URL = youtube.oembed_url(VID)
WATCH_URL = youtube.watch_url(VID)


def test_fetch_post_oembed_and_watch(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=OEMBED_URL, json=OEMBED)
    httpx_mock.add_response(
        url=WATCH_URL, match_headers={"Cookie": "SOCS=CAI"}, content=WATCH,
        headers={"Content-Type": "text/html; charset=utf-8"},
    )  # fmt: skip
    result = youtube.fetch_post(fetcher, "https://youtu.be/eiHXASgRTcA?si=tracking")
    assert result.status is Status.OK
    assert result.via == "oembed+watch"
    assert [e.url for e in result.exchanges] == [OEMBED_URL, WATCH_URL]
    assert result.primary is not None and result.primary.url == WATCH_URL
    assert result.post is not None and "warnings" not in result.post.extra


def test_fetch_post_consent_redirect_leaves_oembed_only(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    consent = "https://consent.youtube.com/m?continue=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3DeiHXASgRTcA&gl=ES"
    httpx_mock.add_response(url=OEMBED_URL, json=OEMBED)
    httpx_mock.add_response(url=WATCH_URL, status_code=303, headers={"Location": consent})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.OK
    assert result.via == "oembed"
    assert result.post is not None and result.post.title == "Noisy kittens waiting for dinner!"
    assert any("consent" in w for w in result.post.extra["warnings"])
    assert [e.url for e in result.exchanges] == [OEMBED_URL, WATCH_URL]  # consent page not fetched
    assert result.primary is not None and result.primary.url == OEMBED_URL


def test_fetch_post_consent_page_served_in_place(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=OEMBED_URL, json=OEMBED)
    httpx_mock.add_response(url=WATCH_URL, content=CONSENT, headers={"Content-Type": "text/html"})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.OK and result.via == "oembed"
    assert result.post is not None and result.post.text == ""


def test_fetch_post_404_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=OEMBED_URL, status_code=404, text="Not Found")
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.GONE
    assert len(result.exchanges) == 1


def test_fetch_post_embedding_disabled_uses_the_watch_page(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=OEMBED_URL, status_code=401, text="Unauthorized")
    httpx_mock.add_response(url=WATCH_URL, content=WATCH, headers={"Content-Type": "text/html"})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.OK
    assert result.via == "watch"
    assert result.post is not None and result.post.title == "Noisy kittens waiting for dinner!"
    assert any("embedding is disabled" in w for w in result.post.extra["warnings"])


@pytest.mark.parametrize("status", [200, 403])
def test_fetch_post_forbidden_is_private(
    httpx_mock: HTTPXMock, fetcher: Fetcher, status: int
) -> None:
    httpx_mock.add_response(url=OEMBED_URL, status_code=status, text="Forbidden")
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.FAILED
    assert "private" in (result.reason or "")


def test_fetch_post_removed_video_on_watch_page_is_gone(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    removed = (
        b'<html><body><script>var ytInitialPlayerResponse = {"playabilityStatus":'
        b'{"status":"ERROR","reason":"This video has been removed by the uploader"}};</script>'
        b"</body></html>"
    )
    httpx_mock.add_response(url=OEMBED_URL, status_code=401, text="Unauthorized")
    httpx_mock.add_response(url=WATCH_URL, content=removed, headers={"Content-Type": "text/html"})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.GONE
    assert "removed by the uploader" in (result.reason or "")


def test_fetch_post_nothing_readable_fails(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=OEMBED_URL, status_code=500, text="oops")
    httpx_mock.add_response(url=WATCH_URL, content=CONSENT, headers={"Content-Type": "text/html"})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.FAILED
    assert "consent" in (result.reason or "")
    assert len(result.exchanges) == 2


def test_fetch_post_429(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=OEMBED_URL, status_code=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        youtube.fetch_post(fetcher, WATCH_URL)
    assert caught.value.retry_after == 120


def test_fetch_post_bot_check_page_leaves_oembed_only(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    bot_check = (
        b'<html><body><script>var ytInitialPlayerResponse = {"playabilityStatus":'
        b'{"status":"LOGIN_REQUIRED","reason":"Sign in to confirm you\\u2019re not a bot"}};'
        b"</script></body></html>"
    )
    httpx_mock.add_response(url=OEMBED_URL, json=OEMBED)
    httpx_mock.add_response(url=WATCH_URL, content=bot_check, headers={"Content-Type": "text/html"})
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.OK
    assert result.via == "oembed"
    assert result.post is not None
    assert any("not a bot" in w for w in result.post.extra["warnings"])


@pytest.mark.parametrize(
    ("status", "reason", "gone"),
    [
        ("ERROR", "This video has been removed by the uploader", True),
        ("ERROR", "Video unavailable", True),
        ("ERROR", "This video isn't available anymore", True),
        ("UNPLAYABLE", "The uploader has not made this video available in your country", False),
        ("LOGIN_REQUIRED", "This video is private", False),
        (
            "ERROR",
            "This video is no longer available because the YouTube account has been terminated.",
            True,
        ),
    ],
)
def test_gone_reasons(status: str, reason: str, gone: bool) -> None:
    assert youtube._says_gone(status, reason) is gone


def test_fetch_post_watch_page_timeout_leaves_oembed_only(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=OEMBED_URL, json=OEMBED)
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), url=WATCH_URL)
    result = youtube.fetch_post(fetcher, WATCH_URL)
    assert result.status is Status.OK and result.via == "oembed"
    assert result.post is not None
    assert any("could not be fetched" in w for w in result.post.extra["warnings"])
    assert len(result.exchanges) == 2
