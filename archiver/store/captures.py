"""Saving and loading captures: bodies once per SHA-256, one capture with its exchanges and links."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
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
    #: (index in rows, id of the capture holding the content) of unchanged re-captures.
    referring: list[tuple[int, int]] = []
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
        change = _classify(None if before is None else before[:2], status, digest or "")
        if change == "unchanged" and status == Status.OK and before and before[2]:
            referring.append((len(rows), before[2]))
        if status != Status.FAILED:
            # A capture earlier in this batch has no id yet to refer to.
            previous[record.url] = (status.value, digest, None)
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
                change=change,
                meta_hash=None,
                chain_hash=None,
                same_as=None,
            )
            | fields
        )
    shared_links, bases = _refer(session, records, rows, referring)
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
    _compact_exchanges(exchanges, ids, bases)
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
_KNOWN_BODIES = sa.select(models.Body.sha256).where(
    models.Body.sha256.in_(sa.bindparam("digests", expanding=True))
)


def _latest_states(
    session: Session, urls: set[str]
) -> dict[str, tuple[str, str | None, int | None]]:
    """(status, content_hash, id of the capture holding its content) of each URL's latest
    non-failed capture."""
    found: dict[str, tuple[str, str | None, int | None]] = {}
    connection = session.connection()
    for chunk in _chunks(sorted(urls)):
        for url, status, digest, holder in connection.execute(_LATEST, {"urls": list(chunk)}):
            found[url] = (status, digest, holder)
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


#: Columns an unchanged re-capture (same_as set) leaves NULL when they equal the referenced
#: capture's; readers take them from there. A NULL in them can only mean "the same", so a
#: re-capture that lacks a value the referenced capture has is stored in full.
INHERITED = (
    "final_url",
    "canonical_url",
    "http_status",
    "sha256",
    "content_type",
    "via",
    *_CONTENT_COLUMNS,
    "post",
    "content_hash",
)
#: The same for the exchanges of a re-capture, against the exchange at the same seq of the
#: referenced capture; an exchange whose request_headers are a delta (a dict) inherits them.
EXCHANGE_INHERITED = ("reason", "http_version", "sha256", "redirect_location", "redirect_kind")
_EXCHANGE_BASE = (
    "capture_id",
    "seq",
    "request_headers",
    "response_headers",
    *EXCHANGE_INHERITED,
)


def _stored_form(value: Any, dialect: str) -> Any:
    """`value` as the database gives it back, so a new value compares with a stored one."""
    if isinstance(value, datetime):
        if dialect == "sqlite":
            # SQLite keeps the wall-clock time and drops the offset.
            return value.replace(tzinfo=None).isoformat()
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _refer(
    session: Session,
    records: Sequence[NewCapture],
    rows: list[dict[str, Any]],
    referring: Sequence[tuple[int, int]],
) -> tuple[set[int], dict[int, dict[int, Mapping[str, Any]]]]:
    """Turn the rows of unchanged re-captures into references to the capture holding their
    content: set same_as and clear every inherited column equal to that capture's.

    Returns the indexes of rows whose links are the referenced capture's (not written again)
    and, by row index, the referenced capture's exchanges by seq, to compact against.
    """
    if not referring:
        return set(), {}
    connection = session.connection()
    dialect = connection.dialect.name
    holder_ids = sorted({holder for _, holder in referring})
    holders: dict[int, Mapping[str, Any]] = {}
    holder_links: dict[int, list[tuple[str, str]]] = {}
    holder_exchanges: dict[int, dict[int, Mapping[str, Any]]] = {}
    columns = [_C.id, *(getattr(_C, name) for name in INHERITED)]
    _E, _L = models.Exchange.__table__.c, models.Link.__table__.c
    for chunk in _chunks(holder_ids):  # type: ignore[arg-type]
        for found in connection.execute(sa.select(*columns).where(_C.id.in_(chunk))):
            holders[found.id] = dict(found._mapping)
        for link in connection.execute(
            sa.select(_L.capture_id, _L.url, _L.kind)
            .where(_L.capture_id.in_(chunk))
            .order_by(_L.capture_id, _L.position, _L.id)
        ):
            holder_links.setdefault(link.capture_id, []).append((link.url, link.kind))
        for exchange in connection.execute(
            sa.select(*(_E[name] for name in _EXCHANGE_BASE)).where(_E.capture_id.in_(chunk))
        ):
            holder_exchanges.setdefault(exchange.capture_id, {})[exchange.seq] = dict(
                exchange._mapping
            )
    shared_links: set[int] = set()
    bases: dict[int, dict[int, Mapping[str, Any]]] = {}
    for index, holder_id in referring:
        values, holder = rows[index], holders.get(holder_id)
        if holder is None:
            continue
        own_links = list(records[index].links)
        base_links = holder_links.get(holder_id, [])
        if (own_links or not base_links) and own_links != base_links:
            links_shared = False
        elif own_links == base_links:
            links_shared = True
        else:
            continue  # no links now where there were some: only a full row can say so
        same = []
        for name in INHERITED:
            if holder[name] is None:
                continue
            if values[name] is None:
                break
            if _stored_form(values[name], dialect) == _stored_form(holder[name], dialect):
                same.append(name)
        else:
            values.update(dict.fromkeys(same), same_as=holder_id)
            if links_shared:
                shared_links.add(index)
            bases[index] = holder_exchanges.get(holder_id, {})
    return shared_links, bases


def _compact_exchanges(
    exchanges: list[dict[str, Any]],
    ids: Sequence[int],
    bases: Mapping[int, Mapping[int, Mapping[str, Any]]],
) -> None:
    """Store the exchanges of re-captures as deltas against the referenced capture's."""
    if not bases:
        return
    by_id = {ids[index]: base for index, base in bases.items()}
    for values in exchanges:
        exchange_base = by_id.get(values["capture_id"], {}).get(values["seq"])
        if exchange_base is None:
            continue
        own = [n for n in EXCHANGE_INHERITED if values[n] is not None]
        if any(exchange_base[n] is not None and values[n] is None for n in EXCHANGE_INHERITED):
            continue
        for name in own:
            if values[name] == exchange_base[name]:
                values[name] = None
        values["request_headers"] = headers_delta(
            values["request_headers"], exchange_base["request_headers"]
        )
        if values["response_headers"] is not None and isinstance(
            exchange_base["response_headers"], list
        ):
            values["response_headers"] = headers_delta(
                values["response_headers"], exchange_base["response_headers"]
            )


def headers_delta(
    headers: Sequence[Sequence[str]], base: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """`headers` as the positions where they differ from `base`: {"n": count, "d": edits}.

    An edit is [position, value] when the name is the same (case too), else [position, name,
    value]; order, duplicates and case come back exactly (`apply_headers_delta`).
    """
    edits: list[list[Any]] = []
    for position, (name, value) in enumerate(headers):
        if position < len(base):
            base_name, base_value = base[position]
            if name == base_name:
                if value != base_value:
                    edits.append([position, value])
                continue
        edits.append([position, name, value])
    return {"n": len(headers), "d": edits}


def apply_headers_delta(delta: Mapping[str, Any], base: Sequence[Sequence[str]]) -> list[list[str]]:
    edits = {int(edit[0]): edit[1:] for edit in delta["d"]}
    headers: list[list[str]] = []
    for position in range(int(delta["n"])):
        edit = edits.get(position)
        if edit is None:
            headers.append([str(base[position][0]), str(base[position][1])])
        elif len(edit) == 1:
            headers.append([str(base[position][0]), str(edit[0])])
        else:
            headers.append([str(edit[0]), str(edit[1])])
    return headers


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
    for chunk in _chunks(wanted):  # type: ignore[arg-type]
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
