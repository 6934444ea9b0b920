"""The `archiver` command against a recorded web, reached through an HTTPS-intercepting local proxy."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.recorded_web import CertStore, RecordedWeb, serve

DATA = Path(__file__).parent / "data" / "e2e"
TWEET_ID = "1721556238129672484"
TWEET_URL = f"https://x.com/CNN/status/{TWEET_ID}"
TCO = "https://t.co/Qm7Vx2LpZe"
SHORT = "https://cnn.it/3QbLx9T"
ARTICLE = "https://www.cnn.com/2023/11/06/politics/alito-prelogar-supreme-court-analysis/index.html"
ARTICLE_TRACKED = (
    f"{ARTICLE}?utm_source=twCNN&utm_medium=social&utm_content=2023-11-06T15%3A02%3A11"
)

pytestmark = pytest.mark.slow


@pytest.fixture
def web() -> RecordedWeb:
    web = RecordedWeb()
    web.add(
        f"https://cdn.syndication.twimg.com/tweet-result?id={TWEET_ID}",
        status=200,
        headers={"Content-Type": "application/json;charset=utf-8"},
        body=(DATA / f"syndication_{TWEET_ID}.json").read_bytes(),
    )
    # t.co answers non-browser clients with a plain 301 (headers as recorded from t.co).
    web.add(
        TCO,
        status=301,
        headers={"location": SHORT, "server": "tsa_a", "cache-control": "private,max-age=300"},
    )
    web.add(
        SHORT,
        status=301,
        headers={"Location": ARTICLE_TRACKED, "Content-Type": "text/html; charset=utf-8"},
    )
    web.add(
        ARTICLE,
        status=200,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=gzip.decompress((DATA / "cnn_001.html.gz").read_bytes()),
    )
    return web


@pytest.fixture
def proxy_env(web: RecordedWeb, tmp_path: Path) -> Iterator[dict[str, str]]:
    certs = CertStore()
    ca = certs.write_ca(tmp_path / "ca.pem")
    server = serve(web, certs)
    proxy = next(server)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().endswith("_PROXY") and not k.startswith("ARCHIVER_")
    }
    env.update(
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        SSL_CERT_FILE=str(ca),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    yield env
    server.close()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_archive_tweet_short_link_chain_and_article(
    proxy_env: dict[str, str], web: RecordedWeb, tmp_path: Path
) -> None:
    result = run(proxy_env, "archive", TWEET_URL, "--json")
    assert result.returncode == 0, result.stderr
    captures = [json.loads(line) for line in result.stdout.splitlines()]
    by_platform = {c["platform"]: c for c in captures}

    tweet = by_platform["twitter"]
    assert tweet["status"] == "ok" and tweet["parent_id"] is None
    post = tweet["post"]
    assert post["via"] == "syndication"
    assert post["author"] == {"name": "CNN", "handle": "CNN", "url": "https://x.com/CNN"}
    assert post["text"].endswith(SHORT) and "t.co" not in post["text"]
    assert post["links"] == [SHORT]
    assert post["created_at"] == "2023-11-06T15:02:11Z"
    assert post["lang"] == "en"

    article = by_platform["web"]
    assert article["parent_id"] == tweet["id"]
    assert article["url"] == TCO
    assert [(h["url"], h["status"], h["location"], h["kind"]) for h in article["redirects"]] == [
        (TCO, 301, SHORT, "http"),
        (SHORT, 301, ARTICLE_TRACKED, "http"),
    ]
    assert article["final_url"] == ARTICLE_TRACKED
    assert article["canonical_url"] == ARTICLE
    # The page's JSON-LD headline; <title> and og:title carry "Analysis:" and site suffixes.
    assert article["title"] == (
        "The nonstop sparring match between the conservative justice and liberal Biden "
        "attorney at the Supreme Court"
    )
    assert article["authors"] == ["Joan Biskupic"]
    assert article["site_name"] == "CNN"
    assert article["language"].startswith("en")
    assert article["published_at"].startswith("2023-11-06T")
    assert article["modified_at"] and article["modified_at"].endswith("Z")
    assert article["description"].startswith("Justice Samuel Alito is the tip of the spear")
    assert "He’s a fierce questioner" in article["text"]
    assert (
        article["jsonld"] and article["opengraph"]["og:title"]
        if "og:title" in article["opengraph"]
        else True
    )
    assert [link["capture_id"] for link in tweet["links"] if link["url"] == SHORT] == [
        article["id"]
    ]
    # The t.co link was resolved over the network through the proxy, not only read from the JSON.
    assert web.asked(TCO) == [TCO]

    for url in (TCO, ARTICLE, SHORT):
        shown = run(proxy_env, "show", url, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout.splitlines()[0])["id"] == article["id"]
    human = run(proxy_env, "show", TWEET_URL)
    assert human.returncode == 0 and "syndication" in human.stdout and SHORT in human.stdout


def test_failures_are_recorded_and_reported(proxy_env: dict[str, str]) -> None:
    result = run(proxy_env, "archive", "https://news.example/missing", "not a url", "--depth", "0")
    assert result.returncode == 1
    assert "https://news.example/missing" in result.stderr and "404" in result.stderr
    assert "not a url" in result.stderr
    shown = run(proxy_env, "show", "https://news.example/missing", "--json")
    assert json.loads(shown.stdout)["status"] == "failed"
