"""Which captures an export holds: one URL's captures and what they led to, or a range by date."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.store import models
from archiver.store.captures import resolve_captures

_DESCENDANT_DEPTH = 10
_BATCH = 200
_C = models.Capture.__table__.c
_E = models.Exchange.__table__.c


def select_capture_ids(
    session: Session, *, url: str | None = None, since: datetime | None = None
) -> list[int] | None:
    """Ids to export for `url` (its captures and what they led to), or None for a range export."""
    if url is None:
        return None
    hop_ids = sa.select(_E.capture_id).where(_E.url == url)
    roots = session.execute(
        sa.select(_C.id).where(
            sa.or_(_C.url == url, _C.final_url == url, _C.canonical_url == url, _C.id.in_(hop_ids))
        )
    ).scalars()
    found = set(roots)
    # Re-captures inherit final and canonical URLs from the capture they are the same as.
    found.update(
        session.execute(sa.select(_C.id).where(_C.same_as.in_(sorted(found)))).scalars()
        if found
        else ()
    )
    frontier = sorted(found)
    for _ in range(_DESCENDANT_DEPTH):
        if not frontier:
            break
        children = session.execute(sa.select(_C.id).where(_C.parent_id.in_(frontier))).scalars()
        frontier = sorted(set(children) - found)
        found.update(frontier)
    if since is not None and found:
        kept = session.execute(
            sa.select(_C.id).where(_C.id.in_(sorted(found)), _C.captured_at >= utc(since))
        ).scalars()
        found = set(kept)
    return sorted(found)


def utc(value: datetime) -> datetime:
    """`value` in UTC; naive values are UTC already (the CLI's --since, datetimes read from SQLite)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iter_captures(
    session: Session, ids: Sequence[int] | None, *, since: datetime | None = None
) -> Iterator[models.Capture]:
    """Captures in id order, re-captures resolved (an export holds each one's content), a batch
    at a time so exports of any size keep memory flat."""
    if ids is not None:
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            yield from resolve_captures(
                session,
                session.scalars(
                    sa.select(models.Capture).where(_C.id.in_(chunk)).order_by(_C.id)
                ).all(),
            )
            session.expunge_all()
        return
    last = 0
    while True:
        query = sa.select(models.Capture).where(_C.id > last).order_by(_C.id).limit(_BATCH)
        if since is not None:
            query = query.where(_C.captured_at >= utc(since))
        rows = list(session.scalars(query))
        if not rows:
            return
        yield from resolve_captures(session, rows)
        last = rows[-1].id
        session.expunge_all()
