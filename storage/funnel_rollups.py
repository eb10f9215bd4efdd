"""The funnel's rollups (FunnelDay, FunnelTimeWeek), the triggers on leads that keep them, their
rebuild from the leads (migration 0028) and their sums over whole days and weeks.

A lead's part is, for everyone and for its source, campaign and segment: one lead entered on
the UTC day it was stored, and one for each stage it reached and each step it made with a
time, as storage.funnel_stages defines them; and its times to claim and to first contact,
each in its bucket (storage.tuning_rollups's) of its UTC week. The database moves that part
on every write to a lead, in the writer's transaction: intake, a move and its undo, an
outcome, new data, a rescore, a recycle, a promotion and an operator's own UPDATE alike, so no
path that writes a lead can leave the rollups behind. SQLite runs a trigger per row, which
takes away the old part and adds the new one; PostgreSQL one per statement, which sums a
whole batch's parts from its transition tables, each group's counts spread over SHARDS rows by
lead id so that concurrent writers rarely wait for each other's row lock.

A table rebuild of `leads` on SQLite (a migration's batch_alter_table) drops its triggers: such
a migration must call `create_triggers` again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    Row,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from storage.funnel_stages import STAGES, STEP_ORDER, TIMED, UNDER_THRESHOLD
from storage.models import FunnelDay, FunnelTimeWeek, Lead
from storage.tuning_rollups import BOUNDS_US

SHARDS = 8  # rows per group and day on PostgreSQL, by lead id; SQLite has one writer: one
# The groupings kept, each lead counted once in each ('all': everyone, value '').
GROUPINGS = ("all", "source", "campaign", "segment")
COUNTERS = (
    "entered",
    "under_threshold",
    *(stage for stage in STAGES if stage != "mql"),
    *(f"timed_{step}" for step in TIMED),
)
# What each counter but `entered` counts: the leads that meet its condition.
COUNTED: dict[str, ColumnElement[bool]] = {
    "under_threshold": UNDER_THRESHOLD,
    **{stage: condition for stage, condition in STAGES.items() if stage != "mql"},
    **{f"timed_{step}": condition for step, condition in TIMED.items()},
}
BUCKETED = tuple(STEP_ORDER)  # accepted, contacted
TRIGGERS = ("funnel_rollups_insert", "funnel_rollups_update", "funnel_rollups_delete")
_FUNCTION = "funnel_rollups_move"


def _bucket(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The bucket `value` (microseconds) falls in, as tuning_rollups.claim_bucket finds it."""
    bounds = [(value < bound, index - 1) for index, bound in enumerate(BOUNDS_US)]
    return case(*bounds, else_=len(BOUNDS_US) - 1)


def _parts_select(dialect: Dialect) -> str:
    """`SELECT <a lead's part> FROM leads`, one row per lead, compiled for `dialect` with every
    value inline (a trigger takes no parameters): its day, week and shard, its source, campaign
    and segment as kept ('' for none), 1 or 0 per counter, and the bucket of each BUCKETED
    step's time (NULL without one)."""
    if dialect.name == "sqlite":
        day: ColumnElement[Any] = func.date(Lead.created_at)
        week: ColumnElement[Any] = func.date(Lead.created_at, "weekday 0", "-6 days")
        shard: ColumnElement[Any] = literal(0)
    else:
        utc = func.timezone("UTC", Lead.created_at)
        day, week = cast(utc, Date), cast(func.date_trunc("week", utc), Date)
        shard = func.mod(Lead.id, SHARDS)
    columns = [
        day.label("day"),
        week.label("week"),
        shard.label("shard"),
        *(func.coalesce(func.trim(getattr(Lead, name)), "").label(name) for name in GROUPINGS[1:]),
        literal(1).label("entered"),
        *(case((condition, 1), else_=0).label(name) for name, condition in COUNTED.items()),
        *(
            case((TIMED[step], _bucket(time))).label(f"bucket_{step}")
            for step, time in STEP_ORDER.items()
        ),
    ]
    compiled = str(
        select(*columns)
        .select_from(Lead.__table__)
        .compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    assert compiled.endswith("\nFROM leads"), compiled
    return compiled.removesuffix("leads")


def _read_columns() -> list[str]:
    """The columns of leads a part reads (a trigger's row is read into these)."""
    names: set[str] = set()
    for expression in [*STAGES.values(), *TIMED.values(), *STEP_ORDER.values()]:
        for element in visitors.iterate(expression):
            if isinstance(element, Column) and element.table is Lead.__table__:
                names.add(element.name)
    return sorted({*names, "id", "created_at", *GROUPINGS[1:]})


def _shift_statements(dialect: Dialect, rows: Sequence[tuple[int, str]]) -> list[str]:
    """The two upserts that add each part of `rows` ((sign, a relation of leads' rows)) to the
    rollups, summed per row of each table, in key order (concurrent writers lock rows in one
    order, so they never wait on each other in a circle); rows left unchanged are not
    written."""
    parts = " UNION ALL ".join(
        f"SELECT {sign} AS sign, part.* FROM ({_parts_select(dialect)}{relation} AS leads) AS part"
        for sign, relation in rows
    )
    groupings = " UNION ALL ".join(f"SELECT '{name}' AS grouping" for name in GROUPINGS)
    value = (
        "CASE g.grouping "
        + " ".join(f"WHEN '{name}' THEN p.{name}" for name in GROUPINGS[1:])
        + " ELSE '' END"
    )
    grouped = f"FROM ({parts}) AS p CROSS JOIN ({groupings}) AS g"
    keys = "day, grouping, value, shard"
    day_rows = (
        f"SELECT p.day, g.grouping, {value} AS value, p.shard, "
        + ", ".join(f"p.sign * p.{name} AS {name}" for name in COUNTERS)
        + f" {grouped}"
    )
    sums = ", ".join(f"sum({name})" for name in COUNTERS)
    moved = " OR ".join(f"sum({name}) <> 0" for name in COUNTERS)
    days = (
        f"INSERT INTO funnel_days ({keys}, {', '.join(COUNTERS)}) "
        f"SELECT {keys}, {sums} FROM ({day_rows}) AS x WHERE true "
        f"GROUP BY {keys} HAVING {moved} ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET "
        + ", ".join(f"{name} = funnel_days.{name} + excluded.{name}" for name in COUNTERS)
    )
    steps = " UNION ALL ".join(f"SELECT '{step}' AS step" for step in BUCKETED)
    bucket = (
        "CASE s.step "
        + " ".join(f"WHEN '{step}' THEN p.bucket_{step}" for step in BUCKETED)
        + " END"
    )
    week_keys = "week, grouping, value, shard, step, bucket"
    week_rows = (
        f"SELECT p.week, g.grouping, {value} AS value, p.shard, s.step, {bucket} AS bucket, "
        f"p.sign {grouped} CROSS JOIN ({steps}) AS s"
    )
    weeks = (
        f"INSERT INTO funnel_time_weeks ({week_keys}, leads) "
        f"SELECT {week_keys}, sum(sign) FROM ({week_rows}) AS x WHERE bucket IS NOT NULL "
        f"GROUP BY {week_keys} HAVING sum(sign) <> 0 ORDER BY {week_keys} "
        f"ON CONFLICT ({week_keys}) DO UPDATE SET leads = funnel_time_weeks.leads + excluded.leads"
    )
    return [days, weeks]


def _row_of(which: str) -> str:
    """A SQLite trigger's OLD or NEW row as a relation of the columns a part reads."""
    columns = ", ".join(f"{which}.{name} AS {name}" for name in _read_columns())
    return f"(SELECT {columns})"


def create_triggers(connection: Connection) -> None:
    """Create the triggers that keep the rollups (see the module's docstring)."""
    dialect = connection.dialect
    for statement in _trigger_ddl(dialect):
        connection.execute(text(statement))


def drop_triggers(connection: Connection) -> None:
    for name in TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}" + _on_leads(connection)))
    if connection.dialect.name != "sqlite":
        connection.execute(text(f"DROP FUNCTION IF EXISTS {_FUNCTION}()"))


def _on_leads(connection: Connection) -> str:
    return "" if connection.dialect.name == "sqlite" else " ON leads"


def _trigger_ddl(dialect: Dialect) -> list[str]:
    insert, update, delete_ = TRIGGERS
    if dialect.name == "sqlite":
        read = _read_columns()
        changed = " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in read)

        def body(rows: Sequence[tuple[int, str]]) -> str:
            return "BEGIN " + "; ".join(_shift_statements(dialect, rows)) + "; END"

        old, new = (-1, _row_of("OLD")), (1, _row_of("NEW"))
        return [
            f"CREATE TRIGGER {insert} AFTER INSERT ON leads {body([new])}",
            f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(read)} ON leads "
            f"WHEN {changed} {body([old, new])}",
            f"CREATE TRIGGER {delete_} AFTER DELETE ON leads {body([old])}",
        ]
    old, new = (-1, "old_rows"), (1, "new_rows")

    def branch(rows: Sequence[tuple[int, str]]) -> str:
        return "; ".join(_shift_statements(dialect, rows)) + ";"

    # A statement trigger cannot name columns: an UPDATE that changes none a part reads (an
    # offer, a timer's bookkeeping) is told apart here, before anything is summed.
    def row(which: str) -> str:
        return "ROW(" + ", ".join(f"CAST({which}.{name} AS TEXT)" for name in _read_columns()) + ")"

    moved = (
        "EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id "
        f"WHERE {row('o')} IS DISTINCT FROM {row('n')})"
    )
    function = (
        f"CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$ BEGIN "
        f"IF TG_OP = 'INSERT' THEN {branch([new])} "
        f"ELSIF TG_OP = 'UPDATE' THEN IF {moved} THEN {branch([old, new])} END IF; "
        f"ELSE {branch([old])} END IF; RETURN NULL; END $body$"
    )
    each = f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()"
    return [
        function,
        f"CREATE TRIGGER {insert} AFTER INSERT ON leads REFERENCING NEW TABLE AS new_rows {each}",
        f"CREATE TRIGGER {update} AFTER UPDATE ON leads "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {each}",
        f"CREATE TRIGGER {delete_} AFTER DELETE ON leads REFERENCING OLD TABLE AS old_rows {each}",
    ]


def rebuild(session: Session) -> None:
    """Count every lead in the rollups afresh (a migration adding them, a seeded database)."""
    for table in (FunnelDay, FunnelTimeWeek):
        session.execute(delete(table))
    for statement in _rebuild_statements(session.get_bind().dialect):
        session.execute(text(statement))


@functools.cache
def _rebuild_statements(dialect: Dialect) -> list[str]:
    return _shift_statements(dialect, [(1, "leads")])


def day_sums(
    session: Session, *, grouping: str, days: Iterable[tuple[date, date]], per_day: bool
) -> list[Row[tuple[Any, ...]]]:
    """The FunnelDay counters of `grouping` over the days of each [first, last) in `days`,
    summed per value (or per day, when `per_day`): (value or day, *COUNTERS)."""
    ranges = [(FunnelDay.day >= first) & (FunnelDay.day < last) for first, last in days]
    if not ranges:
        return []
    key = FunnelDay.day if per_day else FunnelDay.value
    sums = [func.sum(getattr(FunnelDay, name)).label(name) for name in COUNTERS]
    query = (
        select(key, *sums)
        .where(FunnelDay.grouping == grouping, or_(*ranges))
        .group_by(key)
        .having(sums[0] != 0)
    )
    return list(session.execute(query))


def week_buckets(
    session: Session, *, grouping: str, weeks: Iterable[tuple[date, date]], per_week: bool
) -> Iterable[tuple[Any, str, int, int]]:
    """The FunnelTimeWeek counts of `grouping` over the weeks (Mondays) of each [first, last)
    in `weeks`, summed per value (or per week, when `per_week`), step and bucket:
    (value or week, step, bucket, leads)."""
    ranges = [
        (FunnelTimeWeek.week >= first) & (FunnelTimeWeek.week < last) for first, last in weeks
    ]
    if not ranges:
        return []
    key = FunnelTimeWeek.week if per_week else FunnelTimeWeek.value
    keys = (key, FunnelTimeWeek.step, FunnelTimeWeek.bucket)
    leads = func.sum(FunnelTimeWeek.leads)
    query = (
        select(*keys, leads)
        .where(FunnelTimeWeek.grouping == grouping, or_(*ranges))
        .group_by(*keys)
        .having(leads != 0)
    )
    return session.execute(query).tuples()
