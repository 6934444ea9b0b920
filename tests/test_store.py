"""Saving captures on real SQLite and PostgreSQL: bodies once, hops and links as rows, changes told apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from archiver.model import Exchange, Page, Platform, Redirect, RedirectKind, Status
from archiver.store import models
from archiver.store.captures import (
    ROLE_REDIRECT,
    ROLE_RESPONSE,
    NewCapture,
    capture_dict,
    find_captures,
    get_body,
    resolve_capture,
    save_capture,
)
from archiver.store.db import session_factory

T0 = datetime(2023, 11, 4, 12, 0, tzinfo=UTC)


def _exchange(url: str, status: int, body: bytes = b"", location: str | None = None) -> Exchange:
    redirect = Redirect(url, status, location, RedirectKind.HTTP) if location else None
    return Exchange(
        method="GET",
        url=url,
        request_headers=(("User-Agent", "archiver-test"),),
        started_at=T0,
        status=status,
        reason="OK",
        response_headers=(("Content-Type", "text/html"),),
        body=body,
        redirect=redirect,
    )


def _article(
    text: str = "The article text.", when: datetime = T0, status: Status = Status.OK
) -> NewCapture:
    body = f"<html><body><p>{text}</p></body></html>".encode()
    return NewCapture(
        url="https://t.co/abc",
        platform=Platform.WEB,
        captured_at=when,
        status=status,
        final_url="https://news.example/story?utm_source=tw",
        canonical_url="https://news.example/story",
        http_status=200 if status == Status.OK else 404,
        body=body,
        content_type="text/html",
        exchanges=(
            (ROLE_REDIRECT, _exchange("https://t.co/abc", 301, location="https://nws.example/x")),
            (
                ROLE_REDIRECT,
                _exchange(
                    "https://nws.example/x",
                    301,
                    location="https://news.example/story?utm_source=tw",
                ),
            ),
            (ROLE_RESPONSE, _exchange("https://news.example/story?utm_source=tw", 200, body)),
        ),
        page=Page(title="Story", text=text, authors=("A. Writer",), published_at=T0),
        links=(("https://other.example/", "link"),),
        error=None if status == Status.OK else "HTTP 404 Not Found",
    )


def test_capture_round_trip_with_hops_and_links(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        capture_id = save_capture(session, _article()).id
    with sessions() as session:
        row = session.get(models.Capture, capture_id)
        assert row is not None
        data = capture_dict(session, row)
        assert [hop["url"] for hop in data["redirects"]] == [
            "https://t.co/abc",
            "https://nws.example/x",
        ]
        assert data["redirects"][0] == {
            "url": "https://t.co/abc",
            "status": 301,
            "location": "https://nws.example/x",
            "kind": "http",
        }
        assert data["captured_at"] == "2023-11-04T12:00:00Z"
        assert data["published_at"] == "2023-11-04T12:00:00Z"
        assert data["authors"] == ["A. Writer"]
        assert data["links"] == [
            {"url": "https://other.example/", "kind": "link", "capture_id": None}
        ]
        assert get_body(session, data["sha256"]).startswith(b"<html>")
        for url in ("https://t.co/abc", "https://nws.example/x", "https://news.example/story"):
            assert [c.id for c in find_captures(session, [url])] == [capture_id]


def test_identical_bodies_are_stored_once_and_changes_classified(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as session:
        first = save_capture(session, _article())
        same = save_capture(session, _article(when=T0 + timedelta(hours=1)))
        edited = save_capture(session, _article("Edited text.", when=T0 + timedelta(hours=2)))
        gone = save_capture(session, _article(status=Status.FAILED, when=T0 + timedelta(hours=3)))
        back = save_capture(session, _article("Edited text.", when=T0 + timedelta(hours=4)))
    assert [first.change, same.change, edited.change, gone.change, back.change] == [
        "first",
        "unchanged",
        "changed",
        "gone",
        "back",
    ]
    # A 404 of something archived before is a deletion, not a bad link.
    assert gone.status == Status.GONE and gone.error is None
    with sessions() as session:
        bodies = session.scalar(sa.select(sa.func.count()).select_from(models.Body))
        # the original, the edited version and the empty redirect body; the rest are repeats
        assert bodies == 3
        # The re-capture refers to the first for the content they share, body included.
        assert same.same_as == first.id and same.sha256 is None
        assert first.sha256 == resolve_capture(session, same).sha256


def test_first_capture_404_is_a_failure(engine: Engine) -> None:
    with session_factory(engine).begin() as session:
        row = save_capture(session, _article(status=Status.FAILED))
    assert row.status == Status.FAILED and row.error == "HTTP 404 Not Found"
