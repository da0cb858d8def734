"""Add ocr_jobs.traceparent: the trace a job continues.

Revision ID: ea1927e0c8da
Revises: cddf2e7c5a71
Create Date: 2026-12-05 07:30:43.066425
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ea1927e0c8da"
down_revision: str | Sequence[str] | None = "cddf2e7c5a71"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; existing jobs get an empty traceparent."""
    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("traceparent", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.drop_column("traceparent")
