"""rejections by lead

The tuning report names the reason of each lead's first reject. Without an index on the lead,
each lead's look-up scanned every rejection: `/leads tune 7d` took ten minutes at a million
leads. Nothing existing changes.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 09:18:32.087053
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.create_index('ix_rejections_lead', ['lead_id', 'at', 'id', 'reason'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.drop_index('ix_rejections_lead')
