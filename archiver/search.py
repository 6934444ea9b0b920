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
#: Matches ranked per query, newest first: bounds the cost of a query made of common words.
RANK_WINDOW = 2000
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
) -> tuple[list[str], list[str], dict[str, Any]]:
    """SQL conditions on the capture holding the text (`c`) and on the capture that is the hit (`x`).

    An unchanged re-capture holds no text of its own (it refers to the capture that does, through
    `same_as`), so the full-text index matches only the holder; when and how a page was captured
    are asked of the holder and its re-captures alike.
    """
    clauses: list[str] = []
    when: list[str] = []
    params: dict[str, Any] = {}
    if platform:
        clauses.append("c.platform = :platform")
        params["platform"] = platform
    if status:
        when.append("x.status = :status")
        params["status"] = status
    if since is not None:
        when.append("x.captured_at >= :since")
        params["since"] = since
    if until is not None:
        when.append("x.captured_at < :until")
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
    return clauses, when, params


def _newest_capture(when: list[str], join: str) -> str:
    """A join picking, for the holder `c`, its newest capture (itself or a re-capture) in `when`."""
    return (
        f" {join} captures AS r ON r.id = (SELECT max(x.id) FROM captures AS x"
        f" WHERE (x.id = c.id OR x.same_as = c.id) AND {' AND '.join(when)})"
    )


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
    clauses, when, params = _filters(
        platform=platform,
        site=site,
        author=author,
        since=since,
        until=until,
        status=status,
        dialect=dialect,
    )
    params["limit"] = limit
    params["window"] = RANK_WINDOW - 1
    if dialect == "sqlite":
        match = fts5_query(query)
        if not match:
            return []
        params["match"] = match
        statement = _sqlite_statement(clauses, when, order)
    elif dialect == "postgresql":
        if not _WORD.search(query):
            return []
        params["query"] = " ".join(_WORD.findall(query))
        statement = _postgres_statement(clauses, when, order)
        # psycopg prepares a statement run five times; PostgreSQL may then pick one generic
        # plan for every query text, which was 7x slower here than a plan made per query.
        session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
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


def _sqlite_statement(clauses: list[str], when: list[str], order: Order) -> sa.TextualSelect:
    where = " AND ".join(["capture_fts MATCH :match", *clauses])
    # Reading a captures row costs more than an FTS5 match: join it only when a filter or the
    # order needs it, and always drive the join from the FTS5 side.
    source, hit, captured = "capture_fts", "capture_fts.rowid", "c.captured_at"
    if clauses or when or order == Order.NEWEST:
        source = "capture_fts CROSS JOIN captures AS c ON c.id = capture_fts.rowid"
    if when:
        # CROSS JOIN: SQLite keeps the join order as written, driven from the FTS5 side.
        source += _newest_capture(when, "CROSS JOIN")
        hit, captured = "r.id", "r.captured_at"
    keys, direction = ("capture_fts.rank", "") if order == Order.BEST else (captured, " DESC")
    # bm25 costs microseconds per matching row: rank only the newest RANK_WINDOW matches (FTS5
    # applies the rowid bound while walking its index). Snippets are made in a second pass for
    # the rows kept, as SQLite would otherwise compute them for every row before sorting.
    floor = (
        f"SELECT capture_fts.rowid FROM {source} WHERE {where}"
        " ORDER BY capture_fts.rowid DESC LIMIT 1 OFFSET :window"
    )
    return _typed(
        f"WITH top AS (SELECT capture_fts.rowid AS id, {hit} AS hit, {keys} AS k1 FROM {source}"
        f" WHERE {where} AND capture_fts.rowid >= coalesce(({floor}), 0)"
        f" ORDER BY k1{direction}, hit DESC LIMIT :limit)"
        " SELECT h.id, h.url, c.title, h.captured_at, c.published_at,"
        f" snippet(capture_fts, -1, '[', ']', '…', {_SNIPPET_WORDS}) AS snippet"
        " FROM top CROSS JOIN capture_fts ON capture_fts.rowid = top.id"
        " CROSS JOIN captures AS c ON c.id = top.id CROSS JOIN captures AS h ON h.id = top.hit"
        f" WHERE capture_fts MATCH :match ORDER BY top.k1{direction}, top.hit DESC"
    )


def _postgres_statement(clauses: list[str], when: list[str], order: Order) -> sa.TextualSelect:
    where = " AND ".join(["f.document @@ q.query", *clauses])
    source, hit, captured = "capture_fts AS f CROSS JOIN q", "f.capture_id", "c.captured_at"
    if clauses or when or order == Order.NEWEST:
        source = "capture_fts AS f JOIN captures AS c ON c.id = f.capture_id CROSS JOIN q"
    if when:
        source += _newest_capture(when, "JOIN")
        hit, captured = "r.id", "r.captured_at"
    keys = "ts_rank_cd(f.document, q.query)" if order == Order.BEST else captured
    # Ranking reads every matching row's vector: rank only the newest RANK_WINDOW matches, and
    # make headlines (costly too) only for the rows that survive the LIMIT.
    floor = (
        f"SELECT f.capture_id FROM {source} WHERE {where}"
        " ORDER BY f.capture_id DESC OFFSET :window LIMIT 1"
    )
    return _typed(
        "WITH q AS (SELECT plainto_tsquery('simple', :query) AS query),"
        f" top AS (SELECT f.capture_id AS id, {hit} AS hit, {keys} AS k1 FROM {source}"
        f" WHERE {where} AND f.capture_id >= coalesce(({floor}), 0)"
        " ORDER BY k1 DESC, hit DESC LIMIT :limit)"
        " SELECT h.id, h.url, c.title, h.captured_at, c.published_at,"
        " ts_headline('simple', coalesce(c.text, c.title, ''), q.query,"
        " 'StartSel=[, StopSel=], MaxWords=24, MinWords=8, MaxFragments=1,"
        " FragmentDelimiter=…') AS snippet"
        " FROM top JOIN captures AS c ON c.id = top.id JOIN captures AS h ON h.id = top.hit"
        " CROSS JOIN q ORDER BY top.k1 DESC, top.hit DESC"
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
