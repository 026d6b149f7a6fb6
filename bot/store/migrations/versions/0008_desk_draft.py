"""an `/enrol` in progress is kept with the clinician (not in one worker's memory), so the
next answer may reach any worker

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clinician") as table:
        table.add_column(sa.Column("desk_draft", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clinician") as table:
        table.drop_column("desk_draft")
