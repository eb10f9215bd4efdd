"""funnel step time indexes

The funnel's medians of the times to SQL, to opportunity and to won, which are computed from
two moments of a lead, walk an index on that expression inside the median's bucket, as the
times to claim and to contact walk theirs, instead of a grouped count over the period's leads
(storage.funnel_stages.step_time_indexes). Partial: only the leads that made the step, so a new
lead writes none of them. Their expressions differ by database, so storage.models leaves them
out (storage.migrate.UNMODELLED_INDEXES).

The rollups' triggers are made again as storage.funnel_rollups writes them now (on SQLite a
bucket is found by a binary search of the bounds); they count as before.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 21:08:28.823199
"""

from collections.abc import Sequence

from alembic import op

from storage import funnel_rollups
from storage.funnel_stages import STEP_TIME_INDEX, step_time_indexes

revision: str = '0030'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in step_time_indexes(op.get_bind().dialect).values():
        op.execute(statement)
    funnel_rollups.drop_triggers(op.get_bind())
    funnel_rollups.create_triggers(op.get_bind(), bounds_table=False)


def downgrade() -> None:
    for step in step_time_indexes(op.get_bind().dialect):
        op.execute(f"DROP INDEX IF EXISTS {STEP_TIME_INDEX.format(step=step)}")
