"""routing from Slack: lead owner email, paused reps

A lead can carry its CRM owner's email (`owner` routing gives it to their Slack user); a rep
Baton paused after missed SLAs is marked away with the reason; each rep's SLAs missed in a row
are counted. Nothing existing changes.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 19:36:31.620325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_email', sa.String(length=320), nullable=True))
    with op.batch_alter_table('rep_away', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=200), nullable=True))
    op.create_table('rep_missed_slas',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('in_a_row', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_rep_missed_slas'))
    )


def downgrade() -> None:
    op.drop_table('rep_missed_slas')
    with op.batch_alter_table('rep_away', schema=None) as batch_op:
        batch_op.drop_column('reason')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('owner_email')
