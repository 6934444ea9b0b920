"""Saving captures: one transaction, change classification, re-captures as references.

Also the public face of the capture store: what the other store modules offer callers is
re-exported here, so `from archiver.store.captures import ...` keeps working.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached

from archiver.model import Status
from archiver.store import models
from archiver.store.bodies import (
    BODY_COMPRESSION_LEVEL,
    decompress,
    get_body,
    put_bodies,
    put_body,
)
from archiver.store.db import chunks
from archiver.store.queries import (
    Outlink,
    capture_dict,
    capture_exchanges,
    capture_links,
    children,
    find_captures,
    header_pairs,
    resolve_capture,
    resolve_captures,
)
from archiver.store.records import (
    CONTENT_COLUMNS,
    ROLE_ATTEMPT,
    ROLE_REDIRECT,
    ROLE_RESPONSE,
    NewCapture,
    capture_fields,
    exchange_values,
    json_safe,
    post_dict,
)
from archiver.store.same_as import (
    EXCHANGE_INHERITED,
    INHERITED,
    apply_headers_delta,
    compact_exchanges,
    headers_delta,
    refer_unchanged,
)

__all__ = [
    "BODY_COMPRESSION_LEVEL",
    "EXCHANGE_INHERITED",
    "INHERITED",
    "ROLE_ATTEMPT",
    "ROLE_REDIRECT",
    "ROLE_RESPONSE",
    "NewCapture",
    "Outlink",
    "apply_headers_delta",
    "capture_dict",
    "capture_exchanges",
    "capture_links",
    "children",
    "content_hash",
    "decompress",
    "find_captures",
    "get_body",
    "header_pairs",
    "headers_delta",
    "link_target",
    "link_targets",
    "post_dict",
    "previous_capture",
    "put_body",
    "resolve_capture",
    "resolve_captures",
    "save_capture",
    "save_captures",
]


def content_hash(fields: Mapping[str, Any]) -> str:
    """Hash of what a reader sees (text and key metadata), to tell edits from re-fetches."""
    keys = ("title", "text", "authors", "published_at", "modified_at")
    canonical = json.dumps({k: json_safe(fields.get(k)) for k in keys}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _classify(previous: tuple[str, str | None] | None, status: str, digest: str) -> str:
    """`previous` is the (status, content_hash) of the URL's latest non-failed capture."""
    if status == Status.FAILED:
        return "failed"
    if previous is None:
        return "first" if status == Status.OK else "gone"
    before, before_digest = previous
    if status == Status.GONE:
        return "unchanged" if before == Status.GONE else "gone"
    if before == Status.GONE:
        return "back"
    if before == Status.FAILED:
        # A failure says nothing about the content: compare with the last good capture.
        return "first"
    return "unchanged" if before_digest == digest else "changed"


def previous_capture(
    session: Session, url: str, *, before_id: int | None = None
) -> models.Capture | None:
    """The latest non-failed capture of the same requested URL."""
    stmt = sa.select(models.Capture).where(
        models.Capture.url == url, models.Capture.status != Status.FAILED
    )
    if before_id is not None:
        stmt = stmt.where(models.Capture.id < before_id)
    return session.scalars(stmt.order_by(models.Capture.id.desc()).limit(1)).first()


def save_capture(session: Session, record: NewCapture) -> models.Capture:
    """Write the capture, its bodies, exchanges and links; the caller commits (one transaction)."""
    return save_captures(session, [record])[0]


def save_captures(session: Session, records: Sequence[NewCapture]) -> list[models.Capture]:
    """Write several captures with a fixed number of statements; the caller commits.

    Rows go in as Core inserts (the ORM unit of work cost more than the rest of the write); the
    returned Captures are attached to the session as if loaded, so changes to them are flushed.
    """
    if not records:
        return []
    connection = session.connection()
    previous = _latest_states(session, {r.url for r in records})
    digests = put_bodies(session, records)
    rows: list[dict[str, Any]] = []
    #: (index in rows, id of the capture holding the content) of unchanged re-captures.
    referring: list[tuple[int, int]] = []
    for record in records:
        fields = capture_fields(record)
        status = record.status
        error = record.error
        before = previous.get(record.url)
        if (
            status == Status.FAILED
            and record.http_status in (404, 410)
            and before is not None
            and before[0] in (Status.OK, Status.GONE)
        ):
            # It was there before: a 404/410 now means it was deleted, not that the link is bad.
            status, error = Status.GONE, None
        digest = content_hash(fields) if status == Status.OK else None
        change = _classify(None if before is None else before[:2], status, digest or "")
        if change == "unchanged" and status == Status.OK and before and before[2]:
            referring.append((len(rows), before[2]))
        if status != Status.FAILED:
            # A capture earlier in this batch has no id yet to refer to.
            previous[record.url] = (status.value, digest, None)
        rows.append(
            dict(
                # One executemany needs the same keys in every row, whatever the record held.
                **dict.fromkeys(CONTENT_COLUMNS),
                url=record.url,
                final_url=record.final_url,
                canonical_url=record.canonical_url,
                platform=record.platform.value,
                captured_at=record.captured_at,
                status=status.value,
                http_status=record.http_status,
                error=error,
                warnings=list(record.warnings) or None,
                sha256=digests[id(record.body)] if record.body is not None else None,
                content_type=record.content_type,
                via=record.via,
                parent_id=record.parent_id,
                job_id=record.job_id,
                post=post_dict(record.post) if record.post is not None else None,
                content_hash=digest,
                change=change,
                meta_hash=None,
                chain_hash=None,
                same_as=None,
            )
            | fields
        )
    shared_links, bases = refer_unchanged(session, records, rows, referring)
    inserted = connection.execute(
        sa.insert(models.Capture).returning(models.Capture.id, sort_by_parameter_order=True),
        rows,
    )
    ids = [int(i) for i in inserted.scalars()]
    exchanges = [
        exchange_values(capture_id, seq, role, exchange, digests)
        for capture_id, record in zip(ids, records, strict=True)
        for seq, (role, exchange) in enumerate(record.exchanges)
    ]
    compact_exchanges(exchanges, ids, bases)
    if exchanges:
        connection.execute(sa.insert(models.Exchange), exchanges)
    links = [
        {"capture_id": capture_id, "position": position, "url": url, "kind": kind}
        for index, (capture_id, record) in enumerate(zip(ids, records, strict=True))
        if index not in shared_links
        for position, (url, kind) in enumerate(record.links)
    ]
    if links:
        connection.execute(sa.insert(models.Link), links)
    captures = []
    for capture_id, values in zip(ids, rows, strict=True):
        row = models.Capture(id=capture_id, **values)
        make_transient_to_detached(row)
        session.add(row)
        captures.append(row)
    return captures


_C = models.Capture
_HOLDER = models.Capture.__table__.alias("holder")
#: Built once: constructing a statement costs more than SQLite takes to run it.
_LATEST = (
    sa.select(
        _C.url,
        _C.status,
        sa.func.coalesce(_C.content_hash, _HOLDER.c.content_hash),
        sa.func.coalesce(_C.same_as, _C.id),
    )
    .outerjoin(_HOLDER, _HOLDER.c.id == _C.same_as)
    .where(
        _C.id.in_(
            sa.select(sa.func.max(_C.id))
            .where(_C.url.in_(sa.bindparam("urls", expanding=True)), _C.status != Status.FAILED)
            .group_by(_C.url)
        )
    )
)


def _latest_states(
    session: Session, urls: set[str]
) -> dict[str, tuple[str, str | None, int | None]]:
    """(status, content_hash, id of the capture holding its content) of each URL's latest
    non-failed capture."""
    found: dict[str, tuple[str, str | None, int | None]] = {}
    connection = session.connection()
    for chunk in chunks(sorted(urls)):
        for url, status, digest, holder in connection.execute(_LATEST, {"urls": list(chunk)}):
            found[url] = (status, digest, holder)
    return found


def link_target(session: Session, parent_id: int, url: str, target_id: int) -> None:
    """Point the parent's outlink(s) to `url` at the capture they led to."""
    link_targets(session, [(parent_id, url, target_id)])


_LINK_TARGET = (
    sa.update(models.Link)
    .where(
        models.Link.capture_id == sa.bindparam("b_parent"),
        models.Link.url == sa.bindparam("b_url"),
    )
    .values(target_id=sa.bindparam("b_target"))
)


def link_targets(session: Session, targets: Sequence[tuple[int, str, int]]) -> None:
    """`link_target` for many (parent_id, url, target_id) in one statement."""
    if targets:
        session.connection().execute(
            _LINK_TARGET,
            [{"b_parent": p, "b_url": u, "b_target": t} for p, u, t in targets],
        )
