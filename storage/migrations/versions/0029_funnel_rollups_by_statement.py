"""funnel rollups counted by statement for a batch

On PostgreSQL, an INSERT of many leads (a batch, an import) may have its leads counted in the
funnel's rollups by a trigger per statement, summed per row of the rollups, instead of by the
triggers per row (storage.funnel_by_statement): a thousand leads' rows took 35-48 ms of the
database's time, their statement a few. SQLite's triggers are made again as they were.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 21:12:28.658631
"""

from collections.abc import Sequence

from alembic import op

from storage import funnel_rollups


revision: str = '0029'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    funnel_rollups.drop_triggers(op.get_bind())
    funnel_rollups.create_triggers(op.get_bind(), bounds_table=False)


def downgrade() -> None:
    funnel_rollups.drop_triggers(op.get_bind())
    funnel_rollups.create_triggers(op.get_bind(), by_statement=False, bounds_table=False)
