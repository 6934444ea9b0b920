"""Stored bodies: zstd for new ones, zlib from earlier versions still read, corruption named."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import zstandard
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from archiver import integrity
from archiver.errors import SchemaOutdated
from archiver.store import models
from archiver.store.bodies import (
    BODY_COMPRESSION,
    CorruptBody,
    compress,
    decompress,
    get_body,
    put_body,
)
from archiver.store.db import alembic_config, head_revision, make_engine, open_database

PAGE = (
    b"<html><body>" + b"<p>The council approved the transit budget.</p>" * 200 + b"</body></html>"
)


def test_new_bodies_are_zstd_and_read_back(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        digest = put_body(session, PAGE)
    with Session(engine) as session:
        row = session.get(models.Body, digest)
        assert row is not None
        assert (row.compression, row.size) == (BODY_COMPRESSION, len(PAGE)) == ("zstd", len(PAGE))
        assert len(row.data) < len(PAGE) // 10
        assert get_body(session, digest) == PAGE
        assert digest == hashlib.sha256(PAGE).hexdigest()


def test_zlib_bodies_of_earlier_versions_stay_readable(engine: Engine) -> None:
    digest = hashlib.sha256(PAGE).hexdigest()
    with Session(engine) as session, session.begin():
        session.add(
            models.Body(
                sha256=digest,
                size=len(PAGE),
                compression="zlib",
                data=zlib.compress(PAGE, 3),
                created_at=datetime.now(UTC),
            )
        )
    with Session(engine) as session:
        assert get_body(session, digest) == PAGE
        assert integrity.verify(session).ok


@pytest.mark.parametrize(
    ("compression", "data", "reason"),
    [
        ("zstd", compress(PAGE)[:-40], "truncated"),
        ("zstd", compress(PAGE) + b"junk", "trailing"),
        ("zstd", b"not a zstd frame at all", "does not decompress"),
        ("zlib", zlib.compress(PAGE)[:-10], "does not decompress"),
        ("brotli", PAGE, "unknown body compression 'brotli'"),
    ],
)
def test_corrupt_or_unknown_stored_bytes_are_named(
    compression: str, data: bytes, reason: str
) -> None:
    with pytest.raises(CorruptBody, match=reason):
        decompress(compression, data)


def test_a_frame_whose_declared_size_disagrees_with_its_content_is_refused() -> None:
    frame = bytearray(zstandard.ZstdCompressor(level=3, write_content_size=True).compress(PAGE))
    params = zstandard.get_frame_parameters(bytes(frame))
    assert params.content_size == len(PAGE)
    header = 4 + 1 + (0 if frame[4] & 0x20 else 1)  # magic, descriptor, window descriptor
    size_bytes = {0: 1 if frame[4] & 0x20 else 0, 1: 2, 2: 4, 3: 8}[frame[4] >> 6]
    frame[header : header + size_bytes] = b"\xff" * size_bytes
    with pytest.raises(CorruptBody):
        decompress("zstd", bytes(frame))


def test_verify_reports_a_corrupt_zstd_body(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        digest = put_body(session, PAGE)
    with Session(engine) as session, session.begin():
        session.execute(
            sa.update(models.Body)
            .where(models.Body.sha256 == digest)
            .values(data=compress(b"<html>something else</html>"))
        )
    with Session(engine) as session:
        problems = integrity.verify(session).problems
    assert [(p.kind, p.sha256) for p in problems] == [("body", digest)]
    assert "hash to" in problems[0].detail


def test_downgrade_past_0005_recompresses_bodies_as_zlib(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        with Session(engine) as session, session.begin():
            digest = put_body(session, PAGE)
            other = put_body(session, b"a second, smaller body")
        command.downgrade(alembic_config(engine), "0004")
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT sha256, compression FROM bodies")).all())
            data = conn.execute(
                sa.text("SELECT data FROM bodies WHERE sha256 = :s"), {"s": digest}
            ).scalar_one()
        assert rows == {digest: "zlib", other: "zlib"}
        assert zlib.decompress(data) == PAGE
        command.upgrade(alembic_config(engine), "head")
        with Session(engine) as session:
            assert get_body(session, digest) == PAGE
    finally:
        engine.dispose()


def test_a_database_from_a_newer_archiver_is_refused_by_name(db_url: str) -> None:
    open_database(db_url).dispose()
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaOutdated, match="written by a newer archiver"):
            open_database(db_url)
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head_revision()}
            )
        engine.dispose()


def test_downgrade_stops_at_a_corrupt_zstd_body_and_changes_nothing(db_url: str) -> None:
    engine = open_database(db_url)
    try:
        with Session(engine) as session, session.begin():
            good = put_body(session, PAGE)
            bad = put_body(session, b"a body that will lose its end" * 50)
            session.execute(
                sa.update(models.Body)
                .where(models.Body.sha256 == bad)
                .values(data=compress(b"a body that will lose its end" * 50)[:-8])
            )
        with pytest.raises(RuntimeError, match=f"body {bad} is truncated"):
            command.downgrade(alembic_config(engine), "0004")
        with engine.connect() as conn:
            kinds = set(conn.execute(sa.text("SELECT compression FROM bodies")).scalars())
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert (kinds, version) == ({"zstd"}, head_revision())
        with Session(engine) as session:
            assert get_body(session, good) == PAGE
    finally:
        engine.dispose()
