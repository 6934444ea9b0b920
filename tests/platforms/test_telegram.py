from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

from archiver.errors import ParseError, RateLimited
from archiver.fetch import Fetcher
from archiver.model import Status
from archiver.platforms import telegram

DATA = Path(__file__).resolve().parent.parent / "data" / "telegram"
# Synthetic widget pages written after the documented CSS classes (see tests/data/SOURCES.md).
WIDGET = (DATA / "widget_post.html").read_bytes()
NOT_FOUND = (DATA / "widget_not_found.html").read_bytes()
URL = "https://t.me/examplenews/4821"


@pytest.mark.parametrize(
    "url",
    [
        URL,
        "https://t.me/s/examplenews/4821",
        "https://telegram.me/examplenews/4821",
        "https://www.t.me/examplenews/4821?single",
        "https://t.me/c/1234567890/55",
    ],
)
def test_match_accepts_channel_posts(url: str) -> None:
    assert telegram.match(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://t.me/examplenews",
        "https://t.me/joinchat/4821",
        "https://t.me/addstickers/4821",
        "https://t.me/+AbCdEf/12",
        "https://example.com/examplenews/4821",
    ],
)
def test_match_rejects_other_urls(url: str) -> None:
    assert not telegram.match(url)


def test_widget_url() -> None:
    ref = telegram.parse_url("https://t.me/s/examplenews/4821")
    assert ref is not None
    assert telegram.widget_url(ref) == "https://t.me/examplenews/4821?embed=1&mode=tme"


def test_parse_widget_text_without_reply_quote_and_with_real_hrefs() -> None:
    post = telegram.parse_widget(WIDGET, url=URL)
    assert post.id == "4821"
    assert post.url == URL
    assert post.text == (
        "Ministry confirms the new rules take effect on 1 June.\n\n"
        "Full statement: https://www.example.gov/press/2024/05/new-rules-statement\n"
        "Background in our analysis #policy 📰"
    )
    assert "press conference" not in post.text  # that was the quoted parent
    assert post.links == (
        "https://www.example.gov/press/2024/05/new-rules-statement",
        "https://example.org/analysis/rules",
    )
    assert post.reply_to == "https://t.me/examplenews/4815"


def test_parse_widget_author_date_and_footer() -> None:
    post = telegram.parse_widget(WIDGET, url=URL)
    assert post.author.name == "Example News Desk"
    assert post.author.handle == "@examplenews"
    assert post.author.url == "https://t.me/examplenews"
    assert post.created_at == datetime(2024, 5, 6, 14, 3, 27, tzinfo=UTC)
    assert post.extra["views"] == "12.4K"
    assert post.extra["edited"] is True
    assert post.extra["signed_by"] == "A. Editor"
    assert post.extra["forwarded_from"] == {
        "name": "Example Wire",
        "url": "https://t.me/examplewire/977",
    }


def test_parse_widget_media_and_link_preview() -> None:
    post = telegram.parse_widget(WIDGET, url=URL)
    photo, video = post.media
    assert (photo.type, photo.url) == ("image", "https://cdn4.telesco.pe/file/photo-one.jpg")
    assert video.type == "video"
    assert video.url == "https://cdn4.telesco.pe/file/video-one.mp4?token=abc123"
    assert video.duration_ms == 65_000
    assert video.preview_url == "https://cdn4.telesco.pe/file/video-thumb.jpg"
    preview = post.extra["link_preview"]
    assert preview["title"] == "Statement on the new rules"
    assert preview["site_name"] == "Example Government"
    assert preview["image"] == "https://cdn4.telesco.pe/file/preview-image.jpg"
    # The preview's image belongs to the linked page, not to the post's media.
    assert all("preview-image" not in m.url for m in post.media)


def test_widget_error() -> None:
    assert telegram.widget_error(NOT_FOUND) == "Post not found"
    assert telegram.widget_error(WIDGET) is None
    with pytest.raises(ParseError):
        telegram.parse_widget(b"<html><body>nothing</body></html>", url=URL)


WIDGET_URL = "https://t.me/examplenews/4821?embed=1&mode=tme"


def test_fetch_post(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=WIDGET_URL, content=WIDGET, headers={"Content-Type": "text/html"})
    result = telegram.fetch_post(fetcher, "https://t.me/s/examplenews/4821")
    assert result.status is Status.OK
    assert result.via == "widget"
    assert result.post is not None and result.post.id == "4821"
    assert [e.url for e in result.exchanges] == [WIDGET_URL]


def test_fetch_post_not_found_answers_200_and_is_gone(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(
        url=WIDGET_URL, content=NOT_FOUND, headers={"Content-Type": "text/html"}
    )
    result = telegram.fetch_post(fetcher, URL)
    assert result.status is Status.GONE
    assert "Post not found" in (result.reason or "")
    assert result.primary is not None and result.primary.status == 200


def test_fetch_post_private_channel_fails_without_a_request(fetcher: Fetcher) -> None:
    result = telegram.fetch_post(fetcher, "https://t.me/c/1234567890/55")
    assert result.status is Status.FAILED
    assert "private channel needs an account" in (result.reason or "")
    assert result.exchanges == ()


def test_fetch_post_429(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=WIDGET_URL, status_code=429, headers={"Retry-After": "30"})
    with pytest.raises(RateLimited) as caught:
        telegram.fetch_post(fetcher, URL)
    assert caught.value.retry_after == 30
