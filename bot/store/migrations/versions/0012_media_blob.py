"""photos and voice notes in the database, for several workers

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_blob",
        sa.Column("path", sa.String(length=255), primary_key=True),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_media_blob_patient_id", "media_blob", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_media_blob_patient_id", "media_blob")
    op.drop_table("media_blob")
