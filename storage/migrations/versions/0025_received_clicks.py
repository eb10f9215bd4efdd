"""received clicks

A click on a lead card's buttons is recorded here and acknowledged; the web processes apply the
waiting clicks in the order they were recorded, each deleting its row as its move commits.
Nothing existing changes.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 09:01:56.203915
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'received_clicks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('in_home', sa.Boolean(), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=True),
        sa.Column('message_ts', sa.String(length=32), nullable=True),
        sa.Column('response_url', sa.Text(), nullable=True),
        sa.Column('received_at', storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_received_clicks')),
    )
    with op.batch_alter_table('received_clicks', schema=None) as batch_op:
        batch_op.create_index('ix_received_clicks_lead_id_id', ['lead_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('received_clicks', schema=None) as batch_op:
        batch_op.drop_index('ix_received_clicks_lead_id_id')
    op.drop_table('received_clicks')
