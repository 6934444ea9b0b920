"""bodies may be stored as zstd frames (bodies.compression = 'zstd')

The schema does not change: new bodies are written with `compression = 'zstd'` instead of
'zlib', and both stay readable. The revision exists so that an older archiver, which reads only
zlib, refuses the database instead of failing on the first zstd body it meets. Downgrading
recompresses every zstd body as zlib, in batches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:00:00

"""

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Frozen here: a migration must not change when the store code does later.
_ZLIB_LEVEL = 3
_BATCH = 200

_bodies = sa.table(
    "bodies",
    sa.column("sha256", sa.String),
    sa.column("compression", sa.String),
    sa.column("data", sa.LargeBinary),
)


def upgrade() -> None:
    pass


def downgrade() -> None:
    connection = op.get_bind()
    while True:
        rows = connection.execute(
            sa.select(_bodies.c.sha256, _bodies.c.data)
            .where(_bodies.c.compression == "zstd")
            .order_by(_bodies.c.sha256)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            _bodies.update()
            .where(_bodies.c.sha256 == sa.bindparam("key"))
            .values(compression="zlib", data=sa.bindparam("zlib_data")),
            [
                {"key": sha256, "zlib_data": zlib.compress(_unzstd(sha256, data), _ZLIB_LEVEL)}
                for sha256, data in rows
            ],
        )


def _unzstd(sha256: str, data: bytes) -> bytes:
    stream = zstandard.ZstdDecompressor().decompressobj()
    try:
        raw = stream.decompress(data)
    except zstandard.ZstdError as exc:
        raise RuntimeError(
            f"body {sha256} does not decompress ({exc}); nothing was changed"
        ) from exc
    if not stream.eof or stream.unused_data:
        raise RuntimeError(f"body {sha256} is truncated or has trailing bytes; nothing was changed")
    return raw
