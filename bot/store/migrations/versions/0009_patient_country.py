"""a patient's country (ISO 3166 alpha-2), for the emergency number they are told

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as table:
        table.add_column(sa.Column("country", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("patient") as table:
        table.drop_column("country")
