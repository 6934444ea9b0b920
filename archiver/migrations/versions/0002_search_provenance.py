"""search and provenance indexes

Full-text search over captures(title, text), kept in step by triggers, in a table named
`capture_fts` on both databases: on SQLite an external-content FTS5 table; on PostgreSQL a
table of stored tsvectors with the GIN index `ix_search_captures_fts`. The vectors are stored
rather than indexed as an expression because ranking needs them: recomputing to_tsvector for
every matching row made a common-word query take seconds on 10,000 captures. Both live only
here (env.py leaves `capture_fts*` tables and `ix_search_*` indexes out of autogenerate).
The `shingles` table (passage fingerprints for provenance) is a model in store/models.py.

SQLite drops triggers with their table: a later batch migration that recreates `captures`
must recreate the `capture_fts_*` triggers (call `_create_sqlite_fts_triggers`) and rebuild.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 00:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = "coalesce(new.title, '') || ' ' || coalesce(new.text, '')"
PG_STATEMENTS = (
    """CREATE TABLE capture_fts (
        capture_id BIGINT PRIMARY KEY REFERENCES captures (id) ON DELETE CASCADE,
        document TSVECTOR NOT NULL
    )""",
    "CREATE INDEX ix_search_captures_fts ON capture_fts USING gin (document)",
    # A tsvector is limited to 1 MB: index the start of a text too big for it rather than
    # refusing to store the capture.
    f"""CREATE FUNCTION capture_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        vector tsvector;
    BEGIN
        BEGIN
            vector := to_tsvector('simple', {PG_DOCUMENT});
        EXCEPTION WHEN program_limit_exceeded THEN
            vector := to_tsvector('simple', left({PG_DOCUMENT}, 200000));
        END;
        INSERT INTO capture_fts (capture_id, document) VALUES (new.id, vector)
        ON CONFLICT (capture_id) DO UPDATE SET document = excluded.document;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER capture_fts_ai AFTER INSERT ON captures
        FOR EACH ROW EXECUTE FUNCTION capture_fts_sync()""",
    """CREATE TRIGGER capture_fts_au AFTER UPDATE OF title, text ON captures
        FOR EACH ROW EXECUTE FUNCTION capture_fts_sync()""",
    """INSERT INTO capture_fts (capture_id, document)
        SELECT id, to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))
        FROM captures""",
)

SQLITE_TRIGGERS = (
    """CREATE TRIGGER capture_fts_ai AFTER INSERT ON captures BEGIN
        INSERT INTO capture_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
    """CREATE TRIGGER capture_fts_ad AFTER DELETE ON captures BEGIN
        INSERT INTO capture_fts(capture_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END""",
    # Only title/text changes touch the index; sealing (meta_hash) updates must stay cheap.
    """CREATE TRIGGER capture_fts_au AFTER UPDATE OF title, text ON captures BEGIN
        INSERT INTO capture_fts(capture_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO capture_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END""",
)


def _create_sqlite_fts_triggers() -> None:
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "shingles",
        sa.Column("hash", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "capture_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["captures.id"],
            name=op.f("fk_shingles_capture_id_captures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hash", "capture_id", name=op.f("pk_shingles")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("shingles", schema=None) as batch_op:
        batch_op.create_index("ix_shingles_capture_id", ["capture_id"], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE capture_fts USING fts5("
            "title, text, content='captures', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        _create_sqlite_fts_triggers()
        op.execute("INSERT INTO capture_fts(capture_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        for statement in PG_STATEMENTS:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("capture_fts_ai", "capture_fts_ad", "capture_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS capture_fts")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS capture_fts_ai ON captures")
        op.execute("DROP TRIGGER IF EXISTS capture_fts_au ON captures")
        op.execute("DROP FUNCTION IF EXISTS capture_fts_sync()")
        op.execute("DROP TABLE IF EXISTS capture_fts")
    with op.batch_alter_table("shingles", schema=None) as batch_op:
        batch_op.drop_index("ix_shingles_capture_id")
    op.drop_table("shingles")
