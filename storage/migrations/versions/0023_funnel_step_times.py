"""the funnel's step times in index order

`/leads funnel` picks each step's median at its rank. The indexes that keep the times to claim
and to contact in order (for the handoff reports' percentiles) also carry what the funnel
filters and groups on (entry time, first decision, campaign, segment), so a year's median is a
walk along them instead of a sort of a million times. Nothing existing changes.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 05:20:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORT_FILTERS = ['posted_at', 'first_decided_by', 'source']
FUNNEL_FILTERS = ['created_at', 'first_decision', 'campaign', 'segment']
INDEXES = {
    'ix_leads_report_claim_times': 'time_to_claim_us',
    'ix_leads_report_contact_times': 'time_to_contact_us',
}


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        for name, column in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [column, *REPORT_FILTERS, *FUNNEL_FILTERS], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        for name, column in INDEXES.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, [column, *REPORT_FILTERS], unique=False)
