"""Parsing X's three public answers into Posts, on recorded responses."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.errors import ParseError
from archiver.model import Media, MediaVariant, Platform
from archiver.platforms.twitter import parse_fxtwitter, parse_oembed, parse_syndication, parse_time

DATA = Path(__file__).parent.parent / "data" / "twitter"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# --- syndication --------------------------------------------------------------------------------


def test_syndication_image_tweet() -> None:
    post = parse_syndication(load("tweet-result_1641086480675225601_image.json"))
    assert post.platform is Platform.TWITTER
    assert post.via == "syndication"
    assert post.id == "1641086480675225601"
    assert post.url == "https://x.com/SamuelSusla/status/1641086480675225601"
    assert post.author.name == "sammy"
    assert post.author.handle == "SamuelSusla"
    assert post.author.url == "https://x.com/SamuelSusla"
    # The t.co link is expanded in place; the trailing media link is gone.
    assert post.text == (
        "If you are interested about View Flattening in React Native, I wrote a short post about "
        "it: https://github.com/reactwg/react-native-new-architecture/discussions/110\n\n"
        "Let me know what you think!"
    )
    assert post.links == (
        "https://github.com/reactwg/react-native-new-architecture/discussions/110",
    )
    assert post.created_at == datetime(2023, 3, 29, 14, 34, 41, tzinfo=UTC)
    assert post.lang == "en"
    assert post.media == (
        Media(
            url="https://pbs.twimg.com/media/FsZNOgcWAAEQtrd?format=jpg&name=orig",
            type="image",
            width=1995,
            height=896,
        ),
    )
    assert post.reply_to is None and post.quote_of is None and post.embedded == ()
    assert post.extra["favorite_count"] == 226
    assert post.extra["conversation_count"] == 1
    assert post.extra["isEdited"] is False
    assert post.extra["possibly_sensitive"] is False
    assert post.extra["edit_control"]["edit_tweet_ids"] == ["1641086480675225601"]
    assert post.extra["author_id"] == "469266133"


def test_syndication_quote_tweet_embeds_the_quoted_post() -> None:
    post = parse_syndication(load("tweet-result_1641895049427550208_quote.json"))
    assert post.author.handle == "mattcarrollcode"
    assert post.text.startswith("#ReactNative's new architecture renderer")
    assert post.text.endswith("all without extra setup!")
    assert post.links == ()
    assert post.quote_of == "https://x.com/SamuelSusla/status/1641086480675225601"
    (quoted,) = post.embedded
    assert quoted.id == "1641086480675225601"
    assert quoted.url == post.quote_of
    assert quoted.via == "syndication"
    assert quoted.links == (
        "https://github.com/reactwg/react-native-new-architecture/discussions/110",
    )
    assert quoted.media[0].url == "https://pbs.twimg.com/media/FsZNOgcWAAEQtrd?format=jpg&name=orig"
    assert quoted.extra["retweet_count"] == 42
    assert quoted.extra["reply_count"] == 1


def test_syndication_card_tweet() -> None:
    post = parse_syndication(load("tweet-result_1629262255744503809_card.json"))
    assert post.text.startswith("📰 I recently joined @reactjs!")
    assert post.text.endswith(
        "in the React tutorial? https://beta.reactjs.org/learn/tutorial-tic-tac-toe"
    )
    assert post.links == ("https://beta.reactjs.org/learn/tutorial-tic-tac-toe",)
    assert post.media == ()
    assert post.extra["card"] == {
        "name": "summary_large_image",
        "url": "https://beta.reactjs.org/learn/tutorial-tic-tac-toe",
        "title": "Tutorial: Tic-Tac-Toe – React",
        "description": "The library for web and native user interfaces",
        "domain": "react.dev",
        "image": "https://pbs.twimg.com/card_img/1639232954701594625/7ayIAMcm?format=png&name=orig",
    }
    assert post.extra["conversation_count"] == 11


def test_syndication_card_with_reddit_link() -> None:
    post = parse_syndication(load("tweet-result_1703436713362870723_card_reddit-link.json"))
    reddit = "https://reddit.com/r/technology/comments/16jlhj7/we_are_senator_ron_wyden_fight_for_the_future/"
    assert post.links == (reddit,)
    # The ellipsis after the link was typed by the author; the emoji at the end is kept.
    assert f"\n\n{reddit}…\n\n" in post.text
    assert post.text.endswith("1/2 🧵")
    assert "https://t.co/" not in post.text
    assert post.extra["card"]["url"] == reddit
    assert post.extra["card"]["domain"] == "www.reddit.com"
    assert post.created_at == datetime(2023, 9, 17, 15, 52, 15, tzinfo=UTC)


def test_syndication_synthetic_news_tweet() -> None:
    post = parse_syndication(load("syndication_news_tco.json"))
    assert post.author.handle == "NBCNews"
    assert post.url == "https://x.com/NBCNews/status/1656298673665021138"
    assert post.text == (
        "City council approves a budget that keeps public libraries & pools open on weekends "
        "through 2024, officials said. https://nbcnews.to/3Lq9XzA"
    )
    assert post.links == ("https://nbcnews.to/3Lq9XzA",)
    assert post.extra["card"]["url"] == "https://nbcnews.to/3Lq9XzA"
    assert post.extra["card"]["domain"] == "www.nbcnews.com"


def _tweet(text: str, urls: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "__typename": "Tweet",
        "id_str": "1641086480675225601",
        "text": text,
        "user": {"name": "sammy", "screen_name": "SamuelSusla"},
        "entities": {"urls": urls},
    }
    base.update(more)
    return base


def test_syndication_indices_count_code_points() -> None:
    # Two astral emoji before the link: code points 3, UTF-16 units 5.
    text = "🧵🧵 https://t.co/AAAAAAAAAA end"
    entity = {
        "url": "https://t.co/AAAAAAAAAA",
        "expanded_url": "https://example.org/a",
        "indices": [3, 26],
    }
    post = parse_syndication(_tweet(text, [entity], display_text_range=[0, 30]))
    assert post.text == "🧵🧵 https://example.org/a end"


def test_syndication_unescapes_text_but_not_links() -> None:
    # Indices here count the escaped text, as current answers do.
    text = "Q&amp;A &lt;3 https://t.co/BBBBBBBBBB"
    entity = {
        "url": "https://t.co/BBBBBBBBBB",
        "expanded_url": "https://example.org/?a=1&amp=2",
        "indices": [14, 37],
    }
    post = parse_syndication(_tweet(text, [entity], display_text_range=[0, 37]))
    assert post.text == "Q&A <3 https://example.org/?a=1&amp=2"


def test_syndication_finds_links_when_indices_are_off() -> None:
    # Older answers counted the unescaped text, so indices land 4 characters early.
    text = "a &amp; b https://t.co/CCCCCCCCCC"
    entity = {
        "url": "https://t.co/CCCCCCCCCC",
        "expanded_url": "https://example.org/c",
        "indices": [6, 29],
    }
    post = parse_syndication(_tweet(text, [entity]))
    assert post.text == "a & b https://example.org/c"
    assert post.links == ("https://example.org/c",)


def test_syndication_drops_media_link_without_display_range() -> None:
    data = load("tweet-result_1641086480675225601_image.json")
    del data["display_text_range"]
    post = parse_syndication(data)
    assert post.text.endswith("Let me know what you think!")
    assert "https://t.co/" not in post.text


def test_syndication_respects_display_range_start() -> None:
    text = "@alice @bob thanks!"
    post = parse_syndication(_tweet(text, [], display_text_range=[12, 19]))
    assert post.text == "thanks!"


def test_syndication_reply_embeds_parent() -> None:
    parent = load("tweet-result_1641086480675225601_image.json")
    reply = _tweet(
        "@SamuelSusla nice post",
        [],
        id_str="1641100000000000000",
        display_text_range=[13, 22],
        in_reply_to_status_id_str="1641086480675225601",
        in_reply_to_screen_name="SamuelSusla",
        parent=parent,
    )
    post = parse_syndication(reply)
    assert post.text == "nice post"
    assert post.reply_to == "https://x.com/SamuelSusla/status/1641086480675225601"
    assert [p.id for p in post.embedded] == ["1641086480675225601"]


def test_syndication_video_and_gif_variants() -> None:
    video_info = {
        "duration_millis": 12345,
        "variants": [
            {
                "content_type": "application/x-mpegURL",
                "url": "https://video.twimg.com/ext_tw_video/1/pu/pl/a.m3u8",
            },
            {
                "bitrate": 832000,
                "content_type": "video/mp4",
                "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/640x360/b.mp4",
            },
            {
                "bitrate": 2176000,
                "content_type": "video/mp4",
                "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/1280x720/c.mp4",
            },
            {
                "bitrate": 256000,
                "content_type": "video/mp4",
                "url": "https://video.twimg.com/ext_tw_video/1/pu/vid/480x270/d.mp4",
            },
        ],
    }
    details = [
        {
            "type": "video",
            "media_url_https": "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/p.jpg",
            "original_info": {"width": 1280, "height": 720},
            "video_info": video_info,
        },
        {
            "type": "animated_gif",
            "media_url_https": "https://pbs.twimg.com/tweet_video_thumb/g.jpg",
            "ext_alt_text": "a cat",
            "video_info": {
                "variants": [
                    {
                        "bitrate": 0,
                        "content_type": "video/mp4",
                        "url": "https://video.twimg.com/tweet_video/g.mp4",
                    }
                ]
            },
        },
    ]
    video, gif = parse_syndication(_tweet("look", [], mediaDetails=details)).media
    assert video.type == "video"
    assert video.url == "https://video.twimg.com/ext_tw_video/1/pu/vid/1280x720/c.mp4"
    assert video.preview_url == "https://pbs.twimg.com/ext_tw_video_thumb/1/pu/img/p.jpg"
    assert video.duration_ms == 12345
    assert (video.width, video.height) == (1280, 720)
    assert len(video.variants) == 4
    assert video.variants[0] == MediaVariant(
        url="https://video.twimg.com/ext_tw_video/1/pu/pl/a.m3u8",
        content_type="application/x-mpegURL",
    )
    assert video.variants[1] == MediaVariant(
        url="https://video.twimg.com/ext_tw_video/1/pu/vid/640x360/b.mp4",
        content_type="video/mp4",
        bitrate=832000,
        width=640,
        height=360,
    )
    assert gif.type == "gif"
    assert gif.alt == "a cat"
    assert gif.url == "https://video.twimg.com/tweet_video/g.mp4"


def test_syndication_photo_alt_text() -> None:
    data = load("tweet-result_1641086480675225601_image.json")
    data["mediaDetails"][0]["ext_alt_text"] = "A diagram"
    assert parse_syndication(data).media[0].alt == "A diagram"


@pytest.mark.parametrize(
    "data",
    [
        {},
        {
            "__typename": "TweetTombstone",
            "tombstone": {"text": {"text": "This Post is unavailable."}},
        },
    ],
)
def test_syndication_gone_answers_are_not_posts(data: dict[str, Any]) -> None:
    with pytest.raises(ParseError, match="tombstone or empty"):
        parse_syndication(data)


def test_syndication_unknown_shape_is_a_parse_error() -> None:
    data = load("tweet-result_1641086480675225601_image.json")
    del data["id_str"]
    with pytest.raises(ParseError, match="id_str"):
        parse_syndication(data)
    with pytest.raises(ParseError, match="__typename 'TweetUnavailable'"):
        parse_syndication({"__typename": "TweetUnavailable"})


# --- oEmbed -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "publish.twitter.com_oembed_pepephone_436461658601713664_2021.body.json",
        "publish.x.com_oembed_pepephone_436461658601713664_2024.body.json",
    ],
)
def test_oembed_captures(name: str) -> None:
    post = parse_oembed(load(name), "https://x.com/pepephone/status/436461658601713664")
    assert post.via == "oembed"
    assert post.id == "436461658601713664"
    assert post.url == "https://x.com/pepephone/status/436461658601713664"
    assert post.author.name == "Pepephone"
    assert post.author.handle == "pepephone"
    assert post.text == "RT @PabloHerreros Pepephone rompe la baraja - http://t.co/mFn7mcB1vy"
    # oEmbed never expands t.co: the short link is kept for resolving hop by hop.
    assert post.links == ("http://t.co/mFn7mcB1vy",)
    assert post.lang == "es"
    assert post.created_at == datetime(2014, 2, 20, tzinfo=UTC)
    assert post.extra["created_at_precision"] == "day"
    assert post.extra["id_time"] == "2014-02-20T11:25:43.133000Z"
    assert post.media == ()


def test_oembed_media_links_line_breaks_and_hashtags() -> None:
    markup = (
        '<blockquote class="twitter-tweet"><p lang="en" dir="ltr">Line one<br>'
        '<a href="https://twitter.com/hashtag/News?src=hash&amp;ref_src=twsrc%5Etfw">#News</a> '
        '<a href="https://t.co/AAAAAAAAAA">https://t.co/AAAAAAAAAA</a> '
        '<a href="https://t.co/BBBBBBBBBB">pic.twitter.com/BBBBBBBBBB</a></p>'
        "&mdash; Someone (@someone) "
        '<a href="https://twitter.com/someone/status/1641086480675225601?ref_src=twsrc%5Etfw">'
        "March 29, 2023</a></blockquote>"
    )
    data = {
        "url": "https://twitter.com/someone/status/1641086480675225601",
        "author_name": "Someone",
        "author_url": "https://twitter.com/someone",
        "html": markup,
    }
    post = parse_oembed(data, "https://x.com/i/status/1641086480675225601")
    assert post.text == "Line one\n#News https://t.co/AAAAAAAAAA"
    assert post.links == ("https://t.co/AAAAAAAAAA",)
    assert post.extra["media_links"] == ["https://t.co/BBBBBBBBBB"]
    assert post.created_at == datetime(2023, 3, 29, tzinfo=UTC)


def test_oembed_unknown_date_form_is_kept_as_text() -> None:
    data = load("publish.twitter.com_oembed_pepephone_436461658601713664_2021.body.json")
    data["html"] = data["html"].replace("February 20, 2014", "20 de febrero de 2014")
    post = parse_oembed(data, "https://x.com/pepephone/status/436461658601713664")
    assert post.created_at is None
    assert post.extra["date_text"] == "20 de febrero de 2014"
    assert "created_at_precision" not in post.extra


def test_oembed_without_html_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no html"):
        parse_oembed(
            {"error": "Sorry, you are not authorized to see this status."},
            "https://x.com/a/status/1",
        )


# --- FxTwitter ----------------------------------------------------------------------------------


def test_fxtwitter_v1_capture() -> None:
    data = load("api.fxtwitter.com_amXFreeze_1972284213232861204.json")
    post = parse_fxtwitter(data)
    assert post.via == "fxtwitter"
    assert post.id == "1972284213232861204"
    assert post.url == "https://x.com/amXFreeze/status/1972284213232861204"
    assert post.author.name == "X Freeze"
    assert post.author.handle == "amXFreeze"
    # Rebuilt from raw_text and its facets, the text equals FxTwitter's own expanded text.
    assert post.text == data["tweet"]["text"]
    assert post.links == ()
    assert post.created_at == datetime(2025, 9, 28, 12, 56, 14, tzinfo=UTC)
    assert post.lang == "en"
    assert post.media == (
        Media(
            url="https://pbs.twimg.com/media/G170UHFWIAAVoHO.jpg?name=orig",
            type="image",
            width=1285,
            height=834,
        ),
    )
    assert post.extra["likes"] == 1194
    assert post.extra["views"] == 20406530
    assert post.reply_to is None and post.embedded == ()


def _v2_status() -> dict[str, Any]:
    v1 = load("api.fxtwitter.com_amXFreeze_1972284213232861204.json")["tweet"]
    status = copy.deepcopy(v1)
    status["type"] = "status"
    status["reposts"] = status.pop("retweets")
    # Two astral emoji (4 UTF-16 units) before the link: facet indices count UTF-16 units.
    status["raw_text"] = {
        "text": "🚀🚀 read https://t.co/DDDDDDDDDD now https://t.co/GffMzz1jD2",
        "display_text_range": [0, 37],
        "facets": [
            {
                "type": "url",
                "indices": [10, 33],
                "original": "https://t.co/DDDDDDDDDD",
                "replacement": "https://example.org/d",
                "display": "example.org/d",
            },
            {
                "type": "media",
                "indices": [38, 61],
                "original": "https://t.co/GffMzz1jD2",
                "replacement": "https://x.com/amXFreeze/status/1972284213232861204/photo/1",
            },
        ],
    }
    return status


def test_fxtwitter_v2_status_with_utf16_facets_quote_and_reply() -> None:
    status = _v2_status()
    quoted = copy.deepcopy(status)
    quoted.update(
        id="1972280000000000000", url="https://x.com/amXFreeze/status/1972280000000000000"
    )
    del quoted["raw_text"]
    quoted["text"] = "quoted text https://example.org/q"
    status["quote"] = quoted
    status["replying_to"] = {"screen_name": "someone", "status": "1972270000000000000"}
    status["created_at"] = "not a date"
    post = parse_fxtwitter({"code": 200, "status": status})
    assert post.text == "🚀🚀 read https://example.org/d now"
    assert post.links == ("https://example.org/d",)
    # The classic date is unreadable here, so created_timestamp gives the time.
    assert post.created_at == datetime(2025, 9, 28, 12, 56, 14, tzinfo=UTC)
    assert post.extra["reposts"] == 229
    assert post.reply_to == "https://x.com/someone/status/1972270000000000000"
    assert post.quote_of == "https://x.com/amXFreeze/status/1972280000000000000"
    (embedded,) = post.embedded
    assert embedded.text == "quoted text https://example.org/q"
    assert embedded.links == ("https://example.org/q",)


def test_fxtwitter_tombstoned_quote_and_v1_reply() -> None:
    status = load("api.fxtwitter.com_amXFreeze_1972284213232861204.json")
    status["tweet"]["quote"] = {
        "type": "tombstone",
        "reason": "deleted",
        "message": "gone",
        "url": "https://x.com/a/status/5",
    }
    status["tweet"]["replying_to"] = "someone"
    status["tweet"]["replying_to_status"] = "1972270000000000000"
    post = parse_fxtwitter(status)
    assert post.quote_of == "https://x.com/a/status/5"
    assert post.embedded == ()
    assert post.reply_to == "https://x.com/someone/status/1972270000000000000"


def test_fxtwitter_videos() -> None:
    status = _v2_status()
    status["media"] = {
        "videos": [
            {
                "type": "video",
                "url": "https://video.twimg.com/amplify_video/1/vid/1280x720/v.mp4",
                "thumbnail_url": "https://pbs.twimg.com/amplify_video_thumb/1/img/t.jpg",
                "width": 1280,
                "height": 720,
                "duration": 30.5,
                "formats": [
                    {
                        "container": "m3u8",
                        "url": "https://video.twimg.com/amplify_video/1/pl/v.m3u8",
                    },
                    {
                        "container": "mp4",
                        "codec": "h264",
                        "bitrate": 2176000,
                        "width": 1280,
                        "height": 720,
                        "url": "https://video.twimg.com/amplify_video/1/vid/1280x720/v.mp4",
                    },
                ],
            }
        ]
    }
    (video,) = parse_fxtwitter({"code": 200, "status": status}).media
    assert video.type == "video"
    assert video.duration_ms == 30500
    assert video.preview_url == "https://pbs.twimg.com/amplify_video_thumb/1/img/t.jpg"
    assert [v.content_type for v in video.variants] == ["application/x-mpegURL", "video/mp4"]
    assert video.variants[1].bitrate == 2176000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": 404, "message": "NOT_FOUND", "tweet": None}, "code 404"),
        ({"code": 401, "message": "PRIVATE_TWEET"}, "code 401"),
        ({"code": 200, "status": {"type": "tombstone", "reason": "deleted"}}, "tombstone"),
        ({"code": 200, "message": "OK", "tweet": {"text": "no id"}}, "no numeric post id"),
    ],
)
def test_fxtwitter_non_posts_are_parse_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_fxtwitter(data)


# --- timestamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-29T14:34:41.000Z", datetime(2023, 3, 29, 14, 34, 41, tzinfo=UTC)),
        ("2023-03-29T16:34:41+02:00", datetime(2023, 3, 29, 14, 34, 41, tzinfo=UTC)),
        ("Wed Oct 10 20:19:24 +0000 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),
        ("Wed Oct 10 22:19:24 +0200 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),
        ("Wed Oct 10 15:19:24 -0500 2018", datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)),
        ("Sun Feb 30 18:45:00 +0000 2026", None),
        ("Fri Dec 31 23:59:59 -0100 9999", None),
        ("Sun Foo 08 18:45:00 +0000 2026", None),
        ("yesterday", None),
        ("", None),
        (1759064174, None),
    ],
)
def test_parse_time_accepts_both_forms(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("value", [float("inf"), 1e300, -1e300, True, "1759064174"])
def test_fxtwitter_out_of_range_numbers_are_ignored(value: object) -> None:
    data = load("api.fxtwitter.com_amXFreeze_1972284213232861204.json")
    data["tweet"]["created_at"] = None
    data["tweet"]["created_timestamp"] = value
    data["tweet"]["media"] = {
        "videos": [{"url": "https://video.twimg.com/v.mp4", "duration": value}]
    }
    post = parse_fxtwitter(data)
    assert post.created_at is None
    assert post.media[0].duration_ms is None


def test_oembed_with_unreadable_author_url_keeps_the_name() -> None:
    data = load("publish.x.com_oembed_pepephone_436461658601713664_2024.body.json")
    data["author_url"] = "http://[broken"
    post = parse_oembed(data, "https://x.com/pepephone/status/436461658601713664")
    assert post.author.name == "Pepephone"
    assert post.author.handle is None
    assert post.url == "https://x.com/i/status/436461658601713664"


def test_syndication_unreadable_quote_is_noted_not_fatal() -> None:
    data = load("tweet-result_1641895049427550208_quote.json")
    del data["quoted_tweet"]["text"]
    post = parse_syndication(data)
    assert post.embedded == ()
    assert post.quote_of == "https://x.com/i/status/1641086480675225601"
    assert post.extra["embedded_errors"] == [
        "quoted tweet: syndication tweet has no text field; the answer's shape is not understood"
    ]


def test_syndication_tombstoned_parent_keeps_reply_to() -> None:
    reply = _tweet(
        "@someone hi",
        [],
        in_reply_to_status_id_str="1641000000000000000",
        in_reply_to_screen_name="someone",
        parent={"__typename": "TweetTombstone"},
    )
    post = parse_syndication(reply)
    assert post.reply_to == "https://x.com/someone/status/1641000000000000000"
    assert post.embedded == ()
    assert "embedded_errors" not in post.extra


def test_fxtwitter_unreadable_quote_is_noted_not_fatal() -> None:
    data = load("api.fxtwitter.com_amXFreeze_1972284213232861204.json")
    data["tweet"]["quote"] = {"url": "https://x.com/a/status/5", "text": "no id"}
    post = parse_fxtwitter(data)
    assert post.embedded == ()
    assert post.quote_of == "https://x.com/a/status/5"
    assert post.extra["embedded_errors"][0].startswith("quoted post: FxTwitter answer has no")
