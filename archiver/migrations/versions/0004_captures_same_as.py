"""unchanged re-captures refer to the capture holding their content (captures.same_as)

A re-capture whose content is unchanged stores `same_as` and leaves its content columns NULL,
so the full-text triggers now skip rows without title and text (they would add an empty entry
per re-capture). Downgrading writes the referenced content, links and full header lists back
into each re-capture first; those rows then no longer match their seals, which `archiver
verify` reports, so verify before downgrading.

SQLite drops triggers with their table and the downgrade rebuilds `captures` (a column with a
foreign key cannot be dropped in place), so it recreates the 0002 triggers afterwards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 04:00:00

"""

import importlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration modules start with a digit, so they are loaded by path rather than imported.
_0002 = importlib.import_module("archiver.migrations.versions.0002_search_provenance")

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_TRIGGERS = (
    """CREATE TRIGGER capture_fts_ai AFTER INSERT ON captures
        WHEN new.title IS NOT NULL OR new.text IS NOT NULL BEGIN
        INSERT INTO capture_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER capture_fts_ad AFTER DELETE ON captures
        WHEN old.title IS NOT NULL OR old.text IS NOT NULL BEGIN
        INSERT INTO capture_fts(capture_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    # An FTS5 'delete' of a row it never indexed would corrupt its totals, hence the guards;
    # one trigger, so the old entry always goes before the new one comes in.
    """CREATE TRIGGER capture_fts_au AFTER UPDATE OF title, text ON captures BEGIN
        INSERT INTO capture_fts(capture_fts, rowid, title, text)
        SELECT 'delete', old.id, old.title, old.text
        WHERE old.title IS NOT NULL OR old.text IS NOT NULL;
        INSERT INTO capture_fts(rowid, title, text)
        SELECT new.id, new.title, new.text
        WHERE new.title IS NOT NULL OR new.text IS NOT NULL;
    END""",
)
#: Tables with foreign keys to captures.
_SQLITE_CHILDREN = ("exchanges", "links", "shingles")
SQLITE_TRIGGER_NAMES = ("capture_fts_ai", "capture_fts_ad", "capture_fts_au")

PG_DOCUMENT = "coalesce(new.title, '') || ' ' || coalesce(new.text, '')"
PG_SYNC = f"""CREATE OR REPLACE FUNCTION capture_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        vector tsvector;
    BEGIN
        IF new.title IS NULL AND new.text IS NULL THEN
            DELETE FROM capture_fts WHERE capture_id = new.id;
            RETURN NULL;
        END IF;
        BEGIN
            vector := to_tsvector('simple', {PG_DOCUMENT});
        EXCEPTION WHEN program_limit_exceeded THEN
            vector := to_tsvector('simple', left({PG_DOCUMENT}, 200000));
        END;
        INSERT INTO capture_fts (capture_id, document) VALUES (new.id, vector)
        ON CONFLICT (capture_id) DO UPDATE SET document = excluded.document;
        RETURN NULL;
    END
    $$"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite adds a column with REFERENCES in place; a batch rebuild would drop the triggers.
        op.execute("ALTER TABLE captures ADD COLUMN same_as INTEGER REFERENCES captures (id)")
        for name in ("capture_fts_ai", "capture_fts_ad", "capture_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
    else:
        op.add_column("captures", sa.Column("same_as", BigId, nullable=True))
        op.create_foreign_key(
            op.f("fk_captures_same_as_captures"), "captures", "captures", ["same_as"], ["id"]
        )
        if dialect == "postgresql":
            op.execute(PG_SYNC)
    op.create_index("ix_captures_same_as", "captures", ["same_as"])


def downgrade() -> None:
    _inline_same_as()
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_captures_same_as", table_name="captures")
    if dialect == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        # Rebuilding captures drops the old table, which with foreign keys on (they cannot be
        # turned off inside the migration's transaction) deletes every row referring to it: the
        # referring rows are set aside and put back around the rebuild.
        for table in _SQLITE_CHILDREN:
            op.execute(f"CREATE TEMP TABLE saved_{table} AS SELECT * FROM {table}")
            op.execute(f"DELETE FROM {table}")
        with op.batch_alter_table("captures") as batch_op:
            batch_op.drop_column("same_as")
        for table in _SQLITE_CHILDREN:
            op.execute(f"INSERT INTO {table} SELECT * FROM temp.saved_{table}")
            op.execute(f"DROP TABLE temp.saved_{table}")
        _0002._create_sqlite_fts_triggers()
        op.execute("INSERT INTO capture_fts(capture_fts) VALUES ('rebuild')")
    else:
        op.drop_constraint(op.f("fk_captures_same_as_captures"), "captures", type_="foreignkey")
        op.drop_column("captures", "same_as")
        if dialect == "postgresql":
            for statement in _0002.PG_STATEMENTS:
                if statement.startswith("CREATE FUNCTION"):
                    op.execute(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))


#: Frozen here: a migration must not change when the models or store code do later.
_INHERITED = (
    "final_url",
    "canonical_url",
    "http_status",
    "sha256",
    "content_type",
    "via",
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "site_name",
    "language",
    "description",
    "meta",
    "post",
    "content_hash",
)
_EXCHANGE_INHERITED = ("reason", "http_version", "sha256", "redirect_location", "redirect_kind")


def _headers(own: Any, base: Any) -> Any:
    if not isinstance(own, dict):
        return own
    edits = {int(e[0]): e[1:] for e in own.get("d", [])}
    headers = []
    for i in range(int(own["n"])):
        edit = edits.get(i)
        if edit is None:
            headers.append(list(base[i]))
        elif len(edit) == 1:
            headers.append([base[i][0], edit[0]])
        else:
            headers.append(list(edit))
    return headers


def _inline_same_as() -> None:
    """Give every re-capture its content back, so the schema without same_as loses nothing."""
    bind = op.get_bind()
    meta = sa.MetaData()
    captures = sa.Table("captures", meta, autoload_with=bind)
    exchanges = sa.Table("exchanges", meta, autoload_with=bind)
    links = sa.Table("links", meta, autoload_with=bind)
    c, e, lk = captures.c, exchanges.c, links.c
    rows = bind.execute(sa.select(c.id, c.same_as).where(c.same_as.is_not(None))).all()
    for capture_id, same_as in rows:
        own = bind.execute(sa.select(captures).where(c.id == capture_id)).one()._mapping
        base = bind.execute(sa.select(captures).where(c.id == same_as)).one()._mapping
        values = {n: base[n] for n in _INHERITED if own[n] is None}
        if values:
            bind.execute(sa.update(captures).where(c.id == capture_id).values(**values))
        has_links = bind.execute(sa.select(sa.func.count()).where(lk.capture_id == capture_id))
        if not has_links.scalar():
            for link in bind.execute(
                sa.select(lk.position, lk.url, lk.kind)
                .where(lk.capture_id == same_as)
                .order_by(lk.position, lk.id)
            ).all():
                bind.execute(
                    sa.insert(links).values(
                        capture_id=capture_id, position=link.position, url=link.url, kind=link.kind
                    )
                )
        bases = {
            x.seq: x._mapping
            for x in bind.execute(sa.select(exchanges).where(e.capture_id == same_as))
        }
        for x in bind.execute(sa.select(exchanges).where(e.capture_id == capture_id)).all():
            ref = bases.get(x.seq)
            if ref is None or not isinstance(x.request_headers, dict):
                continue
            update = {n: ref[n] for n in _EXCHANGE_INHERITED if x._mapping[n] is None}
            update["request_headers"] = _headers(x.request_headers, ref["request_headers"])
            update["response_headers"] = _headers(x.response_headers, ref["response_headers"])
            bind.execute(sa.update(exchanges).where(e.id == x.id).values(**update))
