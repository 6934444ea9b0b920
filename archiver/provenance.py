"""Where did this passage come from: every archived document that contains it, origin first.

Texts are normalised (NFKC, casefold, apostrophes dropped, punctuation and dashes as spaces) and
cut into overlapping five-word shingles. Each capture stores a winnowed sample of its shingle
hashes in `shingles` (about one in three, with the guarantee that any shared run of ten or more
words shares a stored hash), so a passage finds its candidates through the index alone; the
candidates' texts are then compared shingle by shingle to measure coverage. Passages too short
for that guarantee find candidates through full-text search instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError
from archiver.fingerprint import (
    GUARANTEED_WORDS,
    fingerprints,
    shingle_hashes,
    shingles,
    winnow,
    words,
)
from archiver.model import utc_iso
from archiver.search import matching_ids
from archiver.store import models
from archiver.store.db import chunks

#: Coverage at which a document is taken to reproduce the passage (copy) rather than quote it.
COPY_COVERAGE = 0.8
#: Below this share of the passage a document is not reported at all (paraphrase, coincidence).
MIN_COVERAGE = 0.2
#: Captures whose texts are compared; the index ranks them by shared hashes first.
MAX_CANDIDATES = 400
_MAX_LINKERS = 50
_LINK_DEPTH = 5
_IN_CHUNK = 900

_C = models.Capture.__table__.c
_S = models.Shingle.__table__.c
_L = models.Link.__table__.c
_E = models.Exchange.__table__.c


class ProvenanceError(ArchiverError):
    code = "provenance"


@dataclass(frozen=True)
class Linker:
    """A capture that linked to a match (or to a capture that did), with the hops between."""

    capture_id: int
    url: str
    #: Redirect hops (short links, trackers) between this capture's link and what it led to.
    via: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    """One document (all its captures that contain the passage) and how it relates to it."""

    capture_id: int
    capture_ids: tuple[int, ...]
    url: str
    title: str | None
    published_at: datetime | None
    first_captured_at: datetime
    coverage: float
    #: origin | copy | quote
    relation: str
    linked_from: tuple[Linker, ...]


@dataclass(frozen=True)
class ProvenanceResult:
    query: str
    matches: tuple[Match, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "matches": [
                {
                    "capture_id": m.capture_id,
                    "capture_ids": list(m.capture_ids),
                    "url": m.url,
                    "title": m.title,
                    "published_at": utc_iso(m.published_at),
                    "first_captured_at": utc_iso(m.first_captured_at),
                    "coverage": round(m.coverage, 4),
                    "relation": m.relation,
                    "linked_from": [
                        {"capture_id": k.capture_id, "url": k.url, "via": list(k.via)}
                        for k in m.linked_from
                    ],
                }
                for m in self.matches
            ],
        }


def index_capture(session: Session, capture: models.Capture) -> None:
    """Store the fingerprints of a flushed capture's text; called when the capture is saved."""
    index_captures(session, [capture])


def index_captures(
    session: Session,
    captures: Sequence[models.Capture],
    known: Sequence[frozenset[int] | None] | None = None,
) -> None:
    """Store the fingerprints of flushed captures' texts, in one delete and one insert.

    `known[i]`, when given, holds the fingerprints of `captures[i]`'s text already computed
    (by an extraction worker); the others are computed here.
    """
    if not captures:
        return
    session.execute(sa.delete(models.Shingle).where(_S.capture_id.in_([c.id for c in captures])))
    given = known if known is not None else [None] * len(captures)
    rows: list[tuple[int, int]] = []
    for capture, hashes in zip(captures, given, strict=True):
        text = capture.text
        if text:
            found = hashes if hashes is not None else fingerprints(text)
            rows += zip(found, itertools.repeat(capture.id, len(found)), strict=True)
    if rows:
        # Hundreds of rows per capture: the driver's executemany, without a dict per row. In
        # key order, consecutive inserts land on neighbouring index pages instead of random ones
        # (a third less CPU for SQLite's B-tree once the index outgrows its page cache).
        rows.sort()
        session.connection().exec_driver_sql(_INSERT_SHINGLES[_paramstyle(session)], rows)


_INSERT_SHINGLES = {
    "qmark": "INSERT INTO shingles (hash, capture_id) VALUES (?, ?)",
    "format": "INSERT INTO shingles (hash, capture_id) VALUES (%s, %s)",
}


def _paramstyle(session: Session) -> str:
    style = session.get_bind().dialect.paramstyle
    return "format" if style in ("format", "pyformat") else style


def reindex(session: Session, *, batch: int = 500) -> int:
    """Index every capture with text that has no fingerprints yet (archives older than 0002)."""
    done = 0
    last = 0
    while True:
        ids = (
            session.execute(
                sa.select(_C.id)
                .where(_C.id > last, _C.text.is_not(None))
                .where(~sa.exists().where(_S.capture_id == _C.id))
                .order_by(_C.id)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not ids:
            return done
        for capture in session.scalars(sa.select(models.Capture).where(_C.id.in_(ids))):
            index_capture(session, capture)
            done += 1
        last = ids[-1]


def _indexed_candidates(session: Session, hashes: set[int], min_coverage: float) -> list[int]:
    counts: dict[int, int] = {}
    for chunk in chunks(sorted(hashes), _IN_CHUNK):
        rows = session.execute(
            sa.select(_S.capture_id, sa.func.count())
            .where(_S.hash.in_(chunk))
            .group_by(_S.capture_id)
        )
        for capture_id, count in rows:
            counts[capture_id] = counts.get(capture_id, 0) + count
    # The share of sampled hashes estimates coverage; keep a wide margin below the threshold.
    floor = max(1, int(len(hashes) * min_coverage / 3))
    ranked = sorted((c for c in counts.items() if c[1] >= floor), key=lambda c: (-c[1], c[0]))
    return [capture_id for capture_id, _ in ranked[:MAX_CANDIDATES]]


def _coverage(query: set[tuple[str, ...]], text: str | None) -> float:
    if not text or not query:
        return 0.0
    tokens = words(text)
    size = len(next(iter(query)))
    starts = {s[0] for s in query}
    found = {
        shingle
        for i, token in enumerate(tokens)
        if token in starts and (shingle := tuple(tokens[i : i + size])) in query
    }
    return len(found) / len(query)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def provenance(
    session: Session,
    passage: str,
    *,
    min_coverage: float = MIN_COVERAGE,
    query: str | None = None,
) -> ProvenanceResult:
    """Every document containing `passage` verbatim or nearly, the likely origin first."""
    tokens = words(passage)
    if not tokens:
        raise ProvenanceError(
            "The passage has no words to look for; give a sentence or more of text."
        )
    wanted = set(shingles(tokens))
    if len(tokens) >= GUARANTEED_WORDS:
        candidates = _indexed_candidates(session, winnow(shingle_hashes(tokens)), min_coverage)
    else:
        candidates = matching_ids(session, passage, limit=MAX_CANDIDATES)
    matches = _measure(session, candidates, wanted, min_coverage)
    ranked = _rank(matches)
    return ProvenanceResult(
        query=passage if query is None else query,
        matches=tuple(_with_linkers(session, m) for m in ranked),
    )


def provenance_of_url(
    session: Session, url: str, *, min_coverage: float = MIN_COVERAGE
) -> ProvenanceResult:
    """Provenance of the text of the latest successful capture of `url`."""
    text = session.execute(
        sa.select(_C.text)
        .where(sa.or_(_C.url == url, _C.final_url == url, _C.canonical_url == url))
        .where(_C.status == "ok", _C.text.is_not(None))
        .order_by(_C.captured_at.desc(), _C.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if not text:
        raise ProvenanceError(
            f"No successful capture with text of {url} in the archive; archive it first "
            "or pass the passage itself."
        )
    return provenance(session, text, min_coverage=min_coverage, query=url)


@dataclass
class _Group:
    key: str
    capture_ids: list[int]
    url: str
    title: str | None
    published_at: datetime | None
    first_captured_at: datetime
    coverage: float


def _measure(
    session: Session, candidates: list[int], wanted: set[tuple[str, ...]], min_coverage: float
) -> list[_Group]:
    if not candidates:
        return []
    meta: list[Any] = []
    for chunk in chunks(candidates, _IN_CHUNK):
        meta.extend(
            session.execute(
                sa.select(
                    _C.id,
                    _C.url,
                    _C.final_url,
                    _C.canonical_url,
                    _C.title,
                    _C.published_at,
                    _C.captured_at,
                    _C.content_hash,
                ).where(_C.id.in_(chunk), _C.text.is_not(None))
            ).all()
        )
    # Captures with the same content hash have the same text: compare it once.
    representative: dict[str, int] = {}
    for row in meta:
        representative.setdefault(row.content_hash or f"id:{row.id}", row.id)
    coverage_of: dict[int, float] = {}
    for chunk in chunks(list(representative.values()), _IN_CHUNK):
        for capture_id, text in session.execute(sa.select(_C.id, _C.text).where(_C.id.in_(chunk))):
            coverage_of[capture_id] = _coverage(wanted, text)
    groups: dict[str, _Group] = {}
    for row in sorted(meta, key=lambda r: (_aware(r.captured_at), r.id)):
        coverage = coverage_of[representative[row.content_hash or f"id:{row.id}"]]
        if coverage < min_coverage:
            continue
        key = row.canonical_url or row.final_url or row.url
        group = groups.get(key)
        if group is None:
            groups[key] = _Group(
                key=key,
                capture_ids=[row.id],
                url=key,
                title=row.title,
                published_at=_aware(row.published_at),
                first_captured_at=_aware(row.captured_at) or datetime.min.replace(tzinfo=UTC),
                coverage=coverage,
            )
            continue
        group.capture_ids.append(row.id)
        group.coverage = max(group.coverage, coverage)
        group.title = group.title or row.title
        published = _aware(row.published_at)
        if published is not None and (group.published_at is None or published < group.published_at):
            group.published_at = published
    # Unchanged re-captures hold no text of their own: they belong with the capture they repeat.
    group_of = {capture_id: g for g in groups.values() for capture_id in g.capture_ids}
    for chunk in chunks(sorted(group_of), _IN_CHUNK):
        for capture_id, same_as in session.execute(
            sa.select(_C.id, _C.same_as).where(_C.same_as.in_(chunk))
        ):
            group_of[same_as].capture_ids.append(capture_id)
    return list(groups.values())


def _date(group: _Group) -> tuple[datetime, datetime, int]:
    return (
        group.published_at or group.first_captured_at,
        group.first_captured_at,
        min(group.capture_ids),
    )


def _rank(groups: list[_Group]) -> list[tuple[_Group, str]]:
    if not groups:
        return []
    full = [g for g in groups if g.coverage >= COPY_COVERAGE]
    if not full:
        best = max(g.coverage for g in groups)
        full = [g for g in groups if g.coverage >= best - 1e-9]
    origin = min(full, key=_date)
    rest = sorted(
        (g for g in groups if g is not origin),
        key=lambda g: (-g.coverage, _date(g)),
    )
    return [(origin, "origin")] + [
        (g, "copy" if g.coverage >= COPY_COVERAGE else "quote") for g in rest
    ]


def _with_linkers(session: Session, ranked: tuple[_Group, str]) -> Match:
    group, relation = ranked
    ids = sorted(group.capture_ids)
    return Match(
        capture_id=ids[0],
        capture_ids=tuple(ids),
        url=group.url,
        title=group.title,
        published_at=group.published_at,
        first_captured_at=group.first_captured_at,
        coverage=group.coverage,
        relation=relation,
        linked_from=_linkers(session, ids),
    )


def _linkers(session: Session, targets: list[int]) -> tuple[Linker, ...]:
    """Captures that led to `targets` (links followed, parent captures), nearest first."""
    seen = set(targets)
    found: list[tuple[int, int]] = []  # (linker id, the capture it led to)
    frontier = targets
    for _ in range(_LINK_DEPTH):
        if not frontier or len(found) >= _MAX_LINKERS:
            break
        pairs = session.execute(
            sa.union(
                sa.select(_L.capture_id.label("source"), _L.target_id.label("target")).where(
                    _L.target_id.in_(frontier)
                ),
                sa.select(_C.parent_id.label("source"), _C.id.label("target")).where(
                    _C.id.in_(frontier), _C.parent_id.is_not(None)
                ),
            )
        ).all()
        step: list[tuple[int, int]] = []
        for source, target in sorted(pairs):
            if source not in seen:
                seen.add(source)
                step.append((source, target))
        found.extend(step)
        frontier = [source for source, _ in step]
    found = found[:_MAX_LINKERS]
    if not found:
        return ()
    linker_ids = [source for source, _ in found]
    led_to = sorted({target for _, target in found})
    urls = dict(
        session.execute(
            sa.select(_C.id, sa.func.coalesce(_C.canonical_url, _C.final_url, _C.url)).where(
                _C.id.in_(linker_ids)
            )
        ).all()
    )
    hops: dict[int, list[str]] = {}
    for capture_id, url in session.execute(
        sa.select(_E.capture_id, _E.url)
        .where(_E.capture_id.in_(led_to), _E.role == "redirect")
        .order_by(_E.capture_id, _E.seq, _E.id)
    ):
        hops.setdefault(capture_id, []).append(url)
    return tuple(
        Linker(capture_id=source, url=urls[source], via=tuple(hops.get(target, ())))
        for source, target in found
    )
