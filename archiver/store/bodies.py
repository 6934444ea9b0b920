"""Response bodies, stored once per SHA-256 and compressed."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
import zstandard
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from archiver.store import models
from archiver.store.db import chunks
from archiver.store.records import NewCapture

#: How new bodies are stored. Compression sits on the capture path of every new body: on news
#: pages zstd at level 3 takes about a third of the CPU of zlib at level 3 and a tenth less space,
#: and decompresses two to three times faster. Bodies stored as zlib by earlier versions stay
#: readable; downgrading the schema past migration 0005 recompresses zstd bodies as zlib.
BODY_COMPRESSION = "zstd"
BODY_COMPRESSION_LEVEL = 3


class CorruptBody(ValueError):
    """Stored bytes that do not decompress, or name a compression this version does not know."""


def compress(data: bytes) -> bytes:
    """`data` as stored under BODY_COMPRESSION (a compressor per call: they are not thread-safe)."""
    return zstandard.ZstdCompressor(level=BODY_COMPRESSION_LEVEL).compress(data)


def put_body(session: Session, data: bytes) -> str:
    """Store `data` once under its SHA-256 (concurrent writers of the same body are fine)."""
    digest = hashlib.sha256(data).hexdigest()
    # Only the key is read: loading the row would decompress nothing but still copy the blob.
    known = session.execute(
        sa.select(models.Body.sha256).where(models.Body.sha256 == digest)
    ).first()
    if known is not None:
        return digest
    values = {
        "sha256": digest,
        "size": len(data),
        "compression": BODY_COMPRESSION,
        "data": compress(data),
        "created_at": datetime.now().astimezone(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(models.Body).values(**values).on_conflict_do_nothing())
    return digest


def get_body(session: Session, sha256: str) -> bytes:
    row = session.get(models.Body, sha256)
    if row is None:
        raise KeyError(sha256)
    return decompress(row.compression, row.data)


def decompress(compression: str, data: bytes) -> bytes:
    """The stored bytes of a body as they were fetched; CorruptBody if they cannot be."""
    try:
        if compression == "zstd":
            # Streamed, so a frame's declared size is never trusted for the output buffer; a
            # stream stops silently where its bytes do, hence the checks after it.
            stream = zstandard.ZstdDecompressor().decompressobj()
            raw = stream.decompress(data)
            if not stream.eof or stream.unused_data:
                raise zstandard.ZstdError("truncated or trailing bytes")
            return raw
        if compression == "zlib":
            return zlib.decompress(data)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise CorruptBody(f"stored body does not decompress ({compression}): {exc}") from None
    if compression in ("none", "identity", ""):
        return data
    raise CorruptBody(f"unknown body compression {compression!r}")


_KNOWN_BODIES = sa.select(models.Body.sha256).where(
    models.Body.sha256.in_(sa.bindparam("digests", expanding=True))
)


def put_bodies(session: Session, records: Sequence[NewCapture]) -> dict[int, str]:
    """Store every body of `records` once; maps id(bytes) to its SHA-256 for the rows."""
    digests: dict[int, str] = {}
    data: dict[str, bytes] = {}
    for record in records:
        bodies = [] if record.body is None else [record.body]
        bodies += [e.body for _, e in record.exchanges if e.status is not None]
        for body in bodies:
            if id(body) not in digests:
                digest = hashlib.sha256(body).hexdigest()
                digests[id(body)] = digest
                data[digest] = body
    known: set[str] = set()
    for chunk in chunks(sorted(data)):
        # Only the keys are read: loading rows would copy every compressed blob.
        known.update(
            session.connection().execute(_KNOWN_BODIES, {"digests": list(chunk)}).scalars()
        )
    now = datetime.now().astimezone()
    new = [
        {
            "sha256": digest,
            "size": len(body),
            "compression": BODY_COMPRESSION,
            "data": compress(body),
            "created_at": now,
        }
        for digest, body in data.items()
        if digest not in known
    ]
    if new:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.connection().execute(insert(models.Body).on_conflict_do_nothing(), new)
    return digests
