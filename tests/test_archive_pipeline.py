"""The archive pipeline: extraction in worker processes, batched writes, and what they must keep."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archiver import workers
from archiver.archiving import archive
from archiver.archiving.batch import PROCESS_POOL_MIN_TASKS
from archiver.config import ArchiveConfig, Config, FetchConfig
from archiver.extract import extract_page
from archiver.fetch import Fetcher
from archiver.fingerprint import fingerprints
from archiver.model import Author, Page, Platform, Post, Status
from archiver.store import models
from archiver.store.captures import NewCapture, save_captures
from archiver.store.db import open_database, session_factory

ARTICLE = gzip.decompress((Path(__file__).parent / "data" / "e2e" / "cnn_001.html.gz").read_bytes())
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _post(n: int) -> bytes:
    return (
        f"<html><head><title>Post {n}</title></head><body><main><article>"
        f"<p>Reporter {n} wrote a long enough post about the council budget vote for the main "
        f'text extractor to keep it, with the full story at <a href="https://sho.rt/{n}">'
        f"https://sho.rt/{n}</a> for anyone who wants the figures.</p>"
        f"</article></main></body></html>"
    ).encode()


def _web(request: httpx.Request) -> httpx.Response:
    host, path = request.url.host, request.url.path
    html = {"content-type": "text/html; charset=utf-8"}
    if host == "posts.example":
        return httpx.Response(200, headers=html, content=_post(int(path.strip("/"))))
    if host == "sho.rt":
        return httpx.Response(301, headers={"location": f"https://news.example/story{path}"})
    if host == "news.example":
        return httpx.Response(200, headers=html, content=ARTICLE)
    return httpx.Response(404)


@pytest.fixture
def config(sqlite_url: str) -> Config:
    return Config(database_url=sqlite_url, fetch=FetchConfig())


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = open_database(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fetcher(config: Config) -> Iterator[Fetcher]:
    with Fetcher(config.fetch, transport=httpx.MockTransport(_web)) as fetcher:
        yield fetcher


@pytest.mark.slow
def test_a_large_batch_extracts_in_worker_processes_and_links_every_capture(
    config: Config, fetcher: Fetcher, sqlite_engine: Engine
) -> None:
    count = PROCESS_POOL_MIN_TASKS + 4
    urls = [f"https://posts.example/{n}" for n in range(count)]
    outcomes = list(archive(urls, config=config, engine=sqlite_engine, fetcher=fetcher))

    assert len(outcomes) == 2 * count
    assert {o.status for o in outcomes} == {Status.OK}
    assert sum(o.requested for o in outcomes) == count
    expected = extract_page(ARTICLE, "https://news.example/story/0", charset="utf-8")
    with session_factory(sqlite_engine)() as session:
        articles = session.scalars(
            sa.select(models.Capture).where(models.Capture.url.like("https://sho.rt/%"))
        ).all()
        assert len(articles) == count
        # Extraction in a worker gives what extraction in this process gives.
        assert {a.text for a in articles} == {expected.text}
        assert {a.title for a in articles} == {expected.title}
        for article in articles:
            parent = session.get(models.Capture, article.parent_id)
            assert parent is not None and parent.url.startswith("https://posts.example/")
            link = session.scalars(
                sa.select(models.Link).where(
                    models.Link.capture_id == parent.id, models.Link.url == article.url
                )
            ).one()
            assert link.target_id == article.id
        # The provenance index holds what the worker computed, as if computed here.
        for capture in session.scalars(sa.select(models.Capture)).all():
            stored = session.scalars(
                sa.select(models.Shingle.hash).where(models.Shingle.capture_id == capture.id)
            ).all()
            assert capture.text
            assert sorted(stored) == sorted(fingerprints(capture.text))


def test_a_small_batch_extracts_in_process(
    config: Config, fetcher: Fetcher, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(processes: int) -> None:
        raise AssertionError("a small batch must not start worker processes")

    monkeypatch.setattr("archiver.archiving.batch.ExtractionPool", no_pool)
    outcomes = list(
        archive(["https://posts.example/1"], config=config, engine=sqlite_engine, fetcher=fetcher)
    )
    assert [o.status for o in outcomes] == [Status.OK, Status.OK]


def test_a_worker_that_dies_is_replaced_and_the_page_kept_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[int] = []

    def dying_worker() -> subprocess.Popen[bytes]:
        # Comes up fine, then dies on the first page it is given.
        started.append(1)
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.buffer.read(4); sys.exit(3)"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    monkeypatch.setattr(workers, "_start_worker", dying_worker)
    pool = workers.ExtractionPool(1)
    try:
        page = pool.submit(b"<html><body><p>hi</p></body></html>", "https://a.example/", None)
        assert page.result(timeout=60) == (Page(warnings=(workers.CRASHED,)), frozenset())
    finally:
        pool.close()
    assert len(started) == 2  # one retry on a fresh process, then the warning


def test_without_workers_pages_are_extracted_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers.sys, "executable", "")
    pool = workers.ExtractionPool(1)
    try:
        page, hashes = pool.submit(ARTICLE, "https://news.example/0", "utf-8").result(timeout=120)
    finally:
        pool.close()
    assert page == extract_page(ARTICLE, "https://news.example/0", charset="utf-8")
    assert page.text and hashes == fingerprints(page.text)


def test_a_worker_that_cannot_start_is_reported_as_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(workers, "WORKER_ARGS", ("-c", "import sys; sys.exit(2)"))
    with pytest.raises(workers.WorkerUnavailable, match="exited before it was ready"):
        workers._start_worker()


def test_workers_extract_like_the_library() -> None:
    pool = workers.ExtractionPool(2)
    try:
        futures = [pool.submit(ARTICLE, f"https://news.example/{n}", "utf-8") for n in range(3)]
        results = [f.result(timeout=120) for f in futures]
    finally:
        pool.close()
    expected = extract_page(ARTICLE, "https://news.example/0", charset="utf-8")
    assert expected.text
    assert results[0] == (expected, fingerprints(expected.text))
    assert {page.text for page, _ in results} == {expected.text}


def _record(url: str, text: str, when: datetime) -> NewCapture:
    return NewCapture(
        url=url,
        platform=Platform.WEB,
        captured_at=when,
        status=Status.OK,
        final_url=url,
        body=text.encode(),
        content_type="text/html",
        page=Page(title="T", text=text),
        links=(("https://b.example/", "link"),),
    )


def test_save_captures_classifies_within_a_batch_and_rows_stay_writable(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        rows = save_captures(
            session,
            [
                _record("https://a.example/", "one", T0),
                _record("https://a.example/", "one", T0),
                _record("https://a.example/", "two", T0),
            ],
        )
        assert [r.change for r in rows] == ["first", "unchanged", "changed"]
        # Later steps in the same transaction (sealing) set columns on the returned rows.
        rows[0].meta_hash = "f" * 64
        ids = [r.id for r in rows]
    with sessions() as session:
        stored = [session.get(models.Capture, i) for i in ids]
        assert [s.change if s else None for s in stored] == ["first", "unchanged", "changed"]
        assert stored[0] is not None and stored[0].meta_hash == "f" * 64
        # Both captures of the same text share one stored body.
        assert stored[0].sha256 == stored[1].sha256 != stored[2].sha256  # type: ignore[union-attr]
        assert session.scalar(sa.select(sa.func.count()).select_from(models.Body)) == 2
        assert session.scalar(sa.select(sa.func.count()).select_from(models.Link)) == 3


def test_one_batch_holds_failed_page_and_post_captures(engine: Engine) -> None:
    post = Post(
        platform=Platform.TWITTER,
        id="1",
        url="https://x.com/a/status/1",
        author=Author(name="A", handle="a"),
        text="hello",
        via="syndication",
        created_at=T0,
    )
    records = [
        _record("https://a.example/", "one", T0),
        NewCapture(
            url="https://gone.example/",
            platform=Platform.WEB,
            captured_at=T0,
            status=Status.FAILED,
            error="network: refused",
        ),
        NewCapture(
            url=post.url, platform=Platform.TWITTER, captured_at=T0, status=Status.OK, post=post
        ),
    ]
    sessions = session_factory(engine)
    with sessions.begin() as session:
        rows = save_captures(session, records)
        ids = [r.id for r in rows]
    with sessions() as session:
        stored = [session.get(models.Capture, i) for i in ids]
        assert [(s.status, s.title, s.text) for s in stored if s is not None] == [
            ("ok", "T", "one"),
            ("failed", None, None),
            ("ok", "A (@a) on twitter", "hello"),
        ]


class _Concurrency:
    """A mock web whose pages take a moment, counting the requests in flight per host."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.most_overall = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removeprefix("www.")
        with self.lock:
            self.now[host] += 1
            self.most[host] = max(self.most[host], self.now[host])
            self.most_overall = max(self.most_overall, sum(self.now.values()))
        time.sleep(0.05)
        with self.lock:
            self.now[host] -= 1
        return httpx.Response(
            200, headers={"content-type": "text/html"}, content=_post(len(request.url.path))
        )


@pytest.mark.parametrize("per_host", [2, 0])
def test_a_batch_spares_each_host_and_keeps_the_others_busy(
    sqlite_url: str, sqlite_engine: Engine, per_host: int
) -> None:
    web = _Concurrency()
    config = Config(
        database_url=sqlite_url,
        archive=ArchiveConfig(concurrency=8, per_host_concurrency=per_host),
    )
    urls = [f"https://{host}/{n}" for n in range(6) for host in ("a.example", "b.example")]
    # www. is the same host; a repeat held back behind its host's limit (a.example/5 is held
    # too, so the repeat is released after it) is one capture, and the tasks after it still run.
    urls += ["https://a.example/5", "https://www.a.example/9"]
    with Fetcher(config.fetch, transport=httpx.MockTransport(web)) as fetcher:
        outcomes = list(
            archive(urls, config=config, engine=sqlite_engine, fetcher=fetcher, depth=0)
        )
    assert sorted(o.url for o in outcomes) == sorted({*urls})
    assert len(outcomes) == 13
    assert all(o.status == Status.OK for o in outcomes)
    if per_host:
        assert web.most == {"a.example": 2, "b.example": 2}
        assert web.most_overall >= 3  # the two hosts overlapped
    else:
        assert web.most["a.example"] > 2
