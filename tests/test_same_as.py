"""Unchanged re-captures refer to the capture holding their content and read back whole."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import integrity, provenance
from archiver.archiving import archive
from archiver.config import ArchiveConfig, Config, FetchConfig
from archiver.export import ExportFormat, export
from archiver.history import diff_captures, timeline
from archiver.model import Exchange, Page, Platform, Status
from archiver.search import search
from archiver.store import models
from archiver.store.captures import (
    ROLE_REDIRECT,
    ROLE_RESPONSE,
    NewCapture,
    apply_headers_delta,
    capture_dict,
    capture_exchanges,
    find_captures,
    headers_delta,
    resolve_capture,
    save_captures,
)
from archiver.store.db import alembic_config, open_database, session_factory
from tests.site_server import Site
from tests.test_export import warcio_check

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
URL = "https://short.example/s/1"
PAGE = "https://news.example/2026/story.html"
TEXT = "Harbour lights were switched off for good on Tuesday night. " * 20

#: What a capture prints that legitimately differs between two captures of one page.
OWN = ("id", "captured_at", "change", "same_as")


def _headers(date: str) -> tuple[tuple[str, str], ...]:
    return (
        ("Date", date),
        ("Server", "nginx"),
        ("Content-Type", "text/html; charset=utf-8"),
        ("set-cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("Cache-Control", "max-age=60"),
    )


def _record(when: datetime, text: str = TEXT, **changes: Any) -> NewCapture:
    date = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = f"<html><body><p>{text}</p></body></html>".encode()

    def exchange(url: str, status: int, payload: bytes) -> Exchange:
        return Exchange(
            method="GET",
            url=url,
            request_headers=(("Host", url.split("/")[2]), ("User-Agent", "archiver-test")),
            started_at=when,
            status=status,
            reason="OK" if status == 200 else "Moved Permanently",
            http_version="HTTP/1.1",
            response_headers=_headers(date),
            body=payload,
        )

    record = NewCapture(
        url=URL,
        platform=Platform.WEB,
        captured_at=when,
        status=Status.OK,
        final_url=PAGE,
        canonical_url="https://news.example/story",
        http_status=200,
        body=body,
        content_type="text/html",
        via="http",
        exchanges=(
            (ROLE_REDIRECT, exchange(URL, 301, b"moved")),
            (ROLE_RESPONSE, exchange(PAGE, 200, body)),
        ),
        page=Page(
            title="Harbour lights",
            text=text,
            authors=("A. Writer",),
            published_at=T0,
            site_name="News",
            language="en",
            description="The lights go out.",
        ),
        links=tuple((f"https://news.example/related/{n}", "link") for n in range(12)),
        extra_meta={"fetched_with": "test"},
    )
    return replace(record, **changes)


def _save(engine: Engine, *records: NewCapture) -> list[int]:
    """Save each record in its own transaction, indexed and sealed as archiving does."""
    ids = []
    for record in records:
        with session_factory(engine).begin() as session:
            integrity.lock_chain(session)
            rows = save_captures(session, [record])
            provenance.index_captures(session, rows)
            integrity.seal_all(session, rows)
            ids.append(rows[0].id)
    return ids


def _printed(session: Session, capture_id: int) -> dict[str, Any]:
    row = session.get(models.Capture, capture_id)
    assert row is not None
    data = capture_dict(session, row)
    for link in data["links"]:
        link.pop("capture_id")
    return {k: v for k, v in data.items() if k not in OWN}


def test_unchanged_recapture_refers_and_reads_back_whole(engine: Engine) -> None:
    first, second, edited, third, fourth = _save(
        engine,
        _record(T0),
        _record(T0 + timedelta(hours=1)),
        _record(T0 + timedelta(hours=2), text=TEXT + "Updated."),
        _record(T0 + timedelta(hours=3), text=TEXT + "Updated."),
        _record(T0 + timedelta(hours=4), text=TEXT + "Updated."),
    )
    with Session(engine) as session:
        rows = {c.id: c for c in session.scalars(sa.select(models.Capture))}
        assert [rows[i].change for i in (first, second, edited, third, fourth)] == [
            "first",
            "unchanged",
            "changed",
            "unchanged",
            "unchanged",
        ]
        # The changed page is stored in full; re-captures refer to the capture holding the
        # content, never to another re-capture.
        assert rows[first].same_as is None and rows[edited].same_as is None
        assert rows[edited].text is not None
        assert (rows[second].same_as, rows[third].same_as, rows[fourth].same_as) == (
            first,
            edited,
            edited,
        )
        stored = rows[second]
        assert stored.text is None and stored.meta is None and stored.title is None
        assert stored.content_hash is None and stored.final_url is None
        assert (
            session.scalar(sa.select(sa.func.count()).where(models.Link.capture_id == second)) == 0
        )
        assert (
            session.scalar(sa.select(sa.func.count()).where(models.Shingle.capture_id == second))
            == 0
        )

        assert _printed(session, second) == _printed(session, first)
        assert _printed(session, fourth) == _printed(session, edited)
        assert _printed(session, second)["text"] == TEXT
        assert len(_printed(session, second)["links"]) == 12

        # Headers come back exactly: order, duplicates and case; only Date differed.
        for capture_id, when in ((first, T0), (second, T0 + timedelta(hours=1))):
            capture = session.get(models.Capture, capture_id)
            assert capture is not None
            exchanges = capture_exchanges(session, capture)
            date = when.strftime("%a, %d %b %Y %H:%M:%S GMT")
            assert [e.response_headers for e in exchanges] == [
                [list(h) for h in _headers(date)]
            ] * 2
            assert [e.request_headers[1] for e in exchanges] == [
                ["User-Agent", "archiver-test"]
            ] * 2
            assert [e.reason for e in exchanges] == ["Moved Permanently", "OK"]
            assert all(e.sha256 for e in exchanges)
        compact = session.scalars(
            sa.select(models.Exchange.response_headers).where(models.Exchange.capture_id == second)
        ).all()
        assert all(isinstance(h, dict) and len(h["d"]) == 1 for h in compact)

        # Every URL of the page finds the re-captures too.
        for url in (URL, PAGE, "https://news.example/story"):
            found = {c.id for c in find_captures(session, [url])}
            assert {first, second} <= found

        # history and diff read resolved content.
        entries = {e.id: e for e in timeline(session, URL)}
        assert entries[second].title == "Harbour lights"
        assert entries[second].content_hash == entries[first].content_hash
        diff = diff_captures(session, URL, from_id=first, to_id=fourth)
        assert diff.text_changed and "Updated." in diff.text_diff
        assert not diff_captures(session, URL, from_id=first, to_id=second).changed

        # Search finds the content once, on the capture holding it; provenance lists both.
        hits = search(session, "harbour lights switched")
        assert {h.capture_id for h in hits} == {first, edited}
        # Asked about a time range, a hit is the newest capture of the content in it, the
        # re-captures included: each was seen with that text when it was made.
        after = search(session, "harbour lights switched", since=T0 + timedelta(minutes=30))
        assert {h.capture_id for h in after} == {fourth, second}
        newest = search(
            session, "harbour lights switched", since=T0 + timedelta(minutes=30), order="newest"
        )
        assert [h.capture_id for h in newest] == [fourth, second]
        assert newest[1].captured_at.replace(tzinfo=UTC) == T0 + timedelta(hours=1)
        assert newest[1].title == "Harbour lights" and "[harbour]" in newest[1].snippet.lower()
        before = search(session, "harbour lights switched", until=T0 + timedelta(minutes=30))
        assert [h.capture_id for h in before] == [first]
        late = search(session, "updated", since=T0 + timedelta(hours=2, minutes=30))
        assert [h.capture_id for h in late] == [fourth]
        assert search(session, "harbour", since=T0 + timedelta(hours=5)) == []
        assert {h.capture_id for h in search(session, "harbour", status="ok")} == {fourth, second}
        result = provenance.provenance(session, TEXT)
        assert {first, second} <= set(result.matches[0].capture_ids)

    with Session(engine) as session:
        assert integrity.verify(session).ok


def test_a_recapture_with_other_metadata_keeps_its_own(engine: Engine) -> None:
    first, second = _save(
        engine,
        _record(T0),
        _record(T0 + timedelta(hours=1), extra_meta={"fetched_with": "other"}, links=()),
    )
    with Session(engine) as session:
        row = session.get(models.Capture, second)
        assert row is not None
        # No links now where there were some: only a full row can say so.
        assert row.same_as is None and row.text == TEXT
    third = _save(engine, _record(T0 + timedelta(hours=2), extra_meta={"fetched_with": "x"}))[0]
    with Session(engine) as session:
        row = session.get(models.Capture, third)
        assert row is not None
        assert row.same_as == second and row.text is None
        assert row.meta is not None and row.meta["fetched_with"] == "x"
        resolved = resolve_capture(session, row)
        assert resolved.text == TEXT and resolved.meta == row.meta
        assert row not in session.new and row.text is None
        assert len(capture_dict(session, row)["links"]) == 12
    assert first < second < third


def test_verify_catches_tampering_with_a_recapture_and_what_it_refers_to(
    engine: Engine,
) -> None:
    first, second = _save(engine, _record(T0), _record(T0 + timedelta(hours=1)))
    with Session(engine) as session:
        assert integrity.verify(session).ok

    def problems(statement: sa.Update) -> set[tuple[str, int | None]]:
        with session_factory(engine).begin() as session:
            session.execute(statement)
            found = {(p.kind, p.capture_id) for p in integrity.verify(session).problems}
            session.rollback()
        return found

    C = models.Capture
    assert ("meta", second) in problems(sa.update(C).where(C.id == second).values(same_as=None))
    assert ("meta", second) in problems(sa.update(C).where(C.id == second).values(http_status=500))
    # The re-capture's content is the referenced capture's: altering it is caught there.
    assert ("meta", first) in problems(sa.update(C).where(C.id == first).values(text="forged"))
    assert ("reference", second) in problems(
        sa.update(C).where(C.id == first).values(url="https://elsewhere.example/")
    )
    body = (
        sa.update(models.Body)
        .where(models.Body.sha256 == sa.select(C.sha256).where(C.id == first).scalar_subquery())
        .values(compression="none", data=b"forged")
    )
    assert {("body", first), ("body", second)} <= problems(body)


def test_exports_of_a_recapture_are_complete(engine: Engine, tmp_path: Path) -> None:
    first, second = _save(engine, _record(T0), _record(T0 + timedelta(hours=1)))
    with Session(engine) as session:
        export(session, tmp_path / "out.jsonl", format=ExportFormat.JSONL)
        warc = export(session, tmp_path / "out.warc.gz", format=ExportFormat.WARC)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in records}
    assert {k: v for k, v in by_id[second].items() if k not in OWN} == {
        k: v for k, v in by_id[first].items() if k not in OWN
    }
    assert by_id[second]["title"] == "Harbour lights" and by_id[second]["final_url"] == PAGE
    assert warc.records.get("response", 0) + warc.records.get("revisit", 0) == 4
    assert warc.records.get("revisit") == 2
    assert warcio_check(tmp_path / "out.warc.gz").returncode == 0


def test_migration_round_trip_keeps_recaptures_whole(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        first, second = _save(engine, _record(T0), _record(T0 + timedelta(hours=1)))
        with Session(engine) as session:
            before = _printed(session, second)
        config = alembic_config(engine)
        command.downgrade(config, "0003")
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT text, title, final_url FROM captures WHERE id = :id"),
                {"id": second},
            ).one()
            assert row.text == TEXT and row.final_url == PAGE
            links = connection.execute(
                sa.text("SELECT count(*) FROM links WHERE capture_id = :id"), {"id": second}
            ).scalar()
            assert links == 12
            headers = connection.execute(
                sa.text("SELECT response_headers FROM exchanges WHERE capture_id = :id"),
                {"id": second},
            ).scalars()
            assert all(isinstance(_json(h), list) for h in headers)
        command.upgrade(config, "head")
        with Session(engine) as session:
            after = _printed(session, second)
            assert {k: v for k, v in after.items() if k != "same_as"} == before
            # The full-text index is whole again after the rebuild.
            assert {h.capture_id for h in search(session, "harbour lights")} >= {first}
        # The downgrade made the re-capture whole: the next one refers to it.
        third = _save(engine, _record(T0 + timedelta(hours=2)))[0]
        with Session(engine) as session:
            row3 = session.get(models.Capture, third)
            assert row3 is not None and row3.same_as == second
            assert session.scalar(sa.select(sa.func.count()).select_from(models.Exchange)) == 6
    finally:
        engine.dispose()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_headers_delta_round_trips() -> None:
    base = [["Date", "a"], ["Server", "x"], ["Vary", "A"], ["vary", "B"]]
    for headers in (
        base,
        [["Date", "b"], ["Server", "x"], ["Vary", "A"], ["vary", "B"]],
        [["date", "a"], ["Server", "x"]],
        [["Server", "x"], ["Date", "a"], ["Vary", "A"], ["vary", "B"], ["X-New", "1"]],
        [],
    ):
        delta = headers_delta(headers, base)
        assert apply_headers_delta(delta, base) == headers
    assert headers_delta(base, base) == {"n": 4, "d": []}


# -- growth of the database ---------------------------------------------------------------------

PAGES = 60


def _article(n: int) -> bytes:
    paragraphs = "".join(
        f"<p>Paragraph {p} of story {n}: the council met on Tuesday to discuss the harbour, "
        f"the lights and the budget for the coming year, and voted {n % 7} to {p}.</p>"
        for p in range(8)
    )
    links = "".join(f'<li><a href="/story/{(n + k) % PAGES}">Story {k}</a></li>' for k in range(15))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Story {n}</title><meta property='og:title' content='Story {n}'>"
        "<meta property='og:site_name' content='Local News'><meta name='author' content='A. B.'>"
        f"<link rel='canonical' href='/story/{n}'></head><body><article><h1>Story {n}</h1>"
        f"{paragraphs}<ul>{links}</ul></article></body></html>"
    ).encode()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    for n in range(PAGES):
        site.set(
            f"/story/{n}",
            _article(n),
            headers={
                "Cache-Control": "max-age=60",
                "ETag": f'"story-{n}"',
                "Vary": "Accept-Encoding",
                "X-Frame-Options": "DENY",
            },
        )
    yield site
    site.stop()


def _db_bytes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    return int((pages - free) * size)


def test_rearchiving_unchanged_pages_adds_under_1kb_per_capture(site: Site, tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite3"
    config = Config(
        database_url=f"sqlite:///{path}",
        fetch=FetchConfig(allow_private_networks=True),
        archive=ArchiveConfig(depth=0),
    )
    urls = [site.url(f"/story/{n}") for n in range(PAGES)]
    engine = open_database(config.database_url)
    try:
        empty = _db_bytes(path)
        first = list(archive(urls, config=config, engine=engine))
        after_first = _db_bytes(path)
        second = list(archive(urls, config=config, engine=engine))
        after_second = _db_bytes(path)
        with Session(engine) as session:
            assert integrity.verify(session).ok
            referring = session.scalar(
                sa.select(sa.func.count()).where(models.Capture.same_as.is_not(None))
            )
    finally:
        engine.dispose()
    assert [o.change for o in first] == ["first"] * PAGES
    assert [o.change for o in second] == ["unchanged"] * PAGES
    assert referring == PAGES
    full = (after_first - empty) / PAGES
    grown = (after_second - after_first) / PAGES
    # The first run stores real pages (text, metadata, outlinks, index entries) ...
    assert full > 4 * 1024, full
    # ... and the second only what is new: when and how each page was seen.
    assert grown < 1024, grown
