"""Reading captures back whole: re-captures resolved, their exchanges and links, the JSON shape."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.model import utc_iso
from archiver.store import models
from archiver.store.db import chunks
from archiver.store.records import ROLE_REDIRECT
from archiver.store.same_as import EXCHANGE_INHERITED, INHERITED, apply_headers_delta

_C = models.Capture


def find_captures(session: Session, urls: Iterable[str], limit: int = 100) -> list[models.Capture]:
    """Captures whose requested, final, canonical or any redirect-hop URL is one of `urls`."""
    keys = list(dict.fromkeys(urls))
    C, E = models.Capture, models.Exchange
    # A UNION of four index lookups: an OR across the columns makes PostgreSQL scan every capture.
    ids = sa.union(
        sa.select(C.id).where(C.url.in_(keys)),
        sa.select(C.id).where(C.final_url.in_(keys)),
        sa.select(C.id).where(C.canonical_url.in_(keys)),
        sa.select(E.capture_id).where(E.url.in_(keys)),
    ).subquery()
    # Re-captures inherit final and canonical URLs from the capture they are the same as.
    found = sa.union(
        sa.select(ids.c[0]), sa.select(C.id).where(C.same_as.in_(sa.select(ids.c[0])))
    ).subquery()
    stmt = (
        sa.select(C)
        .where(C.id.in_(sa.select(found.c[0])))
        .order_by(C.captured_at.desc(), C.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


_CAPTURE_COLUMNS = tuple(column.key for column in models.Capture.__table__.columns)
_EXCHANGE_COLUMNS = tuple(column.key for column in models.Exchange.__table__.columns)


def resolve_captures(session: Session, captures: Sequence[models.Capture]) -> list[models.Capture]:
    """The captures with what a re-capture leaves out taken from the capture it is the same as.

    Every reader of content columns goes through this (or `resolve_capture`). Re-captures come
    back as copies that are not in the session, so nothing resolved is ever written back.
    """
    wanted = sorted({c.same_as for c in captures if c.same_as is not None})
    holders: dict[int, models.Capture] = {}
    for chunk in chunks(wanted):
        holders.update(
            (row.id, row) for row in session.scalars(sa.select(_C).where(_C.id.in_(chunk)))
        )
    resolved = []
    for capture in captures:
        holder = holders.get(capture.same_as) if capture.same_as is not None else None
        if holder is None:
            resolved.append(capture)
            continue
        values = {name: getattr(capture, name) for name in _CAPTURE_COLUMNS}
        for name in INHERITED:
            if values[name] is None:
                values[name] = getattr(holder, name)
        resolved.append(models.Capture(**values))
    return resolved


def resolve_capture(session: Session, capture: models.Capture) -> models.Capture:
    return resolve_captures(session, [capture])[0]


def capture_exchanges(session: Session, capture: models.Capture) -> list[models.Exchange]:
    """The capture's exchanges in order, deltas of a re-capture resolved to full values."""
    E = models.Exchange
    own = session.scalars(
        sa.select(E).where(E.capture_id == capture.id).order_by(E.seq, E.id)
    ).all()
    if capture.same_as is None or not any(isinstance(e.request_headers, dict) for e in own):
        return list(own)
    bases = {e.seq: e for e in session.scalars(sa.select(E).where(E.capture_id == capture.same_as))}
    resolved = []
    for exchange in own:
        base = bases.get(exchange.seq)
        if base is None or not isinstance(exchange.request_headers, dict):
            resolved.append(exchange)
            continue
        values = {name: getattr(exchange, name) for name in _EXCHANGE_COLUMNS}
        for name in EXCHANGE_INHERITED:
            if values[name] is None:
                values[name] = getattr(base, name)
        for name in ("request_headers", "response_headers"):
            if isinstance(values[name], dict) and isinstance(getattr(base, name), list):
                values[name] = apply_headers_delta(values[name], getattr(base, name))
        resolved.append(E(**values))
    return resolved


def header_pairs(headers: list[list[str]] | dict[str, Any] | None) -> list[list[str]]:
    """The [name, value] list of an exchange read through `capture_exchanges`."""
    if isinstance(headers, dict):
        raise ValueError("header delta not resolved: read exchanges with capture_exchanges()")
    return headers or []


@dataclass(frozen=True)
class Outlink:
    url: str
    kind: str
    #: The capture the link led to from this capture, when it was followed.
    target_id: int | None


def capture_links(session: Session, capture: models.Capture) -> list[Outlink]:
    """The capture's outlinks in order; a re-capture without links of its own has the
    referenced capture's, led to the captures it made itself."""
    L = models.Link
    links = session.scalars(
        sa.select(L).where(L.capture_id == capture.id).order_by(L.position, L.id)
    ).all()
    if links or capture.same_as is None:
        return [Outlink(link.url, link.kind, link.target_id) for link in links]
    links = session.scalars(
        sa.select(L).where(L.capture_id == capture.same_as).order_by(L.position, L.id)
    ).all()
    # A followed link's capture is a child of this capture, under the link's URL or the URL it
    # was followed as (a short link expanded) when the referenced capture followed it.
    mine = dict(
        session.execute(
            sa.select(_C.url, _C.id).where(_C.parent_id == capture.id).order_by(_C.id.desc())
        ).all()
    )
    followed_as = dict(
        session.execute(
            sa.select(_C.id, _C.url).where(
                _C.id.in_([link.target_id for link in links if link.target_id is not None])
            )
        ).all()
    )
    return [
        Outlink(
            link.url,
            link.kind,
            mine.get(link.url, mine.get(followed_as.get(link.target_id or 0, ""))),
        )
        for link in links
    ]


def capture_dict(session: Session, capture: models.Capture) -> dict[str, Any]:
    """The JSON shape of a capture that `archive --json` and `show --json` print."""
    capture = resolve_capture(session, capture)
    exchanges = capture_exchanges(session, capture)
    links = capture_links(session, capture)
    meta = capture.meta or {}
    return {
        "id": capture.id,
        "url": capture.url,
        "final_url": capture.final_url,
        "canonical_url": capture.canonical_url,
        "platform": capture.platform,
        "captured_at": utc_iso(capture.captured_at),
        "status": capture.status,
        "http_status": capture.http_status,
        "error": capture.error,
        "warnings": capture.warnings or [],
        "redirects": [
            {
                "url": e.url,
                "status": e.status,
                "location": e.redirect_location,
                "kind": e.redirect_kind,
            }
            for e in exchanges
            if e.role == ROLE_REDIRECT
        ],
        "sha256": capture.sha256,
        "content_type": capture.content_type,
        "title": capture.title,
        "text": capture.text,
        "authors": capture.authors or [],
        "published_at": utc_iso(capture.published_at),
        "modified_at": utc_iso(capture.modified_at),
        "site_name": capture.site_name,
        "language": capture.language,
        "description": capture.description,
        "image": meta.get("image"),
        "jsonld": meta.get("jsonld", []),
        "opengraph": meta.get("opengraph", {}),
        "twitter_card": meta.get("twitter_card", {}),
        "links": [
            {"url": link.url, "kind": link.kind, "capture_id": link.target_id} for link in links
        ],
        "parent_id": capture.parent_id,
        "via": capture.via,
        "change": capture.change,
        "post": capture.post,
        "same_as": capture.same_as,
    }


def children(session: Session, capture_ids: Sequence[int]) -> list[models.Capture]:
    if not capture_ids:
        return []
    return list(
        session.scalars(
            sa.select(models.Capture)
            .where(models.Capture.parent_id.in_(capture_ids))
            .order_by(models.Capture.id)
        )
    )
