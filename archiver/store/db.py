"""Engine factory and schema state: fresh databases are migrated, old ones refused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from archiver.errors import SchemaOutdated, StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL and a busy timeout let a CLI run and a daemon share one file.
    # The driver's own implicit BEGIN is turned off: we emit BEGIN IMMEDIATE ourselves (below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    # writer committed in between (WAL snapshots cannot be upgraded); taking the write lock at BEGIN
    # makes concurrent writers queue on busy_timeout instead. Read-only work can ask for DEFERRED.
    mode = "DEFERRED" if conn.get_execution_options().get("sqlite_deferred") else "IMMEDIATE"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An Engine for `url`; SQLite files get their folder created and WAL mode."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"No driver for {parsed.drivername}: install archiver with the postgres extra "
            "(pip install 'archiver[postgres]')."
        ) from exc


def alembic_config(engine: Engine) -> AlembicConfig:
    # Alembic (and the template engine it brings) loads only to migrate: every command checks
    # the schema revision, which needs neither.
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def revisions() -> list[str]:
    """The revisions this archiver ships, oldest first: each migration file starts with its id."""
    return sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def head_revision() -> str | None:
    known = revisions()
    return known[-1] if known else None


def refuse_unknown(current: str | None) -> None:
    """SchemaOutdated if the database is at a revision this archiver does not ship."""
    if current is not None and current not in revisions():
        raise SchemaOutdated(
            f"The database is at schema revision {current}, which this archiver "
            f"({head_revision()}) does not know: it was written by a newer archiver. "
            "Upgrade archiver to open it."
        )


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for a database without one (a fresh one)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise SchemaOutdated(f"The database is at several schema revisions at once: {found}")
    return str(found[0]) if found else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def open_database(url: str) -> Engine:
    """Engine for `url`, migrating a fresh database and refusing one at an older revision."""
    engine = make_engine(url)
    try:
        current = current_revision(engine)
        refuse_unknown(current)
        if current is None:
            if sa.inspect(engine).get_table_names():
                raise SchemaOutdated(
                    f"The database at {make_url(url).render_as_string()} has tables but no "
                    "archiver schema revision; point ARCHIVER_DATABASE_URL at an archiver database."
                )
            upgrade(engine)
        elif current != head_revision():
            raise SchemaOutdated(
                f"The database is at schema revision {current}, this archiver needs "
                f"{head_revision()}. Run `archiver db upgrade` (back up the database first)."
            )
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise StoreError(f"Cannot open the database: {exc.orig}") from exc
    except BaseException:
        engine.dispose()
        raise
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


T = TypeVar("T")


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """`values` in slices of `size`, to bound the bind parameters of one statement."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
