"""The real `archiver archive` command against a hostile web, with the address guard on.

The child process reaches tests/hostile_server.py through a local forward proxy that resolves the
public-looking name `hostile.example` (and the platform API hosts, over intercepted HTTPS) to
127.0.0.1. Cases are grouped into a few batch runs, since each run pays for its imports. Every
case must end in a stored capture with a one-line reason naming the limit or problem; the run
must go on past every failure, say on stderr how many failed, exit 1, and stay small in memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archiver.urls import validate_url
from tests.fixtures.cli import ArchiverCLI, Run
from tests.fixtures.recorded_web import CertStore
from tests.hostile_server import (
    MALFORMED_API_HOSTS,
    PDF_BODY,
    PNG_BODY,
    ForwardProxy,
    HostileServer,
)

pytestmark = pytest.mark.slow

HOST = "hostile.example"
MEMORY_BOUND = 300 * 1024 * 1024
TWEET = "https://x.com/someone/status/1234567890"
SKEET = "https://bsky.app/profile/alice.bsky.social/post/3kabcdefghi2x"
SKEET_DID = "https://bsky.app/profile/did:plc:abcdefghijklmnop/post/3kabcdefghi2x"


@dataclass
class HostileWeb:
    server: HostileServer
    proxy: ForwardProxy
    ca_file: Path

    def url(self, path: str) -> str:
        if path.startswith(("https://", "http://")):
            return path.replace("PORT", str(self.server.port))
        return self.server.url(path, host=HOST)

    def cli(self, home: Path, **sections: dict[str, Any]) -> ArchiverCLI:
        fetch = {"proxy": self.proxy.url, **sections.pop("fetch", {})}
        return ArchiverCLI(
            home, {"fetch": fetch, **sections}, env={"SSL_CERT_FILE": str(self.ca_file)}
        )


@pytest.fixture(scope="module")
def web(
    hostile_server: HostileServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileWeb]:
    certs = CertStore()
    ca_file = certs.write_ca(tmp_path_factory.mktemp("ca") / "ca.pem")
    hosts = {HOST: "127.0.0.1"} | {
        h: f"127.0.0.1:{hostile_server.port}" for h in MALFORMED_API_HOSTS
    }
    proxy = ForwardProxy(hosts, certs)
    try:
        yield HostileWeb(hostile_server, proxy, ca_file)
    finally:
        proxy.stop()


@dataclass
class Batch:
    run: Run
    captures: dict[str, dict[str, Any]]  # requested URL → capture as `archive --json` printed it
    cli: ArchiverCLI


def run_batch(web: HostileWeb, home: Path, paths: list[str], **config: dict[str, Any]) -> Batch:
    cli = web.cli(home, **config)
    urls = [web.url(p) for p in paths]
    run = cli.run("archive", "--depth", "0", "--json", *urls, timeout=90)
    captures = {c["url"]: c for c in run.json_lines()}
    return Batch(run, captures, cli)


def stored(cli: ArchiverCLI) -> dict[str, dict[str, Any]]:
    """Each capture row read straight from the database, by requested URL."""
    engine = sa.create_engine(f"sqlite:///{cli.database}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT * FROM captures ORDER BY id")).mappings().all()
    finally:
        engine.dispose()
    return {row["url"]: dict(row) for row in rows}


def check_batch(batch: Batch, web: HostileWeb, cases: dict[str, tuple[str, str]]) -> None:
    """Every case recorded with its status and reason; the run survived and reported."""
    run = batch.run
    failed = sum(1 for status, _ in cases.values() if status == "failed")
    ok = len(cases) - failed
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == (1 if failed else 0), run.stderr
    summary = ", ".join(f"{n} {s}" for s, n in (("ok", ok), ("failed", failed)) if n)
    assert run.stderr.splitlines()[-1] == f"archiver: {summary}", run.stderr
    assert run.peak_rss < MEMORY_BOUND, f"peak RSS {run.peak_rss >> 20} MiB"
    rows = stored(batch.cli)
    for path, (status, reason) in cases.items():
        url = validate_url(web.url(path))  # as stored: numeric hosts in their usual form
        capture = batch.captures[url]
        assert capture["status"] == status, (url, capture["error"])
        assert rows[url]["status"] == status and rows[url]["meta_hash"], url
        if status == "failed":
            error = capture["error"]
            assert "\n" not in error and re.search(reason, error), (url, error)
            assert f"archiver: failed {url}: {error}" in run.stderr
        elif reason:
            assert any(re.search(reason, w) for w in capture["warnings"]), (url, capture)


def show(batch: Batch, url: str) -> dict[str, Any]:
    shown = batch.cli.run("show", url, "--json")
    assert shown.returncode == 0, shown.stderr
    first: dict[str, Any] = shown.json_lines()[0]
    return first


# --- redirects and the address guard -------------------------------------------------------------

GUARD = r"\(set fetch\.allow_private_networks = true to archive private networks\)$"
REDIRECT_CASES = {
    "/loop/a": ("failed", r"^redirect-loop: .*/loop/a redirects in a loop: .*/loop/b sent us back"),
    "/chain/0?hops=50": (
        "failed",
        r"^too-many-redirects: .* redirected more than 10 times \(fetch\.max_redirects\)$",
    ),
    "/to-metadata": (
        "failed",
        r"^blocked-address: Refusing to fetch http://169\.254\.169\.254/latest/meta-data/: "
        r"169\.254\.169\.254 is a link-local address " + GUARD,
    ),
    "/to-loopback": (
        "failed",
        r"^blocked-address: Refusing to fetch http://127\.0\.0\.1:\d+/ok: "
        r"127\.0\.0\.1 is a loopback address " + GUARD,
    ),
    "/meta-to-loopback": (
        "failed",
        r"^blocked-address: .*127\.0\.0\.1 is a loopback address " + GUARD,
    ),
    "/js-to-metadata": ("failed", r"^blocked-address: .*169\.254\.169\.254 is a link-local"),
    # Asked for directly: local names and numeric or mapped forms of loopback.
    "http://localhost:PORT/ok": ("failed", r"^blocked-address: Refusing to fetch http://localhost"),
    "http://2130706433:PORT/ok": ("failed", r"^blocked-address: .*" + GUARD),
    "http://[::ffff:127.0.0.1]:PORT/ok": ("failed", r"^blocked-address: .*" + GUARD),
    "/chain/0?hops=3": ("ok", ""),
    "/meta-refresh": ("ok", ""),
    "/js-redirect": ("ok", ""),
}


@pytest.fixture(scope="module")
def redirects(web: HostileWeb, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    web.proxy.clear()
    return run_batch(web, tmp_path_factory.mktemp("redirects"), list(REDIRECT_CASES))


def test_redirect_batch(redirects: Batch, web: HostileWeb) -> None:
    check_batch(redirects, web, REDIRECT_CASES)
    assert redirects.run.seconds < 30


def test_private_targets_never_reached(redirects: Batch, web: HostileWeb) -> None:
    asked = [seen.path for seen in web.proxy.seen]
    assert asked and not [u for u in asked if "127.0.0.1" in u or "169.254" in u]
    # The hops that were refused are still on record, each with how it redirected.
    kinds = {
        path: [hop["kind"] for hop in redirects.captures[web.url(path)]["redirects"]]
        for path in ("/to-loopback", "/meta-to-loopback", "/js-to-metadata")
    }
    assert kinds == {
        "/to-loopback": ["http"],
        "/meta-to-loopback": ["meta-refresh"],
        "/js-to-metadata": ["javascript"],
    }
    assert len(redirects.captures[web.url("/chain/0?hops=50")]["redirects"]) == 11


def test_show_finds_a_refused_redirect_by_its_hop(redirects: Batch, web: HostileWeb) -> None:
    capture = show(redirects, web.url("/js-to-metadata"))
    assert capture["status"] == "failed" and "169.254.169.254" in capture["error"]


# --- bodies and time -----------------------------------------------------------------------------

BODY_LIMIT = 8 << 20
LIMIT_CASES = {
    "/gzip-bomb": (
        "failed",
        rf"^body-too-large: The body of .*/gzip-bomb is larger than {BODY_LIMIT} bytes "
        r"\(fetch\.max_body_bytes\); the rest was not read$",
    ),
    "/endless": (
        "failed",
        rf"^body-too-large: .* larger than {BODY_LIMIT} bytes \(fetch\.max_body_bytes\)",
    ),
    "/trickle?delay=1": (
        "failed",
        r"^timeout: Gave up on .*/trickle\?delay=1 while reading the body: "
        r"the total time limit of 3s \(fetch\.total_timeout\) was reached$",
    ),
    "/truncated-chunked": (
        "failed",
        r"^network: .*/truncated-chunked: connection closed before the response was complete",
    ),
    "/truncated-length": ("failed", r"^network: .*connection closed before the response"),
    "/500": ("failed", r"^HTTP 500 Internal Server Error$"),
    "/429": (
        "failed",
        r"^rate-limited: .*/429 is rate limiting us \(HTTP 429\); retry after 120s$",
    ),
    "/ok": ("ok", ""),
}


@pytest.fixture(scope="module")
def limits(web: HostileWeb, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    fetch = {"max_body_bytes": BODY_LIMIT, "total_timeout": 3, "read_timeout": 2}
    return run_batch(web, tmp_path_factory.mktemp("limits"), list(LIMIT_CASES), fetch=fetch)


def test_limit_batch(limits: Batch, web: HostileWeb) -> None:
    check_batch(limits, web, LIMIT_CASES)
    # A 4 GiB bomb, an endless body and a byte a second, together: bounded in time too.
    assert limits.run.seconds < 30


def test_cut_bodies_keep_what_came(limits: Batch, web: HostileWeb) -> None:
    engine = sa.create_engine(f"sqlite:///{limits.cli.database}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT c.url, e.truncated, b.size FROM captures c "
                    "JOIN exchanges e ON e.capture_id = c.id "
                    "LEFT JOIN bodies b ON b.sha256 = e.sha256"
                )
            ).all()
    finally:
        engine.dispose()
    by_url = {url: (bool(truncated), size) for url, truncated, size in rows}
    assert by_url[web.url("/gzip-bomb")] == (True, BODY_LIMIT)
    assert by_url[web.url("/endless")] == (True, BODY_LIMIT)


def test_rate_limit_delay_is_kept(limits: Batch, web: HostileWeb) -> None:
    row = stored(limits.cli)[web.url("/429")]
    assert '"retry_after": 120.0' in row["meta"] and row["http_status"] == 429


# --- content: types, charsets, nesting, platform answers -----------------------------------------

HTML_LIMIT = 1_500_000
CONTENT_CASES = {
    "/file.pdf": ("ok", ""),
    "/image.png": ("ok", ""),
    "/deep-nesting": ("ok", r"nested deeper than the parser's limit \(256 levels\)"),
    "/latin1-as-utf8": ("ok", r"not valid in its declared charset"),
    "/utf8-as-latin1": ("ok", ""),
    "/bogus-charset": ("ok", ""),
    "/binary-as-html": ("ok", r"not valid in its declared charset"),
    "/big-html?bytes=2000000": (
        "ok",
        rf"^HTML is 2000000 bytes, over fetch\.max_html_bytes \({HTML_LIMIT}\); "
        "stored without text extraction$",
    ),
    TWEET: (
        "failed",
        r"^syndication: https://cdn\.syndication\.twimg\.com/.* did not answer with valid JSON"
        r".*; oembed: .* did not answer with valid JSON.*; fxtwitter: .* valid JSON",
    ),
    SKEET: (
        "failed",
        r"^Bluesky resolveHandle for alice\.bsky\.social answered HTTP 200 with a body that is "
        r"not a JSON object \(application/json\)\.$",
    ),
    SKEET_DID: (
        "failed",
        r"^Bluesky getPostThread for at://did:plc:abcdefghijklmnop/.* answered HTTP 200 with a "
        r"body that is not a JSON object",
    ),
}


@pytest.fixture(scope="module")
def content(web: HostileWeb, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    fetch = {"max_body_bytes": 4 << 20, "max_html_bytes": HTML_LIMIT}
    return run_batch(web, tmp_path_factory.mktemp("content"), list(CONTENT_CASES), fetch=fetch)


def test_content_batch(content: Batch, web: HostileWeb) -> None:
    check_batch(content, web, CONTENT_CASES)


@pytest.mark.parametrize(
    ("path", "body", "media_type"),
    [("/file.pdf", PDF_BODY, "application/pdf"), ("/image.png", PNG_BODY, "image/png")],
)
def test_binary_answers_are_raw_captures(
    content: Batch, web: HostileWeb, path: str, body: bytes, media_type: str
) -> None:
    capture = content.captures[web.url(path)]
    assert capture["content_type"] == media_type
    assert capture["sha256"] == hashlib.sha256(body).hexdigest()
    assert capture["text"] is None and capture["title"] is None and capture["warnings"] == []


def test_mislabelled_charsets_still_give_text(content: Batch, web: HostileWeb) -> None:
    text = {path: content.captures[web.url(path)]["text"] for path in CONTENT_CASES}
    assert text["/utf8-as-latin1"] == "Café crème — “quoted”"
    assert text["/bogus-charset"] == "Café"
    assert text["/latin1-as-utf8"].startswith("Caf")
    assert text["/deep-nesting"] is None  # the text lies below the parser's depth limit
    assert text["/big-html?bytes=2000000"] is None


def test_platform_failures_keep_their_exchanges(content: Batch) -> None:
    capture = show(content, TWEET)
    assert capture["status"] == "failed" and capture["platform"] == "twitter"
    engine = sa.create_engine(f"sqlite:///{content.cli.database}")
    try:
        with engine.connect() as conn:
            urls = conn.execute(
                sa.text(
                    "SELECT e.url FROM exchanges e JOIN captures c ON c.id = e.capture_id "
                    "WHERE c.url = :url ORDER BY e.seq"
                ),
                {"url": TWEET},
            ).scalars()
            hosts = [re.sub(r"^https://([^/]+)/.*", r"\1", u) for u in urls]
    finally:
        engine.dispose()
    assert hosts == ["cdn.syndication.twimg.com", "publish.twitter.com", "api.fxtwitter.com"]


# --- link limits: archive.max_links and depth ----------------------------------------------------


def test_max_links_and_depth_from_the_config(web: HostileWeb, tmp_path: Path) -> None:
    cli = web.cli(tmp_path, archive={"max_links": 3, "depth": 0})
    page = web.url("/links?n=10")
    alone = cli.run("archive", "--json", page)
    assert alone.returncode == 0, alone.stderr
    assert [c["url"] for c in alone.json_lines()] == [page]  # depth 0: nothing followed
    assert alone.json_lines()[0]["warnings"] == []

    followed = cli.run("archive", "--json", "--depth", "1", page)
    assert followed.returncode == 0, followed.stderr
    parent, *children = followed.json_lines()
    assert parent["warnings"] == ["10 links; followed the first 3 (archive.max_links)"]
    assert [c["parent_id"] for c in children] == [parent["id"]] * 3
    assert [link["capture_id"] is not None for link in parent["links"]] == [True] * 3 + [False] * 7
    assert followed.stderr.splitlines()[-1] == "archiver: 4 ok"
