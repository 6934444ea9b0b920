"""Alembic environment: the engine comes from archiver (or sqlalchemy.url for the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from archiver.store.models import Base

config = context.config
target_metadata = Base.metadata

# Objects that SQLAlchemy models cannot express (full-text index tables) live only in migrations.
MIGRATION_ONLY_PREFIXES = ("capture_fts",)


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and name and name.startswith(MIGRATION_ONLY_PREFIXES):
        return False
    return not (type_ == "index" and name and name.startswith("ix_search_"))


def run_migrations() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


run_migrations()
