"""lead lookup indexes

`/leads show` finds a lead by its email or its company typed in any case: indexes on the
lowercased columns. Written by hand: autogenerate cannot compare expression indexes on SQLite.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:46:14.764356
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_leads_lower_email', 'leads', [sa.text('lower(email)')])
    op.create_index('ix_leads_lower_company', 'leads', [sa.text('lower(company)')])


def downgrade() -> None:
    op.drop_index('ix_leads_lower_company', table_name='leads')
    op.drop_index('ix_leads_lower_email', table_name='leads')
