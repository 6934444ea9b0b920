"""index captures by job, so a retried job finds the capture an earlier attempt stored

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 02:05:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_captures_job_id", "captures", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_captures_job_id", table_name="captures")
