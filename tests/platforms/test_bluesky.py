from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pytest_httpx import HTTPXMock

from archiver.errors import ParseError, RateLimited
from archiver.fetch import Fetcher
from archiver.model import Status
from archiver.platforms import bluesky

# Ten real getFeed items; getPostThread answers are built by wrapping their PostViews.
FEED: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parent.parent / "data/bluesky/feedViewPost_variety_sample.json")
    .read_bytes()
)  # fmt: skip
EXTERNAL, IMAGES, QUOTE = FEED[0]["post"], FEED[1]["post"], FEED[2]["post"]


def thread(post: dict[str, Any], parent: dict[str, Any] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": post}
    if parent is not None:
        node["parent"] = parent
    return {"thread": node}


# --- match ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://bsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://bsky.app/profile/did:plc:4hsqiyuogfohtw5loto626ck/post/3lbv5is6h6c2k",
        "https://fxbsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://vxbsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://bskyx.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://bskye.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://cbsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "https://main.bsky.dev/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "at://did:plc:4hsqiyuogfohtw5loto626ck/app.bsky.feed.post/3lbv5is6h6c2k",
    ],
)
def test_match_accepts_post_urls(url: str) -> None:
    assert bluesky.match(url)
    ref = bluesky.parse_url(url)
    assert ref is not None and ref.rkey == "3lbv5is6h6c2k"


@pytest.mark.parametrize(
    "url",
    [
        "https://bsky.app/profile/manusandhu.com",
        "https://bsky.app/profile/manusandhu.com/feed/whats-hot",
        "https://example.com/profile/manusandhu.com/post/3lbv5is6h6c2k",
        "at://did:plc:4hsqiyuogfohtw5loto626ck/app.bsky.feed.like/3lbv5is6h6c2k",
    ],
)
def test_match_rejects_other_urls(url: str) -> None:
    assert not bluesky.match(url)


# --- parsing --------------------------------------------------------------------------------------


def test_link_facet_expands_truncated_text_by_utf8_byte_offsets() -> None:
    post = bluesky.parse_post_view(EXTERNAL)
    # The record text reads "www.vibe.com/lists/kendri..." after curly quotes (multi-byte in UTF-8).
    assert post.text == (
        "Every Reference In Kendrick Lamar’s “squabble up” Music Video\n\n"
        "https://www.vibe.com/lists/kendrick-lamar-squabble-up-video-easter-eggs/"
    )
    assert post.links == (
        "https://www.vibe.com/lists/kendrick-lamar-squabble-up-video-easter-eggs/",
    )
    assert (
        post.extra["card"]["title"]
        == "Every Reference In Kendrick Lamar’s “squabble up” Music Video"
    )
    assert post.created_at == datetime(2024, 11, 26, 23, 4, 2, 981000, tzinfo=UTC)
    assert post.extra["indexed_at"] == "2024-11-26T23:04:04.562Z"
    assert post.author.handle == "@manusandhu.com"
    assert post.author.name == "Manu Sandhu"
    assert post.url == "https://bsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k"
    assert post.extra["at_uri"] == EXTERNAL["uri"]
    assert post.lang == "en"


def test_facet_with_words_keeps_the_words() -> None:
    text = "✅ read the report now"
    start = len("✅ read the ".encode())  # 4 bytes for the emoji: byte, not character, offsets
    facets = [
        {
            "index": {"byteStart": start, "byteEnd": start + len(b"report")},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/r"}],
        }
    ]
    assert bluesky.expand_facets(text, facets) == (text, ("https://example.org/r",))


def test_images_embed_gives_fullsize_alt_and_aspect_ratio() -> None:
    post = bluesky.parse_post_view(IMAGES)
    assert [m.type for m in post.media] == ["image", "image"]
    first = post.media[0]
    assert first.url.startswith("https://cdn.bsky.app/img/feed_fullsize/")
    assert first.preview_url is not None and "feed_thumbnail" in first.preview_url
    assert (first.width, first.height) == (1290, 1238)
    assert first.alt is None  # empty alt text is no alt text


def test_record_embed_is_a_quote_with_the_quoted_post_embedded() -> None:
    post = bluesky.parse_post_view(QUOTE)
    assert (
        post.quote_of == "https://bsky.app/profile/blackazizanansi.bsky.social/post/3lbulqmvhdk26"
    )
    (quoted,) = post.embedded
    assert quoted.text.startswith("All Drake had to do was lay low")
    assert quoted.extra["likeCount"] == 6908
    assert "!no-unauthenticated" in quoted.extra["labels"]


def test_quoted_reply_names_its_parent() -> None:
    quoted = bluesky.parse_post_view(FEED[3]["post"]).embedded[0]
    assert (
        quoted.reply_to
        == "https://bsky.app/profile/did:plc:42w7zjaerk3l2gtyhiw2ekr4/post/3lbv52kqrqs2c"
    )


@pytest.mark.parametrize(
    ("kind", "state"),
    [("#viewNotFound", "not-found"), ("#viewBlocked", "blocked"), ("#viewDetached", "detached")],
)
def test_unavailable_quotes_are_noted(kind: str, state: str) -> None:
    view = copy.deepcopy(QUOTE)
    uri = view["embed"]["record"]["uri"]
    view["embed"]["record"] = {"$type": f"app.bsky.embed.record{kind}", "uri": uri}
    post = bluesky.parse_post_view(view)
    assert post.extra["quote_state"] == state
    assert post.quote_of is not None and post.quote_of.endswith("/post/3lbulqmvhdk26")
    assert post.embedded == ()


def test_record_with_media_and_video_embeds() -> None:
    view = copy.deepcopy(QUOTE)
    video = {
        "$type": "app.bsky.embed.video#view",
        "cid": "bafkreivideo",
        "playlist": "https://video.bsky.app/watch/did%3Aplc%3Ax/bafkreivideo/playlist.m3u8",
        "thumbnail": "https://video.bsky.app/watch/did%3Aplc%3Ax/bafkreivideo/thumbnail.jpg",
        "aspectRatio": {"width": 1080, "height": 1920},
    }
    view["embed"] = {
        "$type": "app.bsky.embed.recordWithMedia#view",
        "record": view["embed"],
        "media": video,
    }
    post = bluesky.parse_post_view(view)
    (media,) = post.media
    assert (media.type, media.width, media.height) == ("video", 1080, 1920)
    assert media.url.endswith("playlist.m3u8")
    assert post.quote_of is not None and len(post.embedded) == 1


def test_thread_parent_becomes_reply_to_and_is_embedded() -> None:
    # Pairing two unrelated real posts as parent and child is synthetic; the shapes are real.
    parent = {"$type": "app.bsky.feed.defs#threadViewPost", "post": FEED[4]["post"]}
    post = bluesky.parse_thread(thread(FEED[5]["post"], parent))
    assert post.reply_to == bluesky.web_url(
        FEED[4]["post"]["uri"], FEED[4]["post"]["author"]["handle"]
    )
    assert post.embedded[-1].id == "3lbv5fraqc22a"
    missing = bluesky.parse_thread(
        thread(
            FEED[5]["post"],
            {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x", "notFound": True},
        )
    )
    assert missing.extra["parent_state"] == "not-found"


def test_thread_states() -> None:
    assert bluesky.thread_state(thread(EXTERNAL)) == "post"
    not_found = {
        "thread": {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x", "notFound": True}
    }
    assert bluesky.thread_state(not_found) == "not-found"
    blocked = {
        "thread": {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://x", "blocked": True}
    }
    assert bluesky.thread_state(blocked) == "blocked"
    with pytest.raises(ParseError):
        bluesky.parse_thread(not_found)


# --- fetch_post ---------------------------------------------------------------------------------

DID = "did:plc:4hsqiyuogfohtw5loto626ck"
RESOLVE = f"{bluesky.APPVIEW}/xrpc/com.atproto.identity.resolveHandle?handle=manusandhu.com"
THREAD = (
    f"{bluesky.APPVIEW}/xrpc/app.bsky.feed.getPostThread?uri="
    + quote(f"at://{DID}/app.bsky.feed.post/3lbv5is6h6c2k", safe="")
    + "&depth=0&parentHeight=1"
)
WEB = "https://bsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k"


def test_fetch_post_resolves_handle_then_reads_thread(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=RESOLVE, json={"did": DID})
    httpx_mock.add_response(url=THREAD, json=thread(EXTERNAL))
    result = bluesky.fetch_post(fetcher, WEB)
    assert result.status is Status.OK
    assert result.post is not None and result.post.links[0].startswith("https://www.vibe.com/")
    assert [e.url for e in result.exchanges] == [RESOLVE, THREAD]
    assert result.primary is not None and result.primary.url == THREAD
    assert result.via == "getPostThread"


def test_fetch_post_with_did_skips_resolution(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=THREAD, json=thread(EXTERNAL))
    result = bluesky.fetch_post(fetcher, f"https://fxbsky.app/profile/{DID}/post/3lbv5is6h6c2k")
    assert result.status is Status.OK
    assert len(result.exchanges) == 1


def test_fetch_post_http_400_not_found_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=RESOLVE, json={"did": DID})
    httpx_mock.add_response(
        url=THREAD,
        status_code=400,
        json={
            "error": "NotFound",
            "message": f"Post not found: at://{DID}/app.bsky.feed.post/3lbv5is6h6c2k",
        },
    )
    result = bluesky.fetch_post(fetcher, WEB)
    assert result.status is Status.GONE
    assert result.post is None
    assert len(result.exchanges) == 2


def test_fetch_post_blocked_thread_fails(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(url=RESOLVE, json={"did": DID})
    httpx_mock.add_response(
        url=THREAD,
        json={
            "thread": {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://x", "blocked": True}
        },
    )
    result = bluesky.fetch_post(fetcher, WEB)
    assert result.status is Status.FAILED
    assert "blocked" in (result.reason or "")


def test_fetch_post_unresolvable_handle_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=RESOLVE,
        status_code=400,
        json={"error": "InvalidRequest", "message": "Unable to resolve handle"},
    )
    result = bluesky.fetch_post(fetcher, WEB)
    assert result.status is Status.GONE
    assert "manusandhu.com" in (result.reason or "")


def test_fetch_post_429_uses_epoch_reset(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=RESOLVE,
        status_code=429,
        json={"error": "RateLimitExceeded"},
        headers={
            "Date": "Tue, 26 Nov 2024 23:05:00 GMT",
            "RateLimit-Limit": "3000",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(int(datetime(2024, 11, 26, 23, 6, 30, tzinfo=UTC).timestamp())),
            "RateLimit-Policy": "3000;w=300",
        },
    )
    with pytest.raises(RateLimited) as caught:
        bluesky.fetch_post(fetcher, WEB)
    assert caught.value.retry_after == pytest.approx(90.0)
