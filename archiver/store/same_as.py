"""Unchanged re-captures stored as references (`same_as`) to the capture holding their content.

Writing leaves out what equals the referenced capture's; `archiver.store.queries` puts it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.store import models
from archiver.store.db import chunks
from archiver.store.records import CONTENT_COLUMNS, NewCapture

_C = models.Capture

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
    *CONTENT_COLUMNS,
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


def refer_unchanged(
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
    for chunk in chunks(holder_ids):
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


def compact_exchanges(
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
