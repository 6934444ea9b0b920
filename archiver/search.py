"""Full-text search over captured titles and texts: SQLite FTS5 or PostgreSQL text search.

The indexes are created by migration 0002: `capture_fts`, kept by triggers, is an FTS5 table on
SQLite and a table of stored tsvectors under the GIN index `ix_search_captures_fts` on
PostgreSQL. User text is always quoted, so
FTS syntax characters in a query are searched for, never interpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError
from archiver.store import models


class Order(StrEnum):
    BEST = "best"
    NEWEST = "newest"


_SNIPPET_WORDS = 16
_C = models.Capture.__table__.c
_WORD = re.compile(r"\w+", re.UNICODE)


class SearchError(ArchiverError):
    code = "search"


@dataclass(frozen=True)
class SearchHit:
    capture_id: int
    url: str
    title: str | None
    captured_at: datetime
    published_at: datetime | None
    snippet: str


def _utc(value: datetime | None) -> datetime | None:
    # Naive means UTC, archiver's one time zone; SQLite stores timestamps as naive UTC text.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def fts5_query(query: str) -> str:
    """An FTS5 MATCH expression requiring every word of `query`, each as a quoted string."""
    return " ".join(f'"{word}"' for word in _WORD.findall(query))


def _filters(
    *,
    platform: str | None,
    site: str | None,
    author: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    dialect: str,
) -> tuple[list[str], dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if platform:
        clauses.append("c.platform = :platform")
        params["platform"] = platform
    if status:
        clauses.append("c.status = :status")
        params["status"] = status
    if since is not None:
        clauses.append("c.captured_at >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("c.captured_at < :until")
        params["until"] = until
    if site:
        # A domain (and its subdomains) of the page's final URL, or the site's declared name.
        host = site.lower().strip().removeprefix("www.")
        clauses.append(
            "(lower(coalesce(c.final_url, c.url)) LIKE :site_a"
            " OR lower(coalesce(c.final_url, c.url)) LIKE :site_b"
            " OR lower(coalesce(c.final_url, c.url)) LIKE :site_c"
            " OR lower(coalesce(c.final_url, c.url)) LIKE :site_d"
            " OR lower(c.site_name) = :site_name)"
        )
        params.update(
            site_a=f"%://{host}/%",
            site_b=f"%://%.{host}/%",
            site_c=f"%://{host}",
            site_d=f"%://%.{host}",
            site_name=site.lower().strip(),
        )
    if author:
        params["author"] = f"%{author.lower()}%"
        if dialect == "postgresql":
            clauses.append(
                "EXISTS (SELECT 1 FROM json_array_elements_text(CASE WHEN"
                " json_typeof(c.authors) = 'array' THEN c.authors ELSE '[]'::json END) AS a(name)"
                " WHERE lower(a.name) LIKE :author)"
            )
        else:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type(c.authors) = 'array'"
                " THEN c.authors ELSE '[]' END) AS a WHERE lower(a.value) LIKE :author)"
            )
    return clauses, params


def search(
    session: Session,
    query: str,
    *,
    platform: str | None = None,
    site: str | None = None,
    author: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    order: Order | str = Order.BEST,
    limit: int = 20,
) -> list[SearchHit]:
    """Captures whose title or text contain every word of `query`, best match or newest first."""
    try:
        order = Order(order)
    except ValueError:
        raise SearchError(f"Unknown search order {order!r}: use 'best' or 'newest'.") from None
    if limit < 1:
        return []
    dialect = session.get_bind().dialect.name
    since, until = _utc(since), _utc(until)
    clauses, params = _filters(
        platform=platform,
        site=site,
        author=author,
        since=since,
        until=until,
        status=status,
        dialect=dialect,
    )
    params["limit"] = limit
    if dialect == "sqlite":
        match = fts5_query(query)
        if not match:
            return []
        params["match"] = match
        statement = _sqlite_statement(clauses, order)
    elif dialect == "postgresql":
        if not _WORD.search(query):
            return []
        params["query"] = " ".join(_WORD.findall(query))
        statement = _postgres_statement(clauses, order)
    else:
        raise SearchError(f"Search is not available on {dialect}; use SQLite or PostgreSQL.")
    rows = session.execute(statement, params).all()
    return [
        SearchHit(
            capture_id=row.id,
            url=row.url,
            title=row.title,
            captured_at=row.captured_at,
            published_at=row.published_at,
            snippet=row.snippet or "",
        )
        for row in rows
    ]


def _typed(sql: str) -> sa.TextualSelect:
    # Typed columns and parameters so SQLite returns datetimes and stores comparisons alike.
    return (
        sa.text(sql)
        .bindparams(
            *[
                sa.bindparam(name, type_=_C.captured_at.type)
                for name in ("since", "until")
                if f":{name}" in sql
            ]
        )
        .columns(
            id=_C.id.type,
            url=_C.url.type,
            title=_C.title.type,
            captured_at=_C.captured_at.type,
            published_at=_C.published_at.type,
            snippet=sa.Text(),
        )
    )


def _sqlite_statement(clauses: list[str], order: Order) -> sa.TextualSelect:
    where = " AND ".join(["capture_fts MATCH :match", *clauses])
    order_by = "capture_fts.rank" if order == Order.BEST else "c.captured_at DESC, c.id DESC"
    return _typed(
        "SELECT c.id, c.url, c.title, c.captured_at, c.published_at,"
        f" snippet(capture_fts, -1, '[', ']', '…', {_SNIPPET_WORDS}) AS snippet"
        " FROM capture_fts JOIN captures AS c ON c.id = capture_fts.rowid"
        f" WHERE {where} ORDER BY {order_by} LIMIT :limit"
    )


def _postgres_statement(clauses: list[str], order: Order) -> sa.TextualSelect:
    where = " AND ".join(["f.document @@ q.query", *clauses])
    if order == Order.BEST:
        rank, outer = "ts_rank_cd(f.document, q.query)", "hits.rank DESC, c.id DESC"
    else:
        rank, outer = "0", "c.captured_at DESC, c.id DESC"
    # Headlines are costly: make them only for the rows that survive the LIMIT.
    return _typed(
        "WITH q AS (SELECT plainto_tsquery('simple', :query) AS query),"
        f" hits AS (SELECT c.id, {rank} AS rank"
        " FROM capture_fts AS f JOIN captures AS c ON c.id = f.capture_id CROSS JOIN q"
        f" WHERE {where} ORDER BY {outer.replace('hits.', '')} LIMIT :limit)"
        " SELECT c.id, c.url, c.title, c.captured_at, c.published_at,"
        " ts_headline('simple', coalesce(c.text, c.title, ''), q.query,"
        " 'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1,"
        " FragmentDelimiter=…') AS snippet"
        f" FROM hits JOIN captures AS c ON c.id = hits.id CROSS JOIN q ORDER BY {outer}"
    )


def matching_ids(session: Session, query: str, *, limit: int) -> list[int]:
    """Ids of captures containing every word of `query`, newest first, without snippets."""
    words = _WORD.findall(query)
    if not words or limit < 1:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        statement = sa.text(
            "SELECT rowid FROM capture_fts WHERE capture_fts MATCH :match"
            " ORDER BY rowid DESC LIMIT :limit"
        )
        params: dict[str, Any] = {"match": fts5_query(query), "limit": limit}
    elif dialect == "postgresql":
        statement = sa.text(
            "SELECT capture_id FROM capture_fts"
            " WHERE document @@ plainto_tsquery('simple', :query)"
            " ORDER BY capture_id DESC LIMIT :limit"
        )
        params = {"query": " ".join(words), "limit": limit}
    else:
        raise SearchError(f"Search is not available on {dialect}; use SQLite or PostgreSQL.")
    return list(session.execute(statement, params).scalars())
