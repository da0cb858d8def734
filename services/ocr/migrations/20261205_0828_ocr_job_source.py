"""Add ocr_jobs.source_job_id and an index on (file_digest, engine_fingerprint): the same
bytes with the same engine settings are OCR'd once, later jobs copy the result.

Revision ID: 512e22fbb1e3
Revises: e572f3ab180e
Create Date: 2026-12-05 08:28:19
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "512e22fbb1e3"
down_revision: str | Sequence[str] | None = "e572f3ab180e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column (jobs queued before run the engine themselves) and the index."""
    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_job_id", sa.String(length=40), nullable=True))
        batch_op.create_index(
            "ix_ocr_jobs_digest", ["file_digest", "engine_fingerprint"], unique=False
        )


def downgrade() -> None:
    """Drop the index and the column."""
    with op.batch_alter_table("ocr_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_ocr_jobs_digest")
        batch_op.drop_column("source_job_id")
