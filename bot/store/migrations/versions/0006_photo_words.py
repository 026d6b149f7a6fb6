"""what a patient said with a kept photo or voice note (its caption, a voice note's
transcript), so that it goes with the media to the clinicians paged about it

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("photo") as table:
        table.add_column(sa.Column("words", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("photo") as table:
        table.drop_column("words")
