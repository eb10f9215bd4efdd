"""lead score explanation

Why the team's scoring model (bot.scoring) gave a lead its score, as JSON (null: the score is
the sender's).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 16:14:40.743085
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('score_explanation', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('score_explanation')
