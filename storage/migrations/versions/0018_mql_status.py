"""mql status

A lead the team's scoring model finds under its SQL threshold is kept as an MQL: the leads'
status can now be 'mql'; a lead remembers when new data promoted it to an SQL and why (the
card's "why now"). No past lead was an MQL, so nothing is moved.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 17:20:00.000000
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

import storage.models

STATUSES_BEFORE = (
    "'new', 'open', 'escalated', 'accepted', 'rejected', 'contacted', 'opportunity', 'won', 'lost'"
)
STATUSES = f"'mql', {STATUSES_BEFORE}"

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('promoted_at', storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('promoted_why', sa.String(length=500), nullable=True))
    _lead_outcomes()._allow_statuses(STATUSES)


def downgrade() -> None:
    op.execute("UPDATE leads SET status = 'new' WHERE status = 'mql'")  # kept, unposted
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('promoted_why')
        batch_op.drop_column('promoted_at')
    _lead_outcomes()._allow_statuses(STATUSES_BEFORE)


def _lead_outcomes() -> ModuleType:
    """Migration 0011, whose status CHECK replacement (a table rebuild on SQLite) is reused."""
    path = next(Path(__file__).parent.glob("0011_*.py"))
    spec = importlib.util.spec_from_file_location("lead_outcomes_0011", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
