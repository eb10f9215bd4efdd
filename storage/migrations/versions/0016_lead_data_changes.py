"""lead data changes

When a repeated delivery last changed what is stored about the person, and what it changed
(bot.lead_updates), so the card can say so until the next change.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 16:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('data_changed_at', storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('data_changes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('data_changes')
        batch_op.drop_column('data_changed_at')
