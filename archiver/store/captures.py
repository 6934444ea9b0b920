"""Saving and loading captures: bodies once per SHA-256, one capture with its exchanges and links."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from archiver.model import Exchange, Page, Platform, Post, Status, utc_iso
from archiver.store import models

#: Exchange roles: a redirect hop, the response that is the evidence, a fallback route tried.
ROLE_REDIRECT = "redirect"
ROLE_RESPONSE = "response"
ROLE_ATTEMPT = "attempt"


@dataclass(frozen=True)
class NewCapture:
    """Everything one capture produced, ready to be written in one transaction."""

    url: str
    platform: Platform
    captured_at: datetime
    status: Status
    final_url: str | None = None
    canonical_url: str | None = None
    http_status: int | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    body: bytes | None = None
    content_type: str | None = None
    via: str | None = None
    parent_id: int | None = None
    job_id: int | None = None
    #: (role, exchange) in the order they happened.
    exchanges: tuple[tuple[str, Exchange], ...] = ()
    page: Page | None = None
    post: Post | None = None
    #: (url, kind) outlinks in order.
    links: tuple[tuple[str, str], ...] = ()
    extra_meta: Mapping[str, Any] = field(default_factory=dict)
    #: Passage fingerprints of the text, when computed where it was extracted.
    fingerprints: frozenset[int] | None = None


#: zlib level for stored bodies: level 6 takes twice the CPU of 3 for about a tenth less space,
#: and compression sits on the capture path of every new body.
BODY_COMPRESSION_LEVEL = 3


def put_body(session: Session, data: bytes) -> str:
    """Store `data` once under its SHA-256 (concurrent writers of the same body are fine)."""
    digest = hashlib.sha256(data).hexdigest()
    # Only the key is read: loading the row would decompress nothing but still copy the blob.
    known = session.execute(
        sa.select(models.Body.sha256).where(models.Body.sha256 == digest)
    ).first()
    if known is not None:
        return digest
    values = {
        "sha256": digest,
        "size": len(data),
        "compression": "zlib",
        "data": zlib.compress(data, BODY_COMPRESSION_LEVEL),
        "created_at": datetime.now().astimezone(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(models.Body).values(**values).on_conflict_do_nothing())
    return digest


def get_body(session: Session, sha256: str) -> bytes:
    row = session.get(models.Body, sha256)
    if row is None:
        raise KeyError(sha256)
    return decompress(row.compression, row.data)


def decompress(compression: str, data: bytes) -> bytes:
    if compression == "zlib":
        return zlib.decompress(data)
    if compression == "none":
        return data
    raise ValueError(f"unknown body compression {compression!r}")


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def post_dict(post: Post) -> dict[str, Any]:
    """The post record as stored and printed; embedded posts become their own captures."""
    data = asdict(post)
    data.pop("embedded", None)
    data["platform"] = post.platform.value
    return dict(_json_safe(data))


def content_hash(fields: Mapping[str, Any]) -> str:
    """Hash of what a reader sees (text and key metadata), to tell edits from re-fetches."""
    keys = ("title", "text", "authors", "published_at", "modified_at")
    canonical = json.dumps({k: _json_safe(fields.get(k)) for k in keys}, sort_keys=True)
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


def _fields(record: NewCapture) -> dict[str, Any]:
    page, post = record.page, record.post
    fields: dict[str, Any] = {}
    meta: dict[str, Any] = dict(record.extra_meta)
    if page is not None:
        fields.update(
            title=page.title,
            text=page.text,
            authors=list(page.authors) or None,
            published_at=page.published_at,
            modified_at=page.modified_at,
            site_name=page.site_name,
            language=page.language,
            description=page.description,
        )
        meta.update(
            jsonld=list(page.jsonld),
            opengraph=dict(page.opengraph),
            twitter_card=dict(page.twitter_card),
            image=page.image,
            embedded_posts=list(page.embedded_posts),
            media=[asdict(m) for m in page.media],
        )
    if post is not None:
        author = post.author
        who = author.name or author.handle
        if author.handle and author.name:
            who = f"{author.name} (@{author.handle.lstrip('@')})"
        fields.update(
            title=post.title or (f"{who} on {post.platform.value}" if who else None),
            text=post.text,
            authors=[author.name or author.handle] if (author.name or author.handle) else None,
            published_at=post.created_at,
            language=post.lang,
        )
        fields.setdefault("site_name", post.platform.value)
    # JSON-LD is parsed JSON already; walking it again cost more than the rest of the record.
    jsonld = meta.pop("jsonld", None)
    meta = _json_safe(meta)
    if jsonld is not None:
        meta["jsonld"] = jsonld
    fields["meta"] = meta or None
    return fields


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
    digests = _put_bodies(session, records)
    rows: list[dict[str, Any]] = []
    for record in records:
        fields = _fields(record)
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
        if status != Status.FAILED:
            previous[record.url] = (status.value, digest)
        rows.append(
            dict(
                # One executemany needs the same keys in every row, whatever the record held.
                **dict.fromkeys(_CONTENT_COLUMNS),
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
                change=_classify(before, status, digest or ""),
                meta_hash=None,
                chain_hash=None,
            )
            | fields
        )
    inserted = connection.execute(
        sa.insert(models.Capture).returning(models.Capture.id, sort_by_parameter_order=True),
        rows,
    )
    ids = [int(i) for i in inserted.scalars()]
    exchanges = [
        _exchange_values(capture_id, seq, role, exchange, digests)
        for capture_id, record in zip(ids, records, strict=True)
        for seq, (role, exchange) in enumerate(record.exchanges)
    ]
    if exchanges:
        connection.execute(sa.insert(models.Exchange), exchanges)
    links = [
        {"capture_id": capture_id, "position": position, "url": url, "kind": kind}
        for capture_id, record in zip(ids, records, strict=True)
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
#: Columns `_fields` may fill; a record that has none of them stores NULLs.
_CONTENT_COLUMNS = (
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "site_name",
    "language",
    "description",
    "meta",
)
#: Built once: constructing a statement costs more than SQLite takes to run it.
_LATEST = sa.select(_C.url, _C.status, _C.content_hash).where(
    _C.id.in_(
        sa.select(sa.func.max(_C.id))
        .where(_C.url.in_(sa.bindparam("urls", expanding=True)), _C.status != Status.FAILED)
        .group_by(_C.url)
    )
)
_KNOWN_BODIES = sa.select(models.Body.sha256).where(
    models.Body.sha256.in_(sa.bindparam("digests", expanding=True))
)


def _latest_states(session: Session, urls: set[str]) -> dict[str, tuple[str, str | None]]:
    """(status, content_hash) of each URL's latest non-failed capture."""
    found: dict[str, tuple[str, str | None]] = {}
    connection = session.connection()
    for chunk in _chunks(sorted(urls)):
        for url, status, digest in connection.execute(_LATEST, {"urls": list(chunk)}):
            found[url] = (status, digest)
    return found


def _put_bodies(session: Session, records: Sequence[NewCapture]) -> dict[int, str]:
    """Store every body of `records` once; maps id(bytes) to its SHA-256 for the rows."""
    digests: dict[int, str] = {}
    data: dict[str, bytes] = {}
    for record in records:
        bodies = [] if record.body is None else [record.body]
        bodies += [e.body for _, e in record.exchanges if e.status is not None]
        for body in bodies:
            if id(body) not in digests:
                digest = hashlib.sha256(body).hexdigest()
                digests[id(body)] = digest
                data[digest] = body
    known: set[str] = set()
    for chunk in _chunks(sorted(data)):
        # Only the keys are read: loading rows would copy every compressed blob.
        known.update(
            session.connection().execute(_KNOWN_BODIES, {"digests": list(chunk)}).scalars()
        )
    now = datetime.now().astimezone()
    new = [
        {
            "sha256": digest,
            "size": len(body),
            "compression": "zlib",
            "data": zlib.compress(body, BODY_COMPRESSION_LEVEL),
            "created_at": now,
        }
        for digest, body in data.items()
        if digest not in known
    ]
    if new:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.connection().execute(insert(models.Body).on_conflict_do_nothing(), new)
    return digests


def _chunks(values: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    # Bound the number of bind parameters per statement (SQLite allows 32,766 at most).
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _exchange_values(
    capture_id: int, seq: int, role: str, exchange: Exchange, digests: Mapping[int, str]
) -> dict[str, Any]:
    redirect = exchange.redirect
    return {
        "capture_id": capture_id,
        "seq": seq,
        "role": role,
        "method": exchange.method,
        "url": exchange.url,
        "request_headers": [list(h) for h in exchange.request_headers],
        "started_at": exchange.started_at,
        "status": exchange.status,
        "reason": exchange.reason or None,
        "http_version": exchange.http_version,
        "response_headers": [list(h) for h in exchange.response_headers],
        "sha256": digests[id(exchange.body)] if exchange.status is not None else None,
        "redirect_location": redirect.location if redirect else None,
        "redirect_kind": redirect.kind.value if redirect else None,
        "error": exchange.error,
        "truncated": exchange.truncated,
    }


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
    stmt = (
        sa.select(C)
        .where(C.id.in_(sa.select(ids.c[0])))
        .order_by(C.captured_at.desc(), C.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def capture_dict(session: Session, capture: models.Capture) -> dict[str, Any]:
    """The JSON shape of a capture that `archive --json` and `show --json` print."""
    exchanges = session.scalars(
        sa.select(models.Exchange)
        .where(models.Exchange.capture_id == capture.id)
        .order_by(models.Exchange.seq)
    ).all()
    links = session.scalars(
        sa.select(models.Link)
        .where(models.Link.capture_id == capture.id)
        .order_by(models.Link.position)
    ).all()
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
