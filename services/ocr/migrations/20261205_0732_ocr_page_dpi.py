"""Add ocr_pages.dpi: the resolution word boxes refer to.

Revision ID: e572f3ab180e
Revises: ea1927e0c8da
Create Date: 2026-12-05 07:32:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e572f3ab180e"
down_revision: str | Sequence[str] | None = "ea1927e0c8da"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column; pages OCR'd before have 0 (unknown)."""
    with op.batch_alter_table("ocr_pages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dpi", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("ocr_pages", schema=None) as batch_op:
        batch_op.drop_column("dpi")
