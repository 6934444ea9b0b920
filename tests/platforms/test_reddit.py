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
from archiver.platforms import reddit

DATA = Path(__file__).resolve().parent.parent / "data" / "reddit"
LISTING: list[Any] = json.loads((DATA / "praw_submission_2gmzqe_comments.json").read_bytes())
FEED = (DATA / "comments_2gmzqe.synthetic.rss").read_bytes()
PERMALINK = (
    "https://www.reddit.com/r/redditdev/comments/2gmzqe/praw_https_enabled_praw_testing_needed/"
)


def oembed(year: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (DATA / f"reddit_oembed_7pfpeq_{year}.body.json").read_bytes()
    )
    return data


# --- match ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "post_id", "comment_id"),
    [
        (PERMALINK, "2gmzqe", None),
        ("https://old.reddit.com/r/redditdev/comments/2gmzqe/", "2gmzqe", None),
        ("https://np.reddit.com/r/redditdev/comments/2gmzqe/x/cklhv0f/", "2gmzqe", "cklhv0f"),
        ("https://m.reddit.com/r/redditdev/comments/2gmzqe", "2gmzqe", None),
        ("https://new.reddit.com/r/redditdev/comments/2gmzqe/x/?utm_source=share", "2gmzqe", None),
        ("https://reddit.com/comments/2gmzqe", "2gmzqe", None),
        ("https://www.reddit.com/user/bboe/comments/2gmzqe/x/", "2gmzqe", None),
        ("https://redd.it/2gmzqe", "2gmzqe", None),
    ],
)
def test_match_and_ids(url: str, post_id: str, comment_id: str | None) -> None:
    assert reddit.match(url)
    ref = reddit.parse_url(url)
    assert ref is not None and (ref.post_id, ref.comment_id) == (post_id, comment_id)


def test_share_link_is_recognised_but_needs_resolving() -> None:
    ref = reddit.parse_url("https://www.reddit.com/r/redditdev/s/WNauetbiNG")
    assert ref is not None and ref.post_id is None
    assert ref.share_url == "https://www.reddit.com/r/redditdev/s/WNauetbiNG"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.reddit.com/r/redditdev/",
        "https://www.reddit.com/user/bboe/",
        "https://notreddit.com/r/x/comments/2gmzqe/",
        "https://www.reddit.com.evil.example/r/x/comments/2gmzqe/",
        "https://i.redd.it/abc123.jpg",
    ],
)
def test_match_rejects_other_urls(url: str) -> None:
    assert not reddit.match(url)


# --- parsing --------------------------------------------------------------------------------------


def test_parse_listing_self_post() -> None:
    post = reddit.parse_listing(LISTING)
    assert post.id == "2gmzqe"
    assert post.url == PERMALINK
    assert post.title == "[PRAW] HTTPS enabled PRAW testing needed"
    assert post.author.handle == "u/bboe"
    assert post.created_at == datetime(2014, 9, 17, 6, 34, 31, tzinfo=UTC)
    assert post.text.startswith("PRAW client developers,\n\nI have made a PRAW branch")
    assert "pip install git+git://github.com/praw-dev/praw.git@praw3" in post.text
    assert post.links == ("https://github.com/praw-dev/praw/issues",)
    assert post.extra["score"] == 11
    assert post.extra["subreddit"] == "redditdev"
    assert "removed" not in post.extra


def test_parse_listing_comment_in_reply_tree() -> None:
    post = reddit.parse_listing(LISTING, comment_id="cklhv0f")
    assert post.id == "cklhv0f"
    assert post.author.name == "bboe"
    assert post.reply_to == PERMALINK + "cklfmye/"
    assert post.url == PERMALINK + "cklhv0f/"
    with pytest.raises(ParseError):
        reddit.parse_listing(LISTING, comment_id="zzzzzz")


def test_parse_listing_link_post_puts_target_first() -> None:
    listing = copy.deepcopy(LISTING)
    data = listing[0]["data"]["children"][0]["data"]
    data.update(
        is_self=False, url="https://example.org/a?x=1&amp;y=2", selftext="", selftext_html=None
    )
    post = reddit.parse_listing(listing)
    assert post.links == ("https://example.org/a?x=1&y=2",)


@pytest.mark.parametrize(
    ("changes", "marker"),
    [
        ({"selftext": "[removed]", "selftext_html": None}, "removed"),
        ({"author": "[deleted]", "selftext": "[deleted]", "selftext_html": None}, "deleted"),
        ({"removed_by_category": "moderator"}, "moderator"),
    ],
)
def test_parse_listing_marks_removed_posts(changes: dict[str, Any], marker: str) -> None:
    listing = copy.deepcopy(LISTING)
    listing[0]["data"]["children"][0]["data"].update(changes)
    assert reddit.parse_listing(listing).extra["removed"] == marker


def test_parse_atom_post_and_comment() -> None:
    post = reddit.parse_atom(FEED)
    assert post.id == "2gmzqe"
    assert post.url == PERMALINK
    assert post.title == "[PRAW] HTTPS enabled PRAW testing needed"
    assert post.author.handle == "u/bboe"
    assert post.created_at == datetime(2014, 9, 17, 6, 34, 31, tzinfo=UTC)
    assert post.text == reddit.parse_listing(LISTING).text
    assert post.links == ("https://github.com/praw-dev/praw/issues",)
    assert post.via == "rss"
    comment = reddit.parse_atom(FEED, comment_id="cklfmye")
    assert comment.id == "cklfmye"
    assert comment.text.startswith("Quick question:")
    assert comment.title is None


def test_parse_atom_link_post_takes_the_link_target() -> None:
    entry_html = (
        '<table> <tr><td> <a href="https://www.reddit.com/r/news/comments/abc123/x/">'
        '<img src="https://b.thumbs.redditmedia.com/t.jpg" alt="x" /></a> </td><td> &#32; '
        'submitted by &#32; <a href="https://www.reddit.com/user/someone"> /u/someone </a> <br/> '
        '<span><a href="https://www.example.org/story">[link]</a></span> &#32; '
        '<span><a href="https://www.reddit.com/r/news/comments/abc123/x/">[comments]</a></span> '
        "</td></tr></table>"
    )
    feed = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        '<entry><author><name>/u/someone</name></author><content type="html">'
        + entry_html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + "</content><id>t3_abc123</id>"
        + '<link href="https://www.reddit.com/r/news/comments/abc123/x/" />'
        "<published>2024-05-01T10:00:00+00:00</published><title>Story</title></entry></feed>"
    ).encode()
    post = reddit.parse_atom(feed)
    assert post.links == ("https://www.example.org/story",)
    assert post.text == ""


def test_parse_atom_does_not_resolve_external_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    feed = (
        f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>t3_abc123</id>'
        '<link href="https://www.reddit.com/r/a/comments/abc123/x/" /><title>&x;</title>'
        '<content type="html">&x;</content></entry></feed>'
    ).encode()
    post = reddit.parse_atom(feed)
    assert "TOP-SECRET" not in (post.title or "") + post.text


def test_parse_atom_rejects_html() -> None:
    with pytest.raises(ParseError):
        reddit.parse_atom(b"<!DOCTYPE html><html><body>app shell</body></html>")


@pytest.mark.parametrize("year", [2021, 2024])
def test_parse_oembed(year: int) -> None:
    post = reddit.parse_oembed(oembed(year), post_id="7pfpeq")
    assert post.title == (
        "Buffett on cyrptocurrencies: "
        "'I can say almost with certainty that they will come to a bad ending'"
    )
    assert post.author.handle == "u/dennisrieves"
    assert post.url == (
        "https://www.reddit.com/r/investing/comments/7pfpeq/buffett_on_cyrptocurrencies_i_can_say_almost_with/"
    )
    assert post.extra["subreddit"] == "investing"
    assert post.via == "oembed"


def test_parse_shreddit_page() -> None:
    post = reddit.parse_shreddit_page(
        (DATA / "www.reddit.com_r_investing_comments_7pfpeq.excerpt.html").read_bytes()
    )
    assert post.id == "7pfpeq"
    assert post.author.name == "dennisrieves"
    assert post.created_at == datetime(2018, 1, 10, 13, 56, 5, 174000, tzinfo=UTC)
    assert post.links == (
        "https://www.cnbc.com/2018/01/10/buffett-says-cyrptocurrencies-will-almost-certainly-end-badly.html",
    )
    assert post.text.startswith('Bitcoin and other cryptocurrencies "will come to a bad ending,"')
    assert post.extra["score"] == "1935"


@pytest.mark.parametrize(
    ("status", "final_url", "body", "content_type", "expected"),
    [
        (302, "https://www.reddit.com/login/?dest=x&reason=lor2", b"", "text/html", "login page"),
        (
            403,
            "https://www.reddit.com/comments/x/.json",
            b"<h1>whoa there, pardner!</h1>",
            "text/html",
            "pardner",
        ),
        (
            403,
            "https://www.reddit.com/x",
            b"You've been blocked by network security.",
            "text/plain",
            "network security",
        ),
        (
            403,
            "https://www.reddit.com/x",
            b"<html>" + b" " * 190_000 + b"</html>",
            "text/html",
            "app shell",
        ),
        (
            200,
            "https://www.reddit.com/comments/x/.json",
            b"<!doctype html><html>",
            "text/html",
            "HTML page",
        ),
    ],
)
def test_login_wall_recognition(
    status: int, final_url: str, body: bytes, content_type: str, expected: str
) -> None:
    reason = reddit.login_wall(status, final_url, body, content_type)
    assert reason is not None and reason.startswith("Reddit login wall: ") and expected in reason


def test_login_wall_not_for_real_answers() -> None:
    assert (
        reddit.login_wall(
            200, "https://www.reddit.com/comments/x/.rss", FEED, "application/atom+xml"
        )
        is None
    )


# --- fetch_post ---------------------------------------------------------------------------------

RSS = "https://www.reddit.com/comments/2gmzqe/.rss"
OEMBED = f"https://www.reddit.com/oembed?url={quote(PERMALINK, safe='')}"
JSON_URL = "https://www.reddit.com/comments/2gmzqe/.json?raw_json=1"
LOGIN = "https://www.reddit.com/login/?dest=https%3A%2F%2Fwww.reddit.com%2Fcomments%2F2gmzqe%2F.rss&reason=lor2"


def test_fetch_post_via_feed(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=RSS, content=FEED, headers={"Content-Type": "application/atom+xml; charset=UTF-8"}
    )
    result = reddit.fetch_post(fetcher, PERMALINK)
    assert result.status is Status.OK
    assert result.post is not None and result.post.via == "rss"
    assert [e.url for e in result.exchanges] == [RSS]


def test_fetch_post_share_link_resolves_without_fetching_the_page(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    body = (DATA / "share_link_s_WNauetbiNG.301.html").read_bytes()
    location = body.split(b'href="')[1].split(b'"')[0].decode().replace("&amp;", "&")
    httpx_mock.add_response(
        url="https://www.reddit.com/r/redditdev/s/WNauetbiNG",
        status_code=301,
        content=body,
        headers={"Location": location, "Content-Type": "text/html; charset=utf-8"},
    )
    httpx_mock.add_response(url=RSS, content=FEED, headers={"Content-Type": "application/atom+xml"})
    result = reddit.fetch_post(fetcher, "https://www.reddit.com/r/redditdev/s/WNauetbiNG")
    assert result.status is Status.OK
    assert result.post is not None and result.post.id == "2gmzqe"
    assert [e.url for e in result.exchanges] == [
        "https://www.reddit.com/r/redditdev/s/WNauetbiNG",
        RSS,
    ]


def test_fetch_post_falls_back_to_oembed_when_feed_is_walled(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=RSS, status_code=302, headers={"Location": LOGIN})
    httpx_mock.add_response(url=OEMBED, json=oembed(2024))
    result = reddit.fetch_post(fetcher, PERMALINK)
    assert result.status is Status.OK
    assert result.via == "oembed"
    assert [e.url for e in result.exchanges] == [
        RSS,
        OEMBED,
    ]  # the login page itself is not fetched


def test_fetch_post_every_route_walled_is_a_login_wall_failure(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    httpx_mock.add_response(url=RSS, status_code=302, headers={"Location": LOGIN})
    httpx_mock.add_response(
        url=OEMBED, status_code=403, html="<html><body><h1>whoa there, pardner!</h1></body></html>"
    )
    httpx_mock.add_response(
        url=JSON_URL, status_code=403, html="<!DOCTYPE html><html>" + " " * 190_000 + "</html>"
    )
    result = reddit.fetch_post(fetcher, PERMALINK)
    assert result.status is Status.FAILED
    assert result.post is None
    assert (result.reason or "").startswith("Reddit login wall: redirected to the login page")
    assert "pardner" in (result.reason or "") and "app shell" in (result.reason or "")
    assert len(result.exchanges) == 3


def test_fetch_post_json_listing_of_removed_post_is_gone(
    httpx_mock: HTTPXMock, fetcher: Fetcher
) -> None:
    listing = copy.deepcopy(LISTING)
    listing[0]["data"]["children"][0]["data"].update(
        selftext="[removed]", selftext_html=None, removed_by_category="moderator"
    )
    httpx_mock.add_response(
        url=RSS, status_code=403, html="<html>You've been blocked by network security</html>"
    )
    httpx_mock.add_response(url=OEMBED, status_code=403, html="<html>blocked</html>")
    httpx_mock.add_response(url=JSON_URL, json=listing)
    result = reddit.fetch_post(fetcher, PERMALINK)
    assert result.status is Status.GONE
    assert (
        result.post is not None and result.post.title == "[PRAW] HTTPS enabled PRAW testing needed"
    )
    assert "moderator" in (result.reason or "")


def test_fetch_post_comment_reads_the_comment_feed(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url="https://www.reddit.com/comments/2gmzqe/_/cklfmye/.rss", content=FEED,
        headers={"Content-Type": "application/atom+xml"},
    )  # fmt: skip
    result = reddit.fetch_post(fetcher, PERMALINK + "cklfmye/")
    assert result.status is Status.OK
    assert result.post is not None and result.post.id == "cklfmye"


def test_fetch_post_404_is_gone(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=RSS, status_code=404, content=b"", headers={"Content-Type": "application/atom+xml"}
    )
    result = reddit.fetch_post(fetcher, "https://redd.it/2gmzqe")
    assert result.status is Status.GONE


def test_fetch_post_429_raises(httpx_mock: HTTPXMock, fetcher: Fetcher) -> None:
    httpx_mock.add_response(
        url=RSS, status_code=429, text="Too Many Requests",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "42", "x-ratelimit-used": "10"},
    )  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        reddit.fetch_post(fetcher, PERMALINK)
    assert caught.value.retry_after == pytest.approx(42, abs=1)


def test_gallery_url_names_the_post() -> None:
    ref = reddit.parse_url("https://www.reddit.com/gallery/2gmzqe")
    assert ref is not None and ref.post_id == "2gmzqe"
