"""where an escalation's current ladder starts: a rise in level, or a night of on-call
pages, starts its ladder afresh without reusing a step number

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as table:
        table.add_column(sa.Column("ladder_base", sa.Integer(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("escalation") as table:
        table.drop_column("ladder_base")
