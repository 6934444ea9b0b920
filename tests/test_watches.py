from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver.errors import ConfigError, NotFound
from archiver.queue import JobState, write_session
from archiver.store.models import Job
from archiver.watches import (
    add_watch,
    format_interval,
    list_watches,
    next_due,
    parse_interval,
    record_capture,
    remove_watch,
    set_paused,
    wake_due_watches,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://example.org/article"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("6h", 21600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("2w", 1209600),
        (" 6H ", 21600),
        ("1.5h", 5400),
    ],
)
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "6x", "6h30", "-1h", "0s", "1h 2"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="interval"):
        parse_interval(text)


def test_format_interval_round_trips() -> None:
    assert format_interval(5400) == "1h30m"
    assert format_interval(86400 + 6 * 3600) == "1d6h"
    assert parse_interval(format_interval(93784)) == 93784


def test_next_due_keeps_the_interval_grid_and_skips_missed_runs() -> None:
    due = T0
    assert next_due(interval_seconds=3600, cron=None, due=due, now=T0) == T0 + timedelta(hours=1)
    # Ten and a half hours late: due at the next grid point, not ten times in a row.
    late = T0 + timedelta(hours=10, minutes=30)
    assert next_due(interval_seconds=3600, cron=None, due=due, now=late) == T0 + timedelta(hours=11)
    future = T0 + timedelta(hours=3)
    assert next_due(interval_seconds=3600, cron=None, due=future, now=T0) == future


def test_next_due_from_cron_in_utc() -> None:
    now = datetime(2026, 3, 1, 13, 5, tzinfo=UTC)
    assert next_due(interval_seconds=None, cron="0 */6 * * *", due=None, now=now) == datetime(
        2026, 3, 1, 18, 0, tzinfo=UTC
    )


def test_add_watch_validates(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(ConfigError, match="either"):
            add_watch(session, URL, now=T0)
        with pytest.raises(ConfigError, match="either"):
            add_watch(session, URL, every_seconds=60, cron="* * * * *", now=T0)
        with pytest.raises(ConfigError, match="cron expression"):
            add_watch(session, URL, cron="every day", now=T0)


def test_watch_lifecycle(engine: Engine) -> None:
    with write_session(engine) as session:
        info = add_watch(session, URL, every_seconds=6 * 3600, depth=0, now=T0)
        assert (info.state, info.next_due_at, info.schedule) == ("due", T0, "every 6h")
        # Adding again changes the schedule of the same watch.
        again = add_watch(session, URL, cron="0 * * * *", depth=2, now=T0)
        assert again.id == info.id and again.schedule == "cron 0 * * * *" and again.depth == 2
    with write_session(engine) as session:
        assert set_paused(session, URL, True, now=T0).state == "paused"
    with Session(engine) as session:
        [listed] = list_watches(session, now=T0)
        assert listed.paused and listed.to_dict()["next_due_at"] == "2026-03-01T12:00:00Z"
    with write_session(engine) as session:
        assert set_paused(session, URL, False, now=T0).state == "due"
        remove_watch(session, URL)
    with Session(engine) as session:
        assert list_watches(session, now=T0) == []
        with pytest.raises(NotFound, match="watch list"):
            remove_watch(session, URL)


def test_wake_enqueues_due_watches_once(engine: Engine) -> None:
    with write_session(engine) as session:
        add_watch(session, URL, every_seconds=3600, depth=0, now=T0)
        add_watch(
            session,
            "https://example.org/later",
            every_seconds=3600,
            now=T0,
            first_due=T0 + timedelta(minutes=30),
        )
        add_watch(session, "https://example.org/paused", every_seconds=60, now=T0)
        set_paused(session, "https://example.org/paused", True, now=T0)
    with write_session(engine) as session:
        first = wake_due_watches(session, now=T0)
    assert len(first) == 1
    # An hour later the first job has not run yet: no second job for the same watch.
    with write_session(engine) as session:
        again = wake_due_watches(session, now=T0 + timedelta(hours=1))
    with Session(engine) as session:
        jobs = session.scalars(sa.select(Job).order_by(Job.id)).all()
        assert [(j.url, j.depth, j.state) for j in jobs] == [
            (URL, 0, JobState.QUEUED),
            ("https://example.org/later", 1, JobState.QUEUED),
        ]
        assert again == [jobs[1].id]
        watches = {w.url: w for w in list_watches(session, now=T0 + timedelta(hours=1))}
        assert watches[URL].state == "queued"
        assert watches[URL].next_due_at == T0 + timedelta(hours=2)
        assert watches["https://example.org/paused"].state == "paused"


def test_record_capture_moves_last_change_only_on_change(engine: Engine) -> None:
    with write_session(engine) as session:
        watch_id = add_watch(session, URL, every_seconds=60, now=T0).id
        record_capture(
            session, watch_id, capture_id=None, status="ok", change="first", captured_at=T0
        )
        record_capture(
            session,
            watch_id,
            capture_id=None,
            status="ok",
            change="unchanged",
            captured_at=T0 + timedelta(hours=1),
        )
    with Session(engine) as session:
        [info] = list_watches(session, now=T0)
        assert info.last_change_at == T0
        assert info.last_status == "ok"
