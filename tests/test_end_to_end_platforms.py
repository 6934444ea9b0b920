"""`archiver archive <post> --json` for every platform, against recorded answers through a proxy.

One `archive` run captures a post of each platform (and a plain article) into one database, as a
user archiving a list would; the tests below read what it printed and stored. Runs that need a
different outcome (a failure's exit status, `--media`) have their own. Each subprocess costs
seconds of imports, so assertions are grouped by run, not split into one run per fact.

Platform answers are the recordings in tests/data/<platform>/ (see tests/data/SOURCES.md). Built
here, and synthetic: the linked articles and images, error answers (404s, login walls, the consent
redirect), and two answers derived from recordings (a Mastodon origin server's copy of the cached
remote status, and the replied-to Telegram post).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import re
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.fixtures.recorded_web import (
    RecordedWeb,
    database_file,
    proxied_environment,
    run_archiver,
)

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
JSON = {"Content-Type": "application/json; charset=utf-8"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
PNG = {"Content-Type": "image/png"}

# --- X/Twitter ----------------------------------------------------------------------------------
SYNDICATION = "https://cdn.syndication.twimg.com/tweet-result?id={}"
OEMBED = "https://publish.twitter.com/oembed?url=https://twitter.com/i/status/{}"
FXTWITTER = "https://api.fxtwitter.com/status/{}"
# Syndication 404 → oEmbed answers; its link stays a t.co short link, resolved hop by hop.
OEMBED_TWEET = "https://twitter.com/pepephone/status/436461658601713664"
OEMBED_TCO = "http://t.co/mFn7mcB1vy"
OEMBED_ARTICLE = "https://www.pepephone.example/blog/rompe-la-baraja"
# Syndication and oEmbed both 404 → FxTwitter answers, with a photo.
FX_TWEET = "https://x.com/amXFreeze/status/1972284213232861204"
FX_PHOTO = "https://pbs.twimg.com/media/G170UHFWIAAVoHO.jpg?name=orig"
# A tweet quoting another: the quoted tweet arrives inline and becomes a capture of its own.
QUOTE_TWEET = "https://x.com/mattcarrollcode/status/1641895049427550208"
QUOTED_TWEET = "https://x.com/SamuelSusla/status/1641086480675225601"
# A tweet linking to a Reddit post through t.co: the hop is kept, the Reddit module takes over.
REDDIT_LINK_TWEET = "https://x.com/rhaksw/status/1703436713362870723"
REDDIT_LINK_TCO = "https://t.co/JLoLiR5BcW"
REDDIT_AMA = (
    "https://reddit.com/r/technology/comments/16jlhj7/"
    "we_are_senator_ron_wyden_fight_for_the_future/"
)

# --- Mastodon -----------------------------------------------------------------------------------
MASTODON_POST = "https://fosstodon.org/@schochastics/114026814291152535"
MASTODON_LINK = "https://github.com/schochastics/quarto-url-peek"
MASTODON_IMAGE = (
    "https://cdn.fosstodon.org/media_attachments/files/114/026/812/043/159/708/original/"
    "1eae16ac3bd6085e.png"
)
REMOTE_POST = "https://mastodon.social/@simonpcouch@rstats.me/114870142396314555"
REMOTE_ORIGIN_API = "https://rstats.me/api/v1/statuses/114870142137562212"
REMOTE_LINK = "https://www.simonpcouch.com/blog/2025-07-17-claude-code-2/"
REMOTE_IMAGE = (
    "https://cdn.masto.host/rstatsme/media_attachments/files/114/870/141/353/414/564/original/"
    "551bfb1ff2cfa086.png"
)
# A server in secure mode refuses unsigned reads of its API and ActivityPub; its page is public.
SECURE_POST = "https://secure.social.example/@ana/113000000000000001"
SECURE_API = "https://secure.social.example/api/v1/statuses/113000000000000001"
SECURE_ACTIVITY = "https://secure.social.example/users/ana/statuses/113000000000000001"

# --- Bluesky ------------------------------------------------------------------------------------
APPVIEW = "https://public.api.bsky.app/xrpc"
BSKY_POST = "https://bsky.app/profile/manusandhu.com/post/3lbv5is6h6c2k"
BSKY_DID = "did:plc:4hsqiyuogfohtw5loto626ck"
BSKY_LINK = "https://www.vibe.com/lists/kendrick-lamar-squabble-up-video-easter-eggs/"
# Asked for by its AT-URI (as developer tools show it); stored under its web address.
BSKY_IMAGE_AT = "at://did:plc:rvrtd4tkr5uqt65bswn5dcl7/app.bsky.feed.post/3lbv5ioodbs26"
BSKY_IMAGE_POST = "https://bsky.app/profile/did:plc:rvrtd4tkr5uqt65bswn5dcl7/post/3lbv5ioodbs26"
BSKY_IMAGE_1 = (
    "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:rvrtd4tkr5uqt65bswn5dcl7/"
    "bafkreibyt2z4gfny7zi7t4iia6n7jt5o57zvcunf2tk7y2adlfnxmtlwwy@jpeg"
)
BSKY_IMAGE_2 = (
    "https://cdn.bsky.app/img/feed_fullsize/plain/did:plc:rvrtd4tkr5uqt65bswn5dcl7/"
    "bafkreih6qz76c3cy3r4gxvg36zyq75pxfwbbf3rgdwxqppzdvaiecl6ihm@jpeg"
)
BSKY_QUOTE_POST = "https://bsky.app/profile/did:plc:pq3hkg4fk7kod5i4vty6ecx5/post/3lbv5gkggjc24"
BSKY_QUOTED = "https://bsky.app/profile/blackazizanansi.bsky.social/post/3lbulqmvhdk26"

# --- Reddit -------------------------------------------------------------------------------------
REDDIT_POST = (
    "https://www.reddit.com/r/redditdev/comments/2gmzqe/praw_https_enabled_praw_testing_needed/"
)
REDDIT_LINK = "https://github.com/praw-dev/praw/issues"
WALLED_POST = (
    "https://www.reddit.com/r/investing/comments/7pfpeq/"
    "buffett_on_cyrptocurrencies_i_can_say_almost_with/"
)
WALLED_FEED = "https://www.reddit.com/comments/7pfpeq/.rss"
WALLED_LOGIN = (
    "https://www.reddit.com/login/?dest=https%3A%2F%2Fwww.reddit.com%2Fcomments%2F7pfpeq%2F.rss"
    "&reason=lor2"
)

# --- Telegram -----------------------------------------------------------------------------------
TELEGRAM_POST = "https://t.me/examplenews/4821"
TELEGRAM_GONE = "https://t.me/examplenews/999999"
TELEGRAM_LINK = "https://www.example.gov/press/2024/05/new-rules-statement"
TELEGRAM_LINK_2 = "https://example.org/analysis/rules"
TELEGRAM_LINK_2_FINAL = "https://example.org/analysis/rules-2024/"
TELEGRAM_REPLIED = "https://t.me/examplenews/4815"
TELEGRAM_PHOTO = "https://cdn4.telesco.pe/file/photo-one.jpg"
TELEGRAM_VIDEO = "https://cdn4.telesco.pe/file/video-one.mp4?token=abc123"

# --- YouTube ------------------------------------------------------------------------------------
YOUTUBE_POST = "https://youtu.be/eiHXASgRTcA?si=Sh4reTr4ck1ng"
YOUTUBE_WATCH = "https://www.youtube.com/watch?v=eiHXASgRTcA"
YOUTUBE_LINKS = (
    "https://example.org/cats?list=kittens&utm_source=yt",
    "https://example.com/track/1234",
)
CONSENT_POST = "https://youtu.be/CdbnVwot6lc"
CONSENT_WATCH = "https://www.youtube.com/watch?v=CdbnVwot6lc"
CONSENT_URL = (
    "https://consent.youtube.com/m?continue=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3D"
    "CdbnVwot6lc&gl=ES&m=0&pc=yt&uxe=23983172&hl=es&src=1"
)

# --- a plain article ----------------------------------------------------------------------------
CNN_ARTICLE = (
    "https://www.cnn.com/2023/11/06/politics/alito-prelogar-supreme-court-analysis/index.html"
)
# A page whose links point into the archiving machine's own network.
LURE = "https://lure.example/free-prizes"
INTERNAL = ("http://169.254.169.254/latest/meta-data/iam/", "http://[::1]:8080/admin")


def png(red: int, green: int, blue: int) -> bytes:
    """A 1×1 PNG: a real image file, different bytes for each colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


#: The same picture posted on X and on Bluesky: two URLs, one body.
SHARED_IMAGE = png(200, 30, 30)


def article(title: str, canonical: str) -> bytes:
    """A small synthetic news page with enough prose for text extraction."""
    prose = " ".join(
        f"Paragraph {n} of the report on {title.lower()} gives the details readers came for, "
        "with names, dates and the sources that were consulted for this story."
        for n in range(1, 4)
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title} | Example</title><link rel='canonical' href='{canonical}'>"
        f"<meta property='og:title' content='{title}'></head><body><header><nav>"
        "<a href='/'>Home</a></nav></header><main><article>"
        f"<h1>{title}</h1><p>{prose}</p><p>{prose}</p></article></main></body></html>"
    ).encode()


def read(path: str) -> bytes:
    return (DATA / path).read_bytes()


def add_json(web: RecordedWeb, url: str, data: Any, status: int = 200) -> None:
    web.add(url, status=status, headers=JSON, body=json.dumps(data).encode())


def add_twitter(web: RecordedWeb) -> None:
    web.add(SYNDICATION.format("436461658601713664"), status=404, headers=JSON, body=b"")
    web.add(
        OEMBED.format("436461658601713664"),
        headers=JSON,
        body=read("twitter/publish.x.com_oembed_pepephone_436461658601713664_2024.body.json"),
    )
    # t.co answers a non-browser with a plain 301, to the publisher's page.
    web.add(OEMBED_TCO, status=301, headers={"location": OEMBED_ARTICLE, "server": "tsa_a"})
    web.add(OEMBED_ARTICLE, headers=HTML, body=article("Pepephone rompe la baraja", OEMBED_ARTICLE))

    web.add(SYNDICATION.format("1972284213232861204"), status=404, headers=JSON, body=b"")
    web.add(OEMBED.format("1972284213232861204"), status=404, headers=JSON, body=b"")
    web.add(
        FXTWITTER.format("1972284213232861204"),
        headers=JSON,
        body=read("twitter/api.fxtwitter.com_amXFreeze_1972284213232861204.json"),
    )
    web.add(FX_PHOTO, headers=PNG, body=SHARED_IMAGE)

    web.add(
        SYNDICATION.format("1641895049427550208"),
        headers=JSON,
        body=read("twitter/tweet-result_1641895049427550208_quote.json"),
    )

    web.add(
        SYNDICATION.format("1703436713362870723"),
        headers=JSON,
        body=read("twitter/tweet-result_1703436713362870723_card_reddit-link.json"),
    )
    web.add(REDDIT_LINK_TCO, status=301, headers={"location": REDDIT_AMA, "server": "tsa_a"})
    # Reddit walls the post (see add_reddit); the page itself must never be fetched.
    web.add(
        "https://www.reddit.com/comments/16jlhj7/.rss",
        status=302,
        headers={"Location": "https://www.reddit.com/login/?reason=lor2", **HTML},
    )
    for route in ("oembed", "comments/16jlhj7/.json"):
        web.add(f"https://www.reddit.com/{route}", status=403, headers=HTML, body=b"<html></html>")


def add_mastodon(web: RecordedWeb) -> None:
    web.add(
        "https://fosstodon.org/api/v1/statuses/114026814291152535",
        headers=JSON,
        body=read("mastodon/fosstodon_status_114026814291152535.json"),
    )
    web.add(MASTODON_LINK, headers=HTML, body=article("quarto-url-peek", MASTODON_LINK))
    web.add(MASTODON_IMAGE, headers=PNG, body=png(10, 120, 10))

    cached = json.loads(read("mastodon/mastodon.social_status_114870142396314555_remote.json"))
    web.add(
        "https://mastodon.social/api/v1/statuses/114870142396314555", headers=JSON,
        body=json.dumps(cached).encode(),
    )  # fmt: skip
    # The origin's own copy (built from the cached one): local account, its own ID and media URL.
    origin = copy.deepcopy(cached)
    origin["id"] = "114870142137562212"
    origin["account"]["acct"] = "simonpcouch"
    for media in origin["media_attachments"]:
        media["url"], media["remote_url"] = media["remote_url"], None
    add_json(web, REMOTE_ORIGIN_API, origin)
    web.add(REMOTE_LINK, headers=HTML, body=article("Claude Code, again", REMOTE_LINK))
    web.add(REMOTE_IMAGE, headers=PNG, body=png(10, 10, 160))

    add_json(web, SECURE_API, {"error": "This API requires an authenticated user"}, status=401)
    web.add(
        SECURE_ACTIVITY,
        status=401,
        headers={"Content-Type": "text/plain"},
        body=b"Request not signed",
    )
    web.add(SECURE_POST, headers=HTML, body=article("Ana on secure.social.example", SECURE_POST))


def add_bluesky(web: RecordedWeb) -> None:
    feed = json.loads(read("bluesky/feedViewPost_variety_sample.json"))
    add_json(
        web,
        f"{APPVIEW}/com.atproto.identity.resolveHandle?handle=manusandhu.com",
        {"did": BSKY_DID},
    )
    for item in feed[:3]:
        post = item["post"]
        add_json(
            web,
            f"{APPVIEW}/app.bsky.feed.getPostThread?uri={quote(post['uri'], safe='')}"
            "&depth=0&parentHeight=1",
            {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": post}},
        )
    web.add(BSKY_LINK, headers=HTML, body=article("Every reference in squabble up", BSKY_LINK))
    web.add(BSKY_IMAGE_1, headers=PNG, body=SHARED_IMAGE)
    web.add(BSKY_IMAGE_2, headers=PNG, body=png(90, 90, 0))


def add_reddit(web: RecordedWeb) -> None:
    web.add(
        "https://www.reddit.com/comments/2gmzqe/.rss",
        headers={"Content-Type": "application/atom+xml; charset=UTF-8"},
        body=read("reddit/comments_2gmzqe.synthetic.rss"),
    )
    web.add(REDDIT_LINK, headers=HTML, body=article("Issues of praw-dev/praw", REDDIT_LINK))
    # Every anonymous route walled: the feed redirects to the login page, the rest answer 403.
    web.add(WALLED_FEED, status=302, headers={"Location": WALLED_LOGIN, **HTML})
    web.add(
        f"https://www.reddit.com/oembed?url={quote(WALLED_POST, safe='')}",
        status=403,
        headers=HTML,
        body=b"<html><body><h1>whoa there, pardner!</h1></body></html>",
    )
    web.add(
        "https://www.reddit.com/comments/7pfpeq/.json?raw_json=1",
        status=403,
        headers=HTML,
        body=b"<!DOCTYPE html><html>" + b" " * 4000 + b"</html>",
    )
    web.add(WALLED_LOGIN, headers=HTML, body=b"<html><body>Log in to Reddit</body></html>")


def add_telegram(web: RecordedWeb) -> None:
    web.add(
        f"{TELEGRAM_POST}?embed=1&mode=tme", headers=HTML, body=read("telegram/widget_post.html")
    )
    web.add(
        f"{TELEGRAM_GONE}?embed=1&mode=tme",
        headers=HTML,
        body=read("telegram/widget_not_found.html"),
    )
    web.add(TELEGRAM_LINK, headers=HTML, body=article("Statement on the new rules", TELEGRAM_LINK))
    web.add(TELEGRAM_LINK_2, status=301, headers={"Location": TELEGRAM_LINK_2_FINAL})
    web.add(
        TELEGRAM_LINK_2_FINAL,
        headers=HTML,
        body=article("The rules, analysed", TELEGRAM_LINK_2_FINAL),
    )
    # The replied-to post: the recorded widget renumbered, without its own reply header.
    replied = re.sub(
        rb'<a class="tgme_widget_message_reply".*?</div></a>',
        b"",
        read("telegram/widget_post.html").replace(b"examplenews/4821", b"examplenews/4815"),
    )
    web.add(f"{TELEGRAM_REPLIED}?embed=1&mode=tme", headers=HTML, body=replied)
    web.add(TELEGRAM_PHOTO, headers=PNG, body=png(0, 200, 200))
    web.add(TELEGRAM_VIDEO, headers={"Content-Type": "video/mp4"}, body=b"\x00\x00\x00\x18ftypmp42")


def add_youtube(web: RecordedWeb) -> None:
    def oembed(vid: str) -> str:
        watch = quote(f"https://www.youtube.com/watch?v={vid}", safe="")
        return f"https://www.youtube.com/oembed?url={watch}&format=json"

    web.add(
        oembed("eiHXASgRTcA"),
        headers=JSON,
        body=read("youtube/youtube_oembed_kittens_2021.body.json"),
    )
    web.add(YOUTUBE_WATCH, headers=HTML, body=read("youtube/watch_eiHXASgRTcA.synthetic.html"))
    for link in YOUTUBE_LINKS:
        web.add(link, headers=HTML, body=article("More kittens", link))
    web.add(
        oembed("CdbnVwot6lc"),
        headers=JSON,
        body=read("youtube/youtube_oembed_scadrei5_2021.body.json"),
    )
    # From the EU, the watch page sends the visitor to the consent interstitial.
    web.add(CONSENT_WATCH, status=303, headers={"Location": CONSENT_URL, **HTML})
    web.add(CONSENT_URL, headers=HTML, body=read("youtube/consent_page_es_2021.html"))


def recorded_web() -> RecordedWeb:
    web = RecordedWeb()
    for add in (add_twitter, add_mastodon, add_bluesky, add_reddit, add_telegram, add_youtube):
        add(web)
    web.add(CNN_ARTICLE, headers=HTML, body=gzip.decompress(read("e2e/cnn_001.html.gz")))
    links = "".join(f"<p>Claim it <a href='{url}'>here</a> today.</p>" for url in INTERNAL)
    lure = article("Free prizes", LURE).replace(b"</article>", links.encode() + b"</article>")
    web.add(LURE, headers=HTML, body=lure)
    for url in INTERNAL:  # what the proxy would hand out if asked
        web.add(url, headers={"Content-Type": "text/plain"}, body=b"secret-token")
    return web


@dataclass
class Run:
    """One `archiver archive … --json` run: its exit status, captures and database."""

    returncode: int
    stderr: str
    captures: list[dict[str, Any]]
    database: Path
    web: RecordedWeb
    env: dict[str, str]

    def one(self, url: str) -> dict[str, Any]:
        found = [c for c in self.captures if c["url"] == url]
        assert len(found) == 1, (url, [c["url"] for c in self.captures])
        return found[0]

    def child(self, parent: dict[str, Any], url: str) -> dict[str, Any]:
        """The capture `parent`'s link to `url` led to."""
        targets = [link["capture_id"] for link in parent["links"] if link["url"] == url]
        assert targets and targets[0] is not None, (url, parent["links"])
        return next(c for c in self.captures if c["id"] == targets[0])

    def link_kinds(self, capture: dict[str, Any]) -> dict[str, str]:
        return {link["url"]: link["kind"] for link in capture["links"]}


def archive(env: dict[str, str], home: Path, web: RecordedWeb, *args: str) -> Run:
    result = run_archiver(env, "archive", *args, "--json")
    captures = [json.loads(line) for line in result.stdout.splitlines()]
    return Run(result.returncode, result.stderr, captures, database_file(home), web, env)


POSTS = (
    OEMBED_TWEET, FX_TWEET, QUOTE_TWEET, REDDIT_LINK_TWEET,
    MASTODON_POST, REMOTE_POST, SECURE_POST,
    BSKY_POST, BSKY_IMAGE_AT, BSKY_QUOTE_POST,
    REDDIT_POST, TELEGRAM_POST, TELEGRAM_GONE, YOUTUBE_POST, CONSENT_POST,
    CNN_ARTICLE, LURE,
)  # fmt: skip


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Every platform's post archived in one run, with the default options.

    The proxy URL carries credentials, as a corporate proxy's often does.
    """
    home = tmp_path_factory.mktemp("everything")
    web = recorded_web()
    with proxied_environment(web, home) as env:
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            env[name] = env[name].replace("http://", f"http://{PROXY_USER}@", 1)
        yield archive(env, home, web, *POSTS)


PROXY_USER = "newsroom:pr0xy-s3cret"


def test_every_post_is_archived_and_a_gone_post_is_not_a_failure(everything: Run) -> None:
    assert everything.returncode == 0, everything.stderr
    requested = [c for c in everything.captures if c["parent_id"] is None]
    assert {c["url"]: (c["platform"], c["status"]) for c in requested} == {
        OEMBED_TWEET: ("twitter", "ok"),
        FX_TWEET: ("twitter", "ok"),
        QUOTE_TWEET: ("twitter", "ok"),
        REDDIT_LINK_TWEET: ("twitter", "ok"),
        MASTODON_POST: ("mastodon", "ok"),
        REMOTE_POST: ("mastodon", "ok"),
        SECURE_POST: ("web", "ok"),
        BSKY_POST: ("bluesky", "ok"),
        BSKY_IMAGE_POST: ("bluesky", "ok"),
        BSKY_QUOTE_POST: ("bluesky", "ok"),
        REDDIT_POST: ("reddit", "ok"),
        TELEGRAM_POST: ("telegram", "ok"),
        TELEGRAM_GONE: ("telegram", "gone"),
        YOUTUBE_POST: ("youtube", "ok"),
        CONSENT_POST: ("youtube", "ok"),
        CNN_ARTICLE: ("web", "ok"),
        LURE: ("web", "ok"),
    }
    assert "1 gone" in everything.stderr.splitlines()[-1]


def test_twitter_oembed_fallback_and_its_short_link(everything: Run) -> None:
    tweet = everything.one(OEMBED_TWEET)
    post = tweet["post"]
    assert (tweet["via"], post["via"]) == ("oembed", "oembed")
    assert post["author"] == {
        "name": "Pepephone",
        "handle": "pepephone",
        "url": "https://x.com/pepephone",
    }
    # oEmbed does not expand t.co: the short link is kept and followed hop by hop.
    assert post["text"] == f"RT @PabloHerreros Pepephone rompe la baraja - {OEMBED_TCO}"
    assert post["links"] == [OEMBED_TCO]
    assert post["created_at"] == "2014-02-20T00:00:00Z"
    assert post["extra"]["created_at_precision"] == "day"
    assert post["extra"]["earlier_routes"] == ["syndication: HTTP 404"]
    assert post["media"] == []
    # The evidence is the oEmbed answer; the syndication 404 is kept as an attempt.
    assert everything.web.asked(SYNDICATION.format("436461658601713664"))

    page = everything.child(tweet, OEMBED_TCO)
    assert page["platform"] == "web" and page["status"] == "ok"
    assert [(h["url"], h["status"], h["location"]) for h in page["redirects"]] == [
        (OEMBED_TCO, 301, OEMBED_ARTICLE)
    ]
    assert page["final_url"] == OEMBED_ARTICLE
    assert page["title"] == "Pepephone rompe la baraja"


def test_twitter_fxtwitter_when_syndication_and_oembed_fail(everything: Run) -> None:
    tweet = everything.one(FX_TWEET)
    post = tweet["post"]
    assert post["via"] == "fxtwitter"
    assert post["extra"]["earlier_routes"] == ["syndication: HTTP 404", "oembed: HTTP 404"]
    assert post["author"] == {
        "name": "X Freeze",
        "handle": "amXFreeze",
        "url": "https://x.com/amXFreeze",
    }
    assert post["text"].startswith("Grok Code leads with 57.6% of coding traffic on OpenRouter")
    assert post["text"].endswith("Grok 4 Fast is at #4")  # the pic.x.com link is not text
    assert post["created_at"] == "2025-09-28T12:56:14Z"
    assert post["links"] == []
    assert [(m["url"], m["type"]) for m in post["media"]] == [(FX_PHOTO, "image")]
    photo = everything.child(tweet, FX_PHOTO)
    assert (photo["status"], photo["content_type"]) == ("ok", "image/png")
    assert everything.link_kinds(tweet) == {FX_PHOTO: "media"}


def test_twitter_quoted_tweet_is_a_capture_of_its_own(everything: Run) -> None:
    tweet = everything.one(QUOTE_TWEET)
    post = tweet["post"]
    assert post["via"] == "syndication"
    assert post["text"].startswith("#ReactNative's new architecture renderer")
    assert post["quote_of"] == QUOTED_TWEET
    assert everything.link_kinds(tweet) == {QUOTED_TWEET: "quote"}

    quoted = everything.child(tweet, QUOTED_TWEET)
    assert quoted["parent_id"] == tweet["id"]
    assert (quoted["platform"], quoted["status"]) == ("twitter", "ok")
    assert quoted["via"] == "embedded:syndication"
    assert quoted["post"]["author"]["handle"] == "SamuelSusla"
    assert quoted["post"]["links"] == [
        "https://github.com/reactwg/react-native-new-architecture/discussions/110"
    ]
    assert "t.co" not in quoted["post"]["text"]
    # Delivered inside the quoting tweet's answer: never fetched on its own.
    assert everything.web.asked(SYNDICATION.format("1641086480675225601")) == []


def test_twitter_link_to_a_reddit_post_through_tco(everything: Run) -> None:
    tweet = everything.one(REDDIT_LINK_TWEET)
    post = tweet["post"]
    assert post["via"] == "syndication"
    assert post["links"] == [REDDIT_AMA]
    assert f"{REDDIT_AMA}…" in post["text"] and "https://t.co" not in post["text"]
    assert post["extra"]["card"]["url"] == REDDIT_AMA
    # The t.co hop is followed and recorded; where it lands, the Reddit module takes over.
    thread = everything.child(tweet, REDDIT_AMA)
    assert (thread["url"], thread["platform"], thread["status"]) == (
        REDDIT_LINK_TCO,
        "reddit",
        "failed",
    )
    assert thread["final_url"] == REDDIT_AMA
    assert thread["error"].startswith("Reddit login wall: redirected to the login page")
    assert [(h["url"], h["status"], h["location"]) for h in thread["redirects"]] == [
        (REDDIT_LINK_TCO, 301, REDDIT_AMA),
        (
            "https://www.reddit.com/comments/16jlhj7/.rss",
            302,
            "https://www.reddit.com/login/?reason=lor2",
        ),
    ]
    assert everything.web.asked(REDDIT_AMA) == []


def test_mastodon_api_route(everything: Run) -> None:
    status = everything.one(MASTODON_POST)
    post = status["post"]
    assert (status["via"], post["via"]) == ("api", "api")
    assert post["author"] == {
        "name": "David Schoch",
        "handle": "@schochastics@fosstodon.org",
        "url": "https://fosstodon.org/@schochastics",
    }
    assert MASTODON_LINK in post["text"] and "quarto…" not in post["text"]
    assert post["links"] == [MASTODON_LINK]
    assert post["created_at"] == "2025-02-18T20:38:26.738000Z"
    assert [(m["url"], m["type"]) for m in post["media"]] == [(MASTODON_IMAGE, "image")]
    assert everything.child(status, MASTODON_LINK)["title"] == "quarto-url-peek"
    assert everything.child(status, MASTODON_IMAGE)["content_type"] == "image/png"


def test_mastodon_remote_account_reaches_the_origin(everything: Run) -> None:
    status = everything.one(REMOTE_POST)
    post = status["post"]
    assert post["via"] == "api-origin"
    assert post["url"] == "https://rstats.me/@simonpcouch/114870142137562212"
    assert post["author"]["handle"] == "@simonpcouch@rstats.me"
    assert post["links"] == [REMOTE_LINK]
    assert [m["url"] for m in post["media"]] == [REMOTE_IMAGE]
    assert everything.web.asked(REMOTE_ORIGIN_API) == [REMOTE_ORIGIN_API]
    assert everything.child(status, REMOTE_LINK)["title"] == "Claude Code, again"
    assert everything.child(status, REMOTE_IMAGE)["status"] == "ok"


def test_mastodon_refusing_unsigned_reads_falls_back_to_the_page(everything: Run) -> None:
    page = everything.one(SECURE_POST)
    assert (page["platform"], page["status"], page["via"]) == ("web", "ok", "http")
    assert page["title"] == "Ana on secure.social.example"
    [warning] = page["warnings"]
    assert warning.startswith("no mastodon route answered, captured as a web page: ")
    assert "authorised fetch" in warning
    # The refused API and ActivityPub requests stay on record before the page that answered.
    with sqlite3.connect(everything.database) as db:
        exchanges = db.execute(
            "SELECT role, url, status FROM exchanges WHERE capture_id = ? ORDER BY seq",
            (page["id"],),
        ).fetchall()
    assert exchanges == [
        ("attempt", SECURE_API, 401),
        ("attempt", SECURE_ACTIVITY, 401),
        ("response", SECURE_POST, 200),
    ]


def test_bluesky_resolves_the_handle_and_expands_the_link_facet(everything: Run) -> None:
    skeet = everything.one(BSKY_POST)
    post = skeet["post"]
    assert post["via"] == "getPostThread"
    assert post["author"] == {
        "name": "Manu Sandhu",
        "handle": "@manusandhu.com",
        "url": "https://bsky.app/profile/manusandhu.com",
    }
    # The visible text was truncated ("www.vibe.com/lists/kendri..."); the facet's URI replaces it.
    assert post["text"] == (
        "Every Reference In Kendrick Lamar’s “squabble up” Music Video\n\n" + BSKY_LINK
    )
    assert post["links"] == [BSKY_LINK]
    assert post["created_at"] == "2024-11-26T23:04:02.981000Z"
    assert post["lang"] == "en"
    assert post["extra"]["did"] == BSKY_DID
    assert everything.web.asked(f"{APPVIEW}/com.atproto.identity.resolveHandle")
    assert everything.child(skeet, BSKY_LINK)["title"] == "Every reference in squabble up"
    # A post named by DID (here by its AT-URI) needs no handle resolution.
    image_post = everything.one(BSKY_IMAGE_POST)
    assert [m["url"] for m in image_post["post"]["media"]] == [BSKY_IMAGE_1, BSKY_IMAGE_2]
    assert len(everything.web.asked(f"{APPVIEW}/com.atproto.identity.resolveHandle")) == 1
    shown = run_archiver(everything.env, "show", BSKY_IMAGE_AT, "--json")
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["id"] for line in shown.stdout.splitlines()] == [image_post["id"]]
    # A quoted post arrives hydrated in the thread answer and becomes a capture of its own.
    quoting = everything.one(BSKY_QUOTE_POST)
    assert quoting["post"]["quote_of"] == BSKY_QUOTED
    quoted = everything.child(quoting, BSKY_QUOTED)
    assert (quoted["platform"], quoted["via"]) == ("bluesky", "embedded:getPostThread")
    assert quoted["post"]["author"]["handle"] == "@blackazizanansi.bsky.social"
    assert quoted["post"]["text"].startswith("All Drake had to do was lay low")
    assert len(everything.web.asked(f"{APPVIEW}/app.bsky.feed.getPostThread")) == 3


def test_reddit_atom_feed_route(everything: Run) -> None:
    thread = everything.one(REDDIT_POST)
    post = thread["post"]
    assert post["via"] == "rss"
    assert post["title"] == "[PRAW] HTTPS enabled PRAW testing needed"
    assert post["author"] == {
        "name": "bboe",
        "handle": "u/bboe",
        "url": "https://www.reddit.com/user/bboe/",
    }
    assert post["text"].startswith("PRAW client developers,")
    assert REDDIT_LINK in post["text"]
    assert post["links"] == [REDDIT_LINK]
    assert post["created_at"] == "2014-09-17T06:34:31Z"
    assert everything.child(thread, REDDIT_LINK)["status"] == "ok"
    # The feed answered: no other route was tried.
    asked = everything.web.asked("https://www.reddit.com/")
    assert [url for url in asked if "2gmzqe" in url] == [
        "https://www.reddit.com/comments/2gmzqe/.rss"
    ]


def test_telegram_widget_and_post_not_found(everything: Run) -> None:
    message = everything.one(TELEGRAM_POST)
    post = message["post"]
    assert post["via"] == "widget"
    assert post["author"] == {
        "name": "Example News Desk",
        "handle": "@examplenews",
        "url": "https://t.me/examplenews",
    }
    assert post["text"].startswith("Ministry confirms the new rules take effect on 1 June.")
    assert TELEGRAM_LINK in post["text"] and "new-rules…" not in post["text"]
    assert post["links"] == [TELEGRAM_LINK, TELEGRAM_LINK_2]
    assert post["created_at"] == "2024-05-06T14:03:27Z"
    assert post["reply_to"] == "https://t.me/examplenews/4815"
    assert [(m["url"], m["type"]) for m in post["media"]] == [
        (TELEGRAM_PHOTO, "image"),
        (TELEGRAM_VIDEO, "video"),
    ]
    assert everything.child(message, TELEGRAM_LINK)["title"] == "Statement on the new rules"
    analysis = everything.child(message, TELEGRAM_LINK_2)
    assert analysis["redirects"] == [
        {"url": TELEGRAM_LINK_2, "status": 301, "location": TELEGRAM_LINK_2_FINAL, "kind": "http"}
    ]
    assert (analysis["final_url"], analysis["title"]) == (
        TELEGRAM_LINK_2_FINAL,
        "The rules, analysed",
    )
    assert everything.link_kinds(message)[TELEGRAM_REPLIED] == "reply"
    replied = everything.child(message, TELEGRAM_REPLIED)
    assert (replied["platform"], replied["status"], replied["via"]) == ("telegram", "ok", "widget")
    assert replied["post"]["reply_to"] is None

    gone = everything.one(TELEGRAM_GONE)
    assert (gone["status"], gone["post"], gone["error"]) == ("gone", None, None)
    assert gone["change"] == "gone"


def test_youtube_oembed_and_watch_page(everything: Run) -> None:
    video = everything.one(YOUTUBE_POST)
    post = video["post"]
    assert post["via"] == "oembed+watch"
    assert post["url"] == YOUTUBE_WATCH
    assert post["title"] == "Noisy kittens waiting for dinner!"
    assert post["author"]["name"] == "smshdchrb"
    assert post["text"].startswith("Our four kittens know exactly when dinner is due.")
    assert post["links"] == list(YOUTUBE_LINKS)
    assert post["created_at"] is not None
    assert [(m["url"], m["type"]) for m in post["media"]] == [(YOUTUBE_WATCH, "video")]
    for link in YOUTUBE_LINKS:
        assert everything.child(video, link)["title"] == "More kittens"
    assert everything.web.asked("https://youtu.be/") == []
    # Found again by the canonical watch URL, not only by the share link that was archived.
    shown = run_archiver(everything.env, "show", YOUTUBE_WATCH, "--json")
    assert shown.returncode == 0, shown.stderr
    assert [json.loads(line)["id"] for line in shown.stdout.splitlines()] == [video["id"]]


def test_youtube_consent_interstitial_is_not_archived_as_the_video(everything: Run) -> None:
    video = everything.one(CONSENT_POST)
    post = video["post"]
    assert video["status"] == "ok"
    assert post["via"] == "oembed"
    assert post["title"] == "De espaldas al patriarcado"
    assert any("consent" in warning for warning in post["extra"]["warnings"])
    assert video["content_type"].startswith("application/json")  # the oEmbed answer is the evidence
    assert everything.web.asked("https://consent.youtube.com/") == []
    assert not [c for c in everything.captures if "consent.youtube.com" in (c["final_url"] or "")]


def test_plain_article_page(everything: Run) -> None:
    page = everything.one(CNN_ARTICLE)
    assert (page["platform"], page["via"], page["post"]) == ("web", "http", None)
    assert page["title"].startswith("The nonstop sparring match between the conservative justice")
    assert page["authors"] == ["Joan Biskupic"]
    links = [link["url"] for link in page["links"]]
    assert len(links) == 12
    # Followed one level down: each link has a capture (these were not recorded: 404, failed).
    followed = [c for c in everything.captures if c["parent_id"] == page["id"]]
    assert sorted(c["url"] for c in followed) == sorted(links)
    assert {c["status"] for c in followed} == {"failed"}


def test_links_into_private_networks_are_refused_behind_the_proxy_too(everything: Run) -> None:
    page = everything.one(LURE)
    assert [link["url"] for link in page["links"]] == list(INTERNAL)
    for url in INTERNAL:
        refused = everything.child(page, url)
        assert refused["status"] == "failed"
        assert refused["error"].startswith("blocked-address: Refusing to fetch")
        assert "fetch.allow_private_networks" in refused["error"]
    # Refused before any request: the proxy never saw them.
    assert not [url for _, url, _ in everything.web.requests if "169.254" in url or "::1" in url]


def test_proxy_credentials_are_sent_to_the_proxy_and_never_stored(everything: Run) -> None:
    # Plain-HTTP requests (the oEmbed tweet's http://t.co link) carry them in a header.
    [(_, _, headers)] = [r for r in everything.web.requests if r[1] == OEMBED_TCO]
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(
        PROXY_USER.encode()
    ).decode("ascii")
    files = everything.database.parent.glob(everything.database.name + "*")  # with WAL files
    stored = b"".join(path.read_bytes() for path in files)
    assert OEMBED_TCO.encode() in stored  # the exchanges are in what was read
    for secret in (b"pr0xy-s3cret", headers["Proxy-Authorization"].split()[1].encode()):
        assert secret not in stored
    printed = everything.stderr + json.dumps(everything.captures)
    assert "pr0xy-s3cret" not in printed


def test_post_images_are_captures_of_their_own_stored_once(everything: Run) -> None:
    x_photo = everything.child(everything.one(FX_TWEET), FX_PHOTO)
    bsky = everything.one(BSKY_IMAGE_POST)
    bsky_photo = everything.child(bsky, BSKY_IMAGE_1)
    other = everything.child(bsky, BSKY_IMAGE_2)
    for photo in (x_photo, bsky_photo, other):
        assert (photo["platform"], photo["status"], photo["via"]) == ("web", "ok", "http")
    assert x_photo["parent_id"] != bsky_photo["parent_id"]
    assert x_photo["sha256"] == bsky_photo["sha256"] != other["sha256"]
    with sqlite3.connect(everything.database) as db:
        stored = db.execute(
            "SELECT size FROM bodies WHERE sha256 = ?", (x_photo["sha256"],)
        ).fetchall()
        holders = db.execute(
            "SELECT COUNT(*) FROM captures WHERE sha256 = ?", (x_photo["sha256"],)
        ).fetchone()
    assert stored == [(len(SHARED_IMAGE),)]
    assert holders == (2,)


def test_default_media_downloads_images_not_videos(everything: Run) -> None:
    message = everything.one(TELEGRAM_POST)
    assert everything.child(message, TELEGRAM_PHOTO)["content_type"] == "image/png"
    video_link = [link for link in message["links"] if link["url"] == TELEGRAM_VIDEO]
    assert video_link == [{"url": TELEGRAM_VIDEO, "kind": "media", "capture_id": None}]
    assert everything.web.asked(TELEGRAM_VIDEO) == []


def test_reddit_login_wall_is_a_failure_with_its_reason(tmp_path: Path) -> None:
    web = recorded_web()
    with proxied_environment(web, tmp_path) as env:
        run = archive(env, tmp_path, web, WALLED_POST)
    assert run.returncode == 1
    assert "Reddit login wall: redirected to the login page" in run.stderr
    [capture] = run.captures
    assert (capture["platform"], capture["status"], capture["post"]) == ("reddit", "failed", None)
    assert capture["error"].startswith("Reddit login wall: redirected to the login page")
    assert "pardner" in capture["error"] and "app shell" in capture["error"]
    # The redirect to the login page is the evidence; the login page itself is never fetched.
    assert [(h["url"], h["status"], h["location"]) for h in capture["redirects"]] == [
        (WALLED_FEED, 302, WALLED_LOGIN)
    ]
    assert web.asked("https://www.reddit.com/login") == []


def test_media_option(tmp_path: Path) -> None:
    web = recorded_web()
    with proxied_environment(web, tmp_path) as env:
        none = archive(env, tmp_path, web, TELEGRAM_POST, YOUTUBE_POST, "--media", "none")
        assert none.returncode == 0, none.stderr
        assert web.asked(TELEGRAM_PHOTO) == [] and web.asked(TELEGRAM_VIDEO) == []
        message = none.one(TELEGRAM_POST)
        assert [m["url"] for m in message["post"]["media"]] == [TELEGRAM_PHOTO, TELEGRAM_VIDEO]
        media_targets = [link["capture_id"] for link in message["links"] if link["kind"] == "media"]
        assert media_targets == [None, None]  # listed, not downloaded
        assert none.child(message, TELEGRAM_LINK)["status"] == "ok"  # links are still followed

        video = archive(env, tmp_path, web, TELEGRAM_POST, YOUTUBE_POST, "--media", "video")
        assert video.returncode == 0, video.stderr
        message = video.one(TELEGRAM_POST)
        assert message["change"] == "unchanged"
        assert video.child(message, TELEGRAM_PHOTO)["content_type"] == "image/png"
        clip = video.child(message, TELEGRAM_VIDEO)
        assert (clip["status"], clip["content_type"]) == ("ok", "video/mp4")
        # A YouTube video is a page on a video platform: listed, never downloaded as a file.
        youtube = video.one(YOUTUBE_POST)
        assert [
            (link["url"], link["capture_id"])
            for link in youtube["links"]
            if link["kind"] == "media"
        ] == [(YOUTUBE_WATCH, None)]

        bad = run_archiver(env, "archive", TELEGRAM_POST, "--media", "everything")
    assert bad.returncode == 2 and "--media must be one of" in bad.stderr
