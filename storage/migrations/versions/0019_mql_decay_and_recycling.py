"""mql decay and recycling

An MQL gone cold is recycled: the leads' status can now be 'recycled'. A lead remembers when the
scoring model last scored it (the daily decay rescores an MQL a day later) and the time of its
latest activity (recycling counts from it). Past leads get neither: the decay scores them at its
first run, and recycling counts from when they were stored.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 19:45:00.000000
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

import storage.models

STATUSES_BEFORE = (
    "'mql', 'new', 'open', 'escalated', 'accepted', 'rejected', 'contacted', 'opportunity', "
    "'won', 'lost'"
)
STATUSES = f"'recycled', {STATUSES_BEFORE}"

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('scored_at', storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('last_activity_at', storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    _lead_outcomes()._allow_statuses(STATUSES)


def downgrade() -> None:
    op.execute("UPDATE leads SET status = 'mql' WHERE status = 'recycled'")  # still marketing's
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('last_activity_at')
        batch_op.drop_column('scored_at')
    _lead_outcomes()._allow_statuses(STATUSES_BEFORE)


def _lead_outcomes() -> ModuleType:
    """Migration 0011, whose status CHECK replacement (a table rebuild on SQLite) is reused."""
    path = next(Path(__file__).parent.glob("0011_*.py"))
    spec = importlib.util.spec_from_file_location("lead_outcomes_0011", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
