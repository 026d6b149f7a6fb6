"""index the delivered check-ins still unanswered (the re-ask looks only at those)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNANSWERED = "status = 'sent' AND answered_at IS NULL AND nudged_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_checkin_unanswered",
        "checkin",
        ["sent_at"],
        postgresql_where=sa.text(UNANSWERED),
        sqlite_where=sa.text(UNANSWERED),
    )


def downgrade() -> None:
    op.drop_index("ix_checkin_unanswered", table_name="checkin")
