"""Parsers meet random input: page extraction and every platform parser either return a value or
raise an ArchiverError, whatever they are given. (Twitter's parsers: tests/platforms.)"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.errors import ArchiverError
from archiver.extract import extract_page
from archiver.model import Page, Post
from archiver.platforms import bluesky, mastodon, reddit, telegram, youtube

DATA = Path(__file__).parent / "data"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _keys(value: Any, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            found.add(key)
            _keys(child, found)
    elif isinstance(value, list):
        for child in value:
            _keys(child, found)
    return found


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


_RECORDED = {
    "bluesky": _load("bluesky/feedViewPost_variety_sample.json"),
    "mastodon_status": _load("mastodon/fosstodon_status_114026814291152535.json"),
    "mastodon_activity": _load("mastodon/mastodon-post-activity_Create.json"),
    "misskey": _load("mastodon/misskey.io_note_8vs6wxufd0.json"),
    "reddit_listing": _load("reddit/praw_submission_2gmzqe_comments.json"),
    "reddit_oembed": _load("reddit/reddit_oembed_7pfpeq_2024.body.json"),
    "youtube_oembed": _load("youtube/youtube_oembed_kittens_2021.body.json"),
}
# Keys the parsers look for, so random objects reach past the first lookup.
_VOCABULARY = sorted(set().union(*(_keys(v, set()) for v in _RECORDED.values())))

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(
        ["", "2024-02-30T25:61:00Z", "at://did:plc:x/app.bsky.feed.post/y", "http://[::1", "0"]
    )
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(_VOCABULARY) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)
# The parsers are handed what json_object() gave: always a dict at the top.
_OBJECT = st.dictionaries(st.sampled_from(_VOCABULARY) | st.text(max_size=8), _JSON, max_size=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            found += _paths(child, (*prefix, index))
    return found


def _mutated(original: Any) -> st.SearchStrategy[Any]:
    """A recorded answer with one to four nodes anywhere in it replaced by arbitrary JSON."""
    paths = [p for p in _paths(original) if p]

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        data = json.loads(json.dumps(original))
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(paths))
            node = data
            try:
                for key in path[:-1]:
                    node = node[key]
                node[path[-1]] = draw(_JSON)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier replacement removed this path
        return data

    return build()


def _never_crashes(parse: Callable[[], Any]) -> None:
    try:
        result = parse()
    except ArchiverError:
        return
    assert result is None or isinstance(result, Post | str)


# --- platform JSON -------------------------------------------------------------------------------

_THREAD = {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", **_RECORDED["bluesky"][0]}}


@SETTINGS
@given(_mutated(_THREAD) | _OBJECT)
def test_bluesky_thread_parser(data: Any) -> None:
    _never_crashes(lambda: bluesky.thread_state(data))
    _never_crashes(lambda: bluesky.parse_thread(data))


@SETTINGS
@given(st.sampled_from(_RECORDED["bluesky"]).flatmap(lambda item: _mutated(item["post"])) | _OBJECT)
def test_bluesky_post_view_parser(data: Any) -> None:
    _never_crashes(lambda: bluesky.parse_post_view(data))


@SETTINGS
@given(_mutated(_RECORDED["mastodon_status"]) | _mutated(_RECORDED["misskey"]) | _OBJECT)
def test_mastodon_status_parser(data: Any) -> None:
    _never_crashes(lambda: mastodon.parse_status(data, api_host="fosstodon.org"))


@SETTINGS
@given(_mutated(_RECORDED["mastodon_activity"]) | _OBJECT)
def test_mastodon_activity_parser(data: Any) -> None:
    _never_crashes(lambda: mastodon.parse_activity(data))


@SETTINGS
@given(_mutated(_RECORDED["reddit_listing"]) | _JSON, st.sampled_from([None, "cklhv0f", "zz"]))
def test_reddit_listing_parser(data: Any, comment_id: str | None) -> None:
    _never_crashes(lambda: reddit.parse_listing(data, comment_id=comment_id))


@SETTINGS
@given(_mutated(_RECORDED["reddit_oembed"]) | _OBJECT)
def test_reddit_oembed_parser(data: Any) -> None:
    _never_crashes(lambda: reddit.parse_oembed(data, post_id="7pfpeq"))


@SETTINGS
@given(_mutated(_RECORDED["youtube_oembed"]) | _OBJECT)
def test_youtube_oembed_parser(data: Any) -> None:
    _never_crashes(lambda: youtube.parse_oembed(data, video_id="eiHXASgRTcA"))


# --- platform pages and feeds --------------------------------------------------------------------


def _spliced(original: bytes) -> st.SearchStrategy[bytes]:
    """A recorded page cut short, with random bytes spliced in at a random place."""
    return st.tuples(
        st.integers(0, len(original)), st.integers(0, len(original)), st.binary(max_size=64)
    ).map(lambda t: original[: min(t[0], t[1])] + t[2] + original[max(t[0], t[1]) :])


_WIDGET = (DATA / "telegram/widget_post.html").read_bytes()
_WATCH = (DATA / "youtube/watch_eiHXASgRTcA.synthetic.html").read_bytes()
_SHREDDIT = (DATA / "reddit/www.reddit.com_r_investing_comments_7pfpeq.excerpt.html").read_bytes()
_ATOM = (DATA / "reddit/comments_2gmzqe.synthetic.rss").read_bytes()


@SETTINGS
@given(_spliced(_WIDGET) | st.binary(max_size=200))
def test_telegram_widget_parser(page: bytes) -> None:
    _never_crashes(lambda: telegram.parse_widget(page, url="https://t.me/durov/1"))


@SETTINGS
@given(_spliced(_WATCH) | st.binary(max_size=200))
def test_youtube_watch_page_parser(page: bytes) -> None:
    _never_crashes(lambda: youtube.parse_watch_page(page, video_id="eiHXASgRTcA"))


@SETTINGS
@given(_spliced(_SHREDDIT) | st.binary(max_size=200))
def test_reddit_page_parser(page: bytes) -> None:
    _never_crashes(lambda: reddit.parse_shreddit_page(page))


@SETTINGS
@given(_spliced(_ATOM) | st.binary(max_size=200))
def test_reddit_atom_parser(feed: bytes) -> None:
    _never_crashes(lambda: reddit.parse_atom(feed))


# --- HTML pages ----------------------------------------------------------------------------------

_TAGS = st.sampled_from(
    [
        "<html>",
        "<head>",
        "<body>",
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<article>",
        "</article>",
        "<table><tr><td>",
        "<br/>",
        "<title>",
        "</title>",
        '<a href="',
        '<a href="/x">',
        "</a>",
        '<img src="',
        '<base href="',
        '<link rel="canonical" href="',
        '<meta property="og:title" content="',
        '<meta name="twitter:card" content="',
        '<meta name="author" content="',
        '<meta property="article:published_time" content="',
        '<meta http-equiv="refresh" content="0;url=',
        '<meta charset="',
        '<meta http-equiv="content-type" content="text/html; charset=',
        '<script type="application/ld+json">',
        "</script>",
        '<blockquote class="twitter-tweet"><a href="https://twitter.com/a/status/1">',
        '<iframe src="https://www.youtube.com/embed/x">',
        '<time datetime="',
        '">',
        "&#0;",
        "&#x110000;",
        "&nbsp;",
        "\x00",
        "\ufeff",
        "\udcff",
        '{"@type": "NewsArticle", "headline": ',
        '{"@graph": [',
        "]}",
        "javascript:alert(1)",
        "http://[::1",
        "//evil.example/",
        "utf-7",
        "x-no-such",
    ]
)
_HTML = st.lists(_TAGS | st.text(max_size=20), max_size=60).map("".join)


@SETTINGS
@given(_HTML, st.sampled_from([None, "utf-8", "latin-1", "x-bogus", "utf-16", ""]))
def test_extract_page_on_tag_soup(html: str, charset: str | None) -> None:
    page = extract_page(html, "https://news.example/a", charset=charset)
    assert isinstance(page, Page)
    encoded = html.encode("utf-8", "surrogatepass")
    assert isinstance(extract_page(encoded, "https://news.example/a", charset=charset), Page)


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([None, "utf-8", "shift_jis", "no-such"]))
def test_extract_page_on_random_bytes(data: bytes, charset: str | None) -> None:
    assert isinstance(extract_page(data, "https://news.example/a", charset=charset), Page)


_ARTICLE = gzip.decompress((DATA / "e2e/cnn_001.html.gz").read_bytes())[:60_000]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(_ARTICLE)),
    st.integers(0, len(_ARTICLE)),
    st.binary(max_size=64),
    st.sampled_from(["", "http://x", "not a url", "https://[::1"]),
)
def test_extract_page_on_damaged_article(start: int, end: int, junk: bytes, url: str) -> None:
    # Positions are drawn, not the page, so a failure's report stays short.
    page = _ARTICLE[: min(start, end)] + junk + _ARTICLE[max(start, end) :]
    assert isinstance(extract_page(page, url), Page)


# --- cases the properties found, kept as examples ------------------------------------------------


def test_deep_nesting_is_cut_at_the_parser_limit_with_a_warning() -> None:
    deep = b"<div>" * 300 + b"<p>deep text</p>" + b"</div>" * 300
    html = b"<html><body><p>Intro text here.</p>" + deep + b"<p>After the nest.</p>"
    page = extract_page(html, "https://news.example/a")
    assert page.text is not None and "Intro text here." in page.text
    assert any("nested deeper than the parser's limit (256 levels)" in w for w in page.warnings)
    shallow = extract_page(b"<div>" * 200 + b"<p>text</p>", "https://news.example/a")
    assert not any("nested" in w for w in shallow.warnings)


def test_unsplittable_page_url_is_a_warning() -> None:
    page = extract_page(b'<link rel="canonical" href="/a"><p>Text</p>', "https://[::1")
    assert any("cannot be parsed" in w for w in page.warnings)


def test_activity_type_given_as_a_list() -> None:
    activity = json.loads(json.dumps(_RECORDED["mastodon_activity"]))
    activity["object"]["type"] = ["Note"]
    activity["type"] = ["Create"]
    _never_crashes(lambda: mastodon.parse_activity(activity))


def test_widget_link_with_a_broken_ipv6_host() -> None:
    page = _WIDGET.replace(b'href="https://www.example.gov', b'href="http://[www.example.gov', 1)
    assert page != _WIDGET
    _never_crashes(lambda: telegram.parse_widget(page, url="https://t.me/durov/1"))


def test_status_with_a_scalar_where_a_list_belongs() -> None:
    status = json.loads(json.dumps(_RECORDED["mastodon_status"]))
    status["tags"], status["mentions"], status["media_attachments"] = True, 5, None
    post = mastodon.parse_status(status, api_host="fosstodon.org")
    assert "tags" not in post.extra and post.media == ()


def test_activity_with_a_lone_attachment_object() -> None:
    activity = json.loads(json.dumps(_RECORDED["mastodon_activity"]))
    image = {"type": "Document", "mediaType": "image/png", "url": "https://m.example/a.png"}
    activity["object"]["attachment"] = image  # ActivityStreams allows one object for a list
    post = mastodon.parse_activity(activity)
    assert [m.url for m in post.media] == ["https://m.example/a.png"]


def test_widget_with_a_nul_byte_in_its_head() -> None:
    page = _WIDGET[:50] + b"\x00" + _WIDGET[50:]
    _never_crashes(lambda: telegram.parse_widget(page, url="https://t.me/durov/1"))
    _never_crashes(lambda: telegram.widget_error(page))
    _never_crashes(lambda: reddit.parse_shreddit_page(_SHREDDIT[:50] + b"\x00" + _SHREDDIT[50:]))
