"""the funnel's covering index

`/leads funnel` scans every lead of its period: an index of the columns it reads (all but the
scoring verdict) lets those scans skip the wide rows. Nothing existing changes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 03:35:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index(
            'ix_leads_funnel',
            [
                'created_at',
                'status',
                'first_claimed_at',
                'contact_credit',
                'opportunity_at',
                'promoted_at',
                'first_decision',
                'time_to_claim_us',
                'time_to_contact_us',
                'contacted_at',
                'closed_at',
                'source',
                'campaign',
                'segment',
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_funnel')
