from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.errors import NotFound
from archiver.history import diff_captures, timeline
from archiver.store.models import Capture

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://news.example/story"


def store(engine: Engine, hours: int, status: str, change: str, **fields: Any) -> int:
    with Session(engine) as session:
        capture = Capture(
            url=fields.pop("url", URL),
            platform="web",
            captured_at=T0 + timedelta(hours=hours),
            status=status,
            change=change,
            **fields,
        )
        session.add(capture)
        session.commit()
        return capture.id


@pytest.fixture
def story(engine: Engine) -> list[int]:
    text = "Line one.\nThe minister said yes.\nLine three."
    return [
        store(
            engine,
            0,
            "ok",
            "first",
            title="Story",
            text=text,
            authors=["A. Writer"],
            content_hash="h1",
        ),
        store(
            engine,
            6,
            "ok",
            "unchanged",
            title="Story",
            text=text,
            authors=["A. Writer"],
            content_hash="h1",
        ),
        store(engine, 12, "failed", "failed", error="network: reset"),
        store(
            engine,
            18,
            "ok",
            "changed",
            title="Story (updated)",
            text=text.replace("said yes", "said no"),
            authors=["A. Writer", "B. Editor"],
            modified_at=T0 + timedelta(hours=17),
            content_hash="h2",
        ),
        store(engine, 24, "gone", "gone", http_status=404),
        store(
            engine, 30, "ok", "back", title="Story (updated)", text="Line one.", content_hash="h3"
        ),
    ]


def test_timeline_lists_every_capture_in_order(engine: Engine, story: list[int]) -> None:
    store(engine, 3, "ok", "first", url="https://news.example/other")
    with Session(engine) as session:
        entries = timeline(session, URL)
    assert [(e.id, e.status, e.change) for e in entries] == [
        (story[0], "ok", "first"),
        (story[1], "ok", "unchanged"),
        (story[2], "failed", "failed"),
        (story[3], "ok", "changed"),
        (story[4], "gone", "gone"),
        (story[5], "ok", "back"),
    ]
    assert entries[0].captured_at == T0
    assert entries[4].to_dict()["http_status"] == 404
    assert entries[2].to_dict()["captured_at"] == "2026-03-01T12:00:00Z".replace(
        "12:", "00:"
    ).replace("01T", "02T")


def test_timeline_of_an_unknown_url(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(NotFound, match="No capture"):
        timeline(session, URL)


def test_diff_between_named_captures(engine: Engine, story: list[int]) -> None:
    with Session(engine) as session:
        diff = diff_captures(session, URL, from_id=story[1], to_id=story[3])
    assert diff.changed and diff.text_changed
    assert "-The minister said yes.\n+The minister said no.\n" in diff.text_diff
    assert diff.text_diff.startswith(f"--- capture {story[1]} (2026-03-01T18:00:00Z)\n")
    assert {f.field: (f.before, f.after) for f in diff.fields} == {
        "title": ("Story", "Story (updated)"),
        "authors": (["A. Writer"], ["A. Writer", "B. Editor"]),
        "modified_at": (None, "2026-03-02T05:00:00Z"),
    }
    data = diff.to_dict()
    assert data["from"]["id"] == story[1] and data["to"]["id"] == story[3]
    assert data["fields"][0] == {"field": "title", "from": "Story", "to": "Story (updated)"}


def test_diff_defaults_to_the_last_two_captures_with_content(
    engine: Engine, story: list[int]
) -> None:
    with Session(engine) as session:
        diff = diff_captures(session, URL)
        unchanged = diff_captures(session, URL, to_id=story[1])
    # The latest (back) against the one before it (gone); failed captures are skipped.
    assert (diff.before.id, diff.after.id) == (story[4], story[5])
    assert ("status", "gone", "ok") in [(f.field, f.before, f.after) for f in diff.fields]
    assert unchanged.before.id == story[0]
    assert not unchanged.changed and unchanged.text_diff == "" and unchanged.fields == ()


def test_diff_refuses_captures_of_other_urls(engine: Engine, story: list[int]) -> None:
    other = store(engine, 1, "ok", "first", url="https://news.example/other", text="x")
    with Session(engine) as session:
        with pytest.raises(NotFound, match=f"Capture {other} is not a capture of"):
            diff_captures(session, URL, from_id=other)
        with pytest.raises(NotFound, match="nothing earlier"):
            diff_captures(session, "https://news.example/other")
