"""Sessions for queue work: writes hold SQLite's write lock from the start, reads need not wait."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and, on SQLite, holds the write lock from the start.

    Claiming reads and then writes; in a deferred SQLite transaction that fails at once when
    another writer committed in between. `store.db.make_engine` already begins every SQLite
    transaction with BEGIN IMMEDIATE; an engine made otherwise gets it here.
    """
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "sqlite":
            dbapi = session.connection().connection.dbapi_connection
            if not getattr(dbapi, "in_transaction", True):
                session.execute(sa.text("BEGIN IMMEDIATE"))
        yield session
        session.commit()


def read_only(engine: Engine) -> Engine:
    """The same engine for read-only work, which on SQLite need not wait for the write lock."""
    return engine.execution_options(sqlite_deferred=True)
