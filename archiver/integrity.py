"""Tamper evidence: every capture is sealed with a hash of what it recorded, chained to the last.

`meta_hash` is the SHA-256 of a canonical JSON of the capture's archival fields, its exchanges and
its links; `chain_hash` = SHA-256(previous chain_hash + meta_hash), previous being the capture
with the next lower id. Editing a row, deleting one, or editing a stored body behind archiver's
back is found by `verify`. Someone who rewrites the whole chain from a point on is only caught
against a chain head kept elsewhere, which is why `VerifyReport.head` is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.model import utc_iso
from archiver.store import models
from archiver.store.bodies import CorruptBody, decompress

#: Arbitrary constant key of the PostgreSQL advisory lock that serialises chain appends.
CHAIN_LOCK_KEY = 0x61726368_69766572 & 0x7FFFFFFFFFFFFFFF

_CAPTURE_FIELDS = (
    "id",
    "url",
    "final_url",
    "canonical_url",
    "platform",
    "captured_at",
    "status",
    "http_status",
    "error",
    "sha256",
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "site_name",
    "language",
    "description",
    "via",
    "parent_id",
    "content_hash",
)
_C = models.Capture.__table__.c
_E = models.Exchange.__table__.c
_L = models.Link.__table__.c
_B = models.Body.__table__.c

_BATCH = 500


@dataclass(frozen=True)
class Problem:
    """One integrity failure: what kind, where, and what was expected against what was found."""

    #: body | meta | chain | unsealed | reference
    kind: str
    capture_id: int | None
    sha256: str | None
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    bodies_checked: int
    captures_checked: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    #: chain_hash of the last capture: record it elsewhere to detect a rewritten chain later.
    head: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bodies_checked": self.bodies_checked,
            "captures_checked": self.captures_checked,
            "head": self.head,
            "problems": [
                {
                    "kind": p.kind,
                    "capture_id": p.capture_id,
                    "sha256": p.sha256,
                    "detail": p.detail,
                }
                for p in self.problems
            ],
        }


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    return value


def meta_document(
    row: Mapping[Any, Any],
    exchanges: Sequence[Mapping[Any, Any]],
    links: Sequence[Mapping[Any, Any]],
) -> bytes:
    """The canonical bytes a capture's meta_hash is taken over (sorted keys, UTC timestamps)."""
    document = {name: _value(row[name]) for name in _CAPTURE_FIELDS}
    # Only re-captures carry the key, so the seals of captures made before it stay valid.
    if row["same_as"] is not None:
        document["same_as"] = row["same_as"]
    document["exchanges"] = [
        [e["url"], e["status"], e["sha256"], e["redirect_location"]] for e in exchanges
    ]
    document["links"] = [[link["url"], link["kind"]] for link in links]
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain(previous: str | None, meta_hash: str) -> str:
    return hashlib.sha256(((previous or "") + meta_hash).encode("ascii")).hexdigest()


def _capture_columns() -> list[sa.ColumnElement[Any]]:
    return [_C[name] for name in (*_CAPTURE_FIELDS, "same_as")]


def _exchange_query(ids: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(_E.capture_id, _E.url, _E.status, _E.sha256, _E.redirect_location)
        .where(ids)
        .order_by(_E.capture_id, _E.seq, _E.id)
    )


def _link_query(ids: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(_L.capture_id, _L.url, _L.kind)
        .where(ids)
        .order_by(_L.capture_id, _L.position, _L.id)
    )


def _grouped(rows: Sequence[sa.Row[Any]]) -> dict[int, list[Mapping[Any, Any]]]:
    grouped: dict[int, list[Mapping[Any, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.capture_id, []).append(row._mapping)
    return grouped


def lock_chain(session: Session) -> None:
    """Serialise chain appends until this transaction ends (PostgreSQL; SQLite needs nothing).

    Call it before inserting the capture row, so ids are handed out in the order captures are
    sealed and a lower id never commits after a higher one has chained past it.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))


def seal(session: Session, capture: models.Capture) -> None:
    """Set meta_hash and chain_hash of a flushed capture, inside the caller's transaction."""
    seal_all(session, [capture])


def seal_all(session: Session, captures: Sequence[models.Capture]) -> None:
    """Seal flushed captures written in this transaction, in id order, with four queries in all.

    The chain lock (taken before the captures were inserted) keeps other writers' captures from
    falling between these ids, so each one chains onto the one before it.
    """
    if not captures:
        return
    lock_chain(session)
    session.flush()
    by_id = {capture.id: capture for capture in captures}
    ids = sorted(by_id)
    rows = {
        row.id: row._mapping
        for row in session.execute(sa.select(*_capture_columns()).where(_C.id.in_(ids)))
    }
    exchanges = _grouped(session.execute(_exchange_query(_E.capture_id.in_(ids))).all())
    links = _grouped(session.execute(_link_query(_L.capture_id.in_(ids))).all())
    previous = session.execute(
        sa.select(_C.chain_hash).where(_C.id < ids[0]).order_by(_C.id.desc()).limit(1)
    ).scalar_one_or_none()
    for capture_id in ids:
        meta_hash = hashlib.sha256(
            meta_document(
                rows[capture_id], exchanges.get(capture_id, []), links.get(capture_id, [])
            )
        ).hexdigest()
        previous = chain(previous, meta_hash)
        by_id[capture_id].meta_hash = meta_hash
        by_id[capture_id].chain_hash = previous


def _capture_batches(session: Session) -> Iterator[list[sa.Row[Any]]]:
    # Keyset pages keep memory flat however many captures there are.
    last = None
    columns = [*_capture_columns(), _C.meta_hash, _C.chain_hash]
    while True:
        query = sa.select(*columns).order_by(_C.id).limit(_BATCH)
        if last is not None:
            query = query.where(_C.id > last)
        rows = session.execute(query).all()
        if not rows:
            return
        yield list(rows)
        last = rows[-1].id


def _check_bodies(session: Session) -> Iterator[Problem | None]:
    last: str | None = None
    while True:
        query = sa.select(_B.sha256, _B.compression, _B.data).order_by(_B.sha256).limit(50)
        if last is not None:
            query = query.where(_B.sha256 > last)
        rows = session.execute(query).all()
        if not rows:
            return
        for sha, compression, data in rows:
            yield _check_body(sha, compression, data)
        last = rows[-1].sha256


def _check_body(sha: str, compression: str, data: bytes) -> Problem | None:
    try:
        raw = decompress(compression, data)
    except CorruptBody as exc:
        return Problem("body", None, sha, str(exc))
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha:
        return Problem("body", None, sha, f"body bytes hash to {actual}")
    return None


def _body_users(session: Session, sha: str) -> list[int]:
    ids = session.execute(
        sa.union(
            sa.select(_C.id.label("id")).where(_C.sha256 == sha),
            sa.select(_E.capture_id.label("id")).where(_E.sha256 == sha),
        )
    ).scalars()
    users = set(ids)
    if users:
        # Re-captures whose exchanges inherit the body from the capture they are the same as.
        users.update(
            session.execute(sa.select(_C.id).where(_C.same_as.in_(sorted(users)))).scalars()
        )
    return sorted(users)


def verify(session: Session) -> VerifyReport:
    """Re-hash every body, recompute every meta_hash and walk the chain; report each mismatch."""
    problems: list[Problem] = []
    bodies = 0
    for problem in _check_bodies(session):
        bodies += 1
        if problem is None:
            continue
        assert problem.sha256 is not None
        users = _body_users(session, problem.sha256)
        if not users:
            problems.append(problem)
        for capture_id in users:
            problems.append(Problem("body", capture_id, problem.sha256, problem.detail))

    captures = 0
    previous: str | None = None
    for rows in _capture_batches(session):
        lo, hi = rows[0].id, rows[-1].id
        exchanges = _grouped(session.execute(_exchange_query(_E.capture_id.between(lo, hi))).all())
        links = _grouped(session.execute(_link_query(_L.capture_id.between(lo, hi))).all())
        problems.extend(_check_references(session, rows))
        for row in rows:
            captures += 1
            problems.extend(_check_capture(row, exchanges, links, previous))
            previous = row.chain_hash
    return VerifyReport(bodies, captures, tuple(problems), previous)


def _check_references(session: Session, rows: Sequence[sa.Row[Any]]) -> list[Problem]:
    """A re-capture must refer to an earlier capture of its URL that holds its own content."""
    referring = [row for row in rows if row.same_as is not None]
    if not referring:
        return []
    targets = {
        target.id: target
        for target in session.execute(
            sa.select(_C.id, _C.url, _C.same_as).where(
                _C.id.in_(sorted({row.same_as for row in referring}))
            )
        )
    }
    found = []
    for row in referring:
        target = targets.get(row.same_as)
        if target is None:
            detail = f"same_as {row.same_as} does not exist"
        elif target.same_as is not None or target.id >= row.id or target.url != row.url:
            detail = f"same_as {row.same_as} is not an earlier capture of {row.url} with content"
        else:
            continue
        found.append(Problem("reference", row.id, None, detail))
    return found


def _check_capture(
    row: sa.Row[Any],
    exchanges: Mapping[int, list[Mapping[Any, Any]]],
    links: Mapping[int, list[Mapping[Any, Any]]],
    previous: str | None,
) -> list[Problem]:
    if row.meta_hash is None or row.chain_hash is None:
        return [Problem("unsealed", row.id, None, "capture has no meta_hash/chain_hash")]
    found: list[Problem] = []
    document = meta_document(row._mapping, exchanges.get(row.id, []), links.get(row.id, []))
    actual = hashlib.sha256(document).hexdigest()
    if actual != row.meta_hash:
        found.append(
            Problem(
                "meta",
                row.id,
                None,
                f"stored meta_hash {row.meta_hash} but the row now hashes to {actual}",
            )
        )
    expected = chain(previous, row.meta_hash)
    if expected != row.chain_hash:
        found.append(
            Problem(
                "chain",
                row.id,
                None,
                f"chain_hash {row.chain_hash} does not follow the previous capture "
                f"(expected {expected}); a capture was removed or the chain rewritten",
            )
        )
    return found
