"""lead offers

A route in `offer` mode offers a lead to one rep at a time: the lead remembers who it is
offered to now and how many offers it has had. A rotation pointer may be empty: the row of a
rep new to the pool, written before the pool's rows are locked.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 19:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offered_to', sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column('offer_tries', sa.Integer(), server_default='0', nullable=False)
        )
    with op.batch_alter_table('rotation_pointers', schema=None) as batch_op:
        batch_op.alter_column('pointer', existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM rotation_pointers WHERE pointer IS NULL")  # new reps start level
    with op.batch_alter_table('rotation_pointers', schema=None) as batch_op:
        batch_op.alter_column('pointer', existing_type=sa.Float(), nullable=False)
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('offer_tries')
        batch_op.drop_column('offered_to')
