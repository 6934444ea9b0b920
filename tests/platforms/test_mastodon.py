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
from archiver.platforms import mastodon

DATA = Path(__file__).resolve().parent.parent / "data" / "mastodon"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_bytes())


# --- match ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://fosstodon.org/@schochastics/114026814291152535",
        "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555",
        "https://fosstodon.org/users/schochastics/statuses/114026814291152535",
        "https://mastodon.social/web/statuses/114870142396314555",
        "https://mastodon.social/web/@Gargron/109",
        "https://shitposter.club/notice/7369654",
        "https://p.helene.moe/notice/AM7S6vZQmL6pI9TgPY",
        "https://misskey.io/notes/8vs6wxufd0",
        "https://p.helene.moe/objects/fd5910ac-d9dc-412e-8d1d-914b203296c4",
    ],
)
def test_match_accepts_fediverse_post_shapes_on_any_host(url: str) -> None:
    assert mastodon.match(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://fosstodon.org/@schochastics",  # a profile, not a post
        "https://fosstodon.org/@schochastics/with_replies",
        "https://medium.com/@someone/123456",  # same shape, not the fediverse
        "https://x.com/@jack/20",
        "https://example.com/notes/2024-trip",  # a blog's notes section
        "https://example.com/objects/12",
        "ftp://fosstodon.org/@a/1",
        "not a url",
    ],
)
def test_match_rejects_other_urls(url: str) -> None:
    assert not mastodon.match(url)


def test_parse_url_names_remote_account_and_kind() -> None:
    ref = mastodon.parse_url("https://mastodon.social/@simonpcouch@rstats.me/114870142396314555")
    assert ref is not None
    assert (ref.host, ref.id, ref.user, ref.remote, ref.kind) == (
        "mastodon.social",
        "114870142396314555",
        "simonpcouch",
        "rstats.me",
        "api",
    )
    misskey = mastodon.parse_url("https://misskey.io/notes/8vs6wxufd0")
    assert misskey is not None and misskey.kind == "object"


def test_fallback_to_web_is_declared() -> None:
    assert mastodon.FALLBACK_TO_WEB is True


# --- REST API status ----------------------------------------------------------------------------


def test_parse_status_expands_links_and_reads_media() -> None:
    post = mastodon.parse_status(
        load("fosstodon_status_114026814291152535.json"), api_host="fosstodon.org"
    )
    assert post.id == "114026814291152535"
    assert post.url == "https://fosstodon.org/@schochastics/114026814291152535"
    assert post.author.name == "David Schoch"
    assert post.author.handle == "@schochastics@fosstodon.org"
    assert post.author.url == "https://fosstodon.org/@schochastics"
    # The visible text was "github.com/schochastics/quarto" + invisible spans; href is the truth.
    assert post.text == (
        "Not sure if this already exist, but I created a #quartopub filter which adds a domain "
        "preview to each link in a quarto html document. Might come in handy for accessibility."
        "\n\n📦 https://github.com/schochastics/quarto-url-peek\n\n#rstats"
    )
    assert post.links == ("https://github.com/schochastics/quarto-url-peek",)  # no hashtag links
    assert post.created_at == datetime(2025, 2, 18, 20, 38, 26, 738000, tzinfo=UTC)
    assert post.lang == "en"
    (image,) = post.media
    assert image.type == "image"
    assert image.url.endswith("/original/1eae16ac3bd6085e.png")
    assert image.alt == "screenshot of a document that contains links processed by url-peek"
    assert (image.width, image.height) == (1710, 676)
    assert post.extra["card"]["url"] == "https://github.com/schochastics/quarto-url-peek"
    assert post.extra["reblogs_count"] == 5
    assert post.via == "api"


def test_parse_status_reply_points_at_replied_post_on_the_same_server() -> None:
    post = mastodon.parse_status(
        load("fosstodon_status_113758502912504745_reply.json"), api_host="fosstodon.org"
    )
    assert post.reply_to == (
        "https://fosstodon.org/@mario_angst_sci@fediscience.org/113758013821835772"
    )


def test_parse_status_of_remote_post_prefers_origin_media() -> None:
    post = mastodon.parse_status(
        load("mastodon.social_status_114870142396314555_remote.json"), api_host="mastodon.social"
    )
    assert post.url == "https://rstats.me/@simonpcouch/114870142137562212"
    assert post.author.handle == "@simonpcouch@rstats.me"
    assert post.links == ("https://www.simonpcouch.com/blog/2025-07-17-claude-code-2/",)
    assert "https://www.simonpcouch.com/blog/2025-07-17-claude-code-2/" in post.text
    assert post.media[0].url.startswith("https://cdn.masto.host/rstatsme/")


def test_parse_status_keeps_card() -> None:
    post = mastodon.parse_status(load("localhost_status_card.json"))
    assert post.text == "http://example.org/"
    assert post.links == ("http://example.org/",)
    assert post.extra["card"]["url"].startswith("http://example.org")
    assert post.extra["sensitive"] is True


def test_parse_status_boost_becomes_the_boosted_status() -> None:
    inner = load("fosstodon_status_114026814291152535.json")
    booster = load("localhost_status_card.json")
    booster["reblog"] = inner
    post = mastodon.parse_status(booster, api_host="fosstodon.org")
    assert post.id == "114026814291152535"
    assert post.author.name == "David Schoch"
    assert post.extra["boosted_by"]["handle"] == "@mastodonpy_test@localhost"


def test_parse_status_with_accepted_quote_embeds_it() -> None:
    quoting = load("localhost_status_card.json")
    quoting["quote"] = {"state": "accepted", "quoted_status": load(
        "fosstodon_status_114026814291152535.json"
    )}  # fmt: skip
    post = mastodon.parse_status(quoting)
    assert post.quote_of == "https://fosstodon.org/@schochastics/114026814291152535"
    assert [p.id for p in post.embedded] == ["114026814291152535"]
    assert post.extra["quote_state"] == "accepted"


def test_parse_status_rejects_non_status() -> None:
    with pytest.raises(ParseError):
        mastodon.parse_status({"error": "Record not found"})


# --- ActivityPub --------------------------------------------------------------------------------


def test_parse_activity_unwraps_create() -> None:
    post = mastodon.parse_activity(load("mastodon-post-activity_Create.json"))
    assert post.id == "99512778738411822"
    assert post.url == "http://mastodon.example.org/@admin/99512778738411822"
    assert post.author.url == "http://mastodon.example.org/users/admin"
    assert post.text == "@lain"
    assert post.links == ()  # the only anchor is a mention
    assert post.extra["summary"] == "cw"
    assert post.created_at == datetime(2018, 2, 12, 14, 8, 20, tzinfo=UTC)
    assert post.via == "activitypub"


def test_parse_activity_misskey_and_pleroma_notes() -> None:
    misskey = mastodon.parse_activity(load("misskey.io_note_8vs6wxufd0.json"))
    assert misskey.text == "Fantiaこれできないように過去のやつは従量課金だった気がする"
    assert misskey.created_at == datetime(2022, 1, 21, 16, 37, 12, 663000, tzinfo=UTC)
    pleroma = mastodon.parse_activity(load("p.helene.moe_note_pleroma.json"))
    assert pleroma.text == "@mametsuko meow"
    assert pleroma.reply_to == "https://mk.absturztau.be/notes/93e7nm8wqg"
    assert pleroma.created_at == datetime(2022, 8, 2, 13, 46, 58, 403996, tzinfo=UTC)


def test_tombstone_is_recognised() -> None:
    assert mastodon.is_tombstone({"id": "https://a.example/objects/1", "type": "Tombstone"})
    assert not mastodon.is_tombstone(load("misskey.io_note_8vs6wxufd0.json"))
    with pytest.raises(ParseError):
        mastodon.parse_activity({"id": "https://a.example/objects/1", "type": "Tombstone"})


# --- fetch_post ---------------------------------------------------------------------------------

STATUS_URL = "https://fosstodon.org/@schochastics/114026814291152535"
API_URL = "https://fosstodon.org/api/v1/statuses/114026814291152535"
AP_URL = "https://fosstodon.org/users/schochastics/statuses/114026814291152535"


def test_fetch_post_via_api(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=API_URL, json=load("fosstodon_status_114026814291152535.json"))
    result = mastodon.fetch_post(fetcher, STATUS_URL)
    assert result.status is Status.OK
    assert result.post is not None and result.post.id == "114026814291152535"
    assert result.via == "api"
    assert [e.url for e in result.exchanges] == [API_URL]
    assert result.primary is result.exchanges[-1]


def test_fetch_post_remote_account_reads_the_origin_copy(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    cached = load("mastodon.social_status_114870142396314555_remote.json")
    origin = dict(cached, id="114870142137562212")
    origin["account"] = dict(cached["account"], acct="simonpcouch")
    httpx_mock.add_response(
        url="https://mastodon.social/api/v1/statuses/114870142396314555", json=cached
    )
    httpx_mock.add_response(url="https://rstats.me/api/v1/statuses/114870142137562212", json=origin)
    result = mastodon.fetch_post(
        fetcher, "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555"
    )
    assert result.status is Status.OK
    assert result.post is not None
    assert result.post.id == "114870142137562212"
    assert result.post.via == "api-origin"
    assert result.post.author.handle == "@simonpcouch@rstats.me"
    assert len(result.exchanges) == 2
    assert result.primary is not None and result.primary.url.startswith("https://rstats.me/")


def test_fetch_post_remote_origin_not_mastodon_uses_activitypub(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    cached = load("mastodon.social_status_114870142396314555_remote.json")
    cached["uri"] = "https://misskey.io/notes/8vs6wxufd0"
    httpx_mock.add_response(
        url="https://mastodon.social/api/v1/statuses/114870142396314555", json=cached
    )
    httpx_mock.add_response(
        url="https://misskey.io/notes/8vs6wxufd0",
        match_headers={"Accept": mastodon.ACTIVITY_ACCEPT},
        json=load("misskey.io_note_8vs6wxufd0.json"),
        headers={"Content-Type": "application/activity+json"},
    )
    result = mastodon.fetch_post(
        fetcher, "https://mastodon.social/@simonpcouch@misskey.io/114870142396314555"
    )
    assert result.status is Status.OK
    assert result.post is not None and result.post.via == "activitypub"
    assert result.post.id == "8vs6wxufd0"


def test_fetch_post_remote_deleted_at_origin_is_gone(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    cached = load("mastodon.social_status_114870142396314555_remote.json")
    httpx_mock.add_response(
        url="https://mastodon.social/api/v1/statuses/114870142396314555", json=cached
    )
    httpx_mock.add_response(
        url="https://rstats.me/api/v1/statuses/114870142137562212",
        status_code=404,
        json={"error": "Record not found"},
    )
    result = mastodon.fetch_post(
        fetcher, "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555"
    )
    assert result.status is Status.GONE
    assert "origin server rstats.me" in (result.reason or "")
    assert len(result.exchanges) == 2


def test_fetch_post_404_json_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=API_URL, status_code=404, json={"error": "Record not found"})
    result = mastodon.fetch_post(fetcher, STATUS_URL)
    assert result.status is Status.GONE
    assert result.post is None
    assert len(result.exchanges) == 1


def test_fetch_post_api_unavailable_falls_back_to_activitypub(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=API_URL, status_code=404, html="<h1>Not Found</h1>")
    httpx_mock.add_response(
        url=AP_URL,
        match_headers={"Accept": mastodon.ACTIVITY_ACCEPT},
        json=load("mastodon-post-activity_Create.json"),
        headers={"Content-Type": "application/activity+json"},
    )
    result = mastodon.fetch_post(fetcher, STATUS_URL)
    assert result.status is Status.OK
    assert result.via == "activitypub"
    assert [e.url for e in result.exchanges] == [API_URL, AP_URL]
    assert result.primary is not None and result.primary.url == AP_URL


def test_fetch_post_410_tombstone_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    url = "https://p.helene.moe/objects/fd5910ac-d9dc-412e-8d1d-914b203296c4"
    httpx_mock.add_response(
        url=url,
        status_code=410,
        json={"id": url, "type": "Tombstone", "formerType": "Note"},
    )
    result = mastodon.fetch_post(fetcher, url)
    assert result.status is Status.GONE
    assert "410" in (result.reason or "")


def test_fetch_post_401_everywhere_needs_authorised_fetch(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(
        url=API_URL, status_code=401, json={"error": "This API requires an authenticated user"}
    )
    httpx_mock.add_response(url=AP_URL, status_code=401, text="Request not signed")
    result = mastodon.fetch_post(fetcher, STATUS_URL)
    assert result.status is Status.FAILED
    assert "server requires authorised fetch" in (result.reason or "")
    assert len(result.exchanges) == 2


def test_fetch_post_when_no_route_answers_fails_for_web_fallback(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=API_URL, status_code=503, text="maintenance")
    httpx_mock.add_response(url=AP_URL, status_code=200, html="<html>profile page</html>")
    result = mastodon.fetch_post(fetcher, STATUS_URL)
    assert result.status is Status.FAILED
    assert "503" in (result.reason or "")


def test_fetch_post_429_raises_with_reset_time(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=API_URL,
        status_code=429,
        json={"error": "Too many requests"},
        headers={
            "Date": "Thu, 17 Jul 2025 18:05:08 GMT",
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "2025-07-17T18:10:00.382733Z",
        },
    )
    with pytest.raises(RateLimited) as caught:
        mastodon.fetch_post(fetcher, STATUS_URL)
    assert caught.value.retry_after == pytest.approx(292.382733)
    assert len(caught.value.exchanges) == 1


def test_fetch_post_rejects_non_post_url(fetcher: Fetcher) -> None:
    with pytest.raises(ParseError):
        mastodon.fetch_post(fetcher, "https://fosstodon.org/about")


def test_fetch_post_origin_at_private_address_is_refused_and_cached_copy_kept(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    cached = load("mastodon.social_status_114870142396314555_remote.json")
    cached["uri"] = "https://127.0.0.1/users/simonpcouch/statuses/1"
    httpx_mock.add_response(
        url="https://mastodon.social/api/v1/statuses/114870142396314555", json=cached
    )
    result = mastodon.fetch_post(
        fetcher, "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555"
    )
    assert result.status is Status.OK
    assert result.post is not None and result.post.via == "api"
    assert "could not be fetched" in result.post.extra["origin_error"]
    assert [e.url for e in result.exchanges] == [
        "https://mastodon.social/api/v1/statuses/114870142396314555"
    ]


def test_fetch_post_origin_unreachable_keeps_cached_copy_and_the_failed_exchange(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    cached = load("mastodon.social_status_114870142396314555_remote.json")
    httpx_mock.add_response(
        url="https://mastodon.social/api/v1/statuses/114870142396314555", json=cached
    )
    httpx_mock.add_exception(
        httpx.ConnectError("connection refused"),
        url="https://rstats.me/api/v1/statuses/114870142137562212",
    )
    result = mastodon.fetch_post(
        fetcher, "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555"
    )
    assert result.status is Status.OK
    assert result.post is not None and result.post.id == "114870142396314555"
    assert len(result.exchanges) == 2
    assert result.exchanges[1].error is not None
    assert result.primary is result.exchanges[0]


def test_fetch_post_misskey_note_is_read_over_activitypub_only(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    url = "https://misskey.io/notes/8vs6wxufd0"
    httpx_mock.add_response(
        url=url,
        match_headers={"Accept": mastodon.ACTIVITY_ACCEPT},
        json=load("misskey.io_note_8vs6wxufd0.json"),
        headers={"Content-Type": "application/activity+json"},
    )
    result = mastodon.fetch_post(fetcher, url)
    assert result.status is Status.OK
    assert result.via == "activitypub"
    assert [e.url for e in result.exchanges] == [url]  # no /api/v1 guess on Misskey
