"""when a clinician shared an escalation's outcome note with the patient; when a page found
nobody to page; when a patient's own words replied to a check-in

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as table:
        table.add_column(sa.Column("outcome_shared_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("unpaged_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("checkin") as table:
        table.add_column(sa.Column("replied_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkin") as table:
        table.drop_column("replied_at")
    with op.batch_alter_table("escalation") as table:
        table.drop_column("unpaged_at")
    with op.batch_alter_table("escalation") as table:
        table.drop_column("outcome_shared_at")
