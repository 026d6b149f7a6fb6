"""pictures, files and voice notes are outbox rows too: their bytes until delivered, and
whose they are (a patient's photo forwarded to a clinician is cancelled by their erasure)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("media", sa.LargeBinary(), nullable=True))
        table.add_column(sa.Column("filename", sa.String(length=255), nullable=True))
        table.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_column("patient_id")
        table.drop_column("filename")
        table.drop_column("media")
