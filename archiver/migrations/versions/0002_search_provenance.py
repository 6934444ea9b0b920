"""search and provenance indexes

Full-text search over captures(title, text): on SQLite an external-content FTS5 table
`capture_fts` kept in step by triggers; on PostgreSQL a GIN expression index. Both live only
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

# Keep in step with archiver/search.py (_PG_DOCUMENT): the planner uses the index only when the
# query repeats this expression exactly.
PG_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))"

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
        op.execute(f"CREATE INDEX ix_search_captures_fts ON captures USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("capture_fts_ai", "capture_fts_ad", "capture_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS capture_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_search_captures_fts")
    with op.batch_alter_table("shingles", schema=None) as batch_op:
        batch_op.drop_index("ix_shingles_capture_id")
    op.drop_table("shingles")
