"""The funnel's rollups (FunnelDay, FunnelTimeWeek), the triggers on leads that keep them, their
rebuild from the leads (migration 0028) and their sums over whole days and weeks.

A lead's part is, for its source, campaign and segment: one lead entered on the UTC day it was
stored, and one for each stage it reached and each step it made with a time, as
storage.funnel_stages defines them; and the time of each step it made (to SQL, to claim, to first
contact, to a deal, to its win), each in its bucket (storage.tuning_rollups's) of its UTC week. The
database moves that part on every write to a lead, in the writer's transaction: intake, a move and
its undo, an outcome, new data, a rescore, a recycle, a promotion and an operator's own UPDATE
alike, so no path that writes a lead can leave the rollups behind. SQLite runs a trigger per row,
which takes away the old part and adds the new one; PostgreSQL one per statement, which sums a
whole batch's parts from its transition tables, each group's counts spread over SHARDS rows by the
writer's session so that concurrent writers rarely wait for each other's row lock.

A table rebuild of `leads` on SQLite (a migration's batch_alter_table) drops its triggers: such a
migration must call `create_triggers` again.
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

from storage.funnel_stages import STAGES, TIMED, UNDER_THRESHOLD, stage_times
from storage.models import FunnelDay, FunnelTimeWeek, Lead
from storage.tuning_rollups import BOUNDS_US

SHARDS = 8  # rows per group and day on PostgreSQL, by session; SQLite has one writer: one
# The groupings kept, each lead counted once in each (its value '' for none).
GROUPINGS = ("source", "campaign", "segment")
# Every lead has one segment, so the segments' rows of times sum to everyone's: a trigger
# writes one row fewer per time than if everyone had rows of their own.
EVERYONE = "segment"
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
BUCKETED = tuple(TIMED)  # every step after the first: sql, accepted, … won
EVENTS = ("insert", "update", "delete")
# PostgreSQL: one trigger per event for both tables; SQLite: one per table and event.
TRIGGERS = (
    *(f"funnel_rollups_{event}" for event in EVENTS),
    *(f"funnel_{table}_{event}" for table in ("days", "weeks") for event in EVENTS),
)
# What of a part each table's rows are keyed and counted by.
DAY_PART = ("day", "shard", *GROUPINGS, *COUNTERS)
WEEK_PART = ("week", "shard", *GROUPINGS, *(f"bucket_{step}" for step in BUCKETED))
_FUNCTION = "funnel_rollups_move"


def _bucket(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The bucket `value` (microseconds) falls in, as tuning_rollups.claim_bucket finds it."""
    bounds = [(value < bound, index - 1) for index, bound in enumerate(BOUNDS_US)]
    return case(*bounds, else_=len(BOUNDS_US) - 1)


@functools.cache
def _part(dialect: Dialect) -> dict[str, str]:
    """Each value of a lead's part as SQL over the columns of `leads`, compiled for `dialect`
    with every value inline (a trigger takes no parameters): its day, week and shard, its
    source, campaign and segment as kept ('' for none), 1 or 0 per counter, and the bucket of
    each BUCKETED step's time (NULL without one)."""
    if dialect.name == "sqlite":
        day: ColumnElement[Any] = func.date(Lead.created_at)
        week: ColumnElement[Any] = func.date(Lead.created_at, "weekday 0", "-6 days")
        shard: ColumnElement[Any] = literal(0)
    else:
        utc = func.timezone("UTC", Lead.created_at)
        day, week = cast(utc, Date), cast(func.date_trunc("week", utc), Date)
        # The writer's session picks the shard: a batch writes one row per group, and two
        # sessions at once mostly write different rows. A lead's part may leave a row other
        # than the one it was added to; the report sums every shard.
        shard = func.mod(func.pg_backend_pid(), SHARDS)
    values: dict[str, ColumnElement[Any]] = {
        "day": day,
        "week": week,
        "shard": shard,
        **{name: func.coalesce(func.trim(getattr(Lead, name)), "") for name in GROUPINGS},
        "entered": literal(1),
        **{name: case((condition, 1), else_=0) for name, condition in COUNTED.items()},
        **{
            f"bucket_{step}": case((TIMED[step], _bucket(time)))
            for step, time in stage_times(dialect.name).items()
        },
    }
    inline = {"literal_binds": True}
    return {
        name: str(value.compile(dialect=dialect, compile_kwargs=inline))
        for name, value in values.items()
    }


def _read_columns() -> list[str]:
    """The columns of leads a part reads (a trigger's row is read into these)."""
    names: set[str] = set()
    times = stage_times("sqlite").values()
    for expression in [*STAGES.values(), *TIMED.values(), *times]:
        for element in visitors.iterate(expression):
            if isinstance(element, Column) and element.table is Lead.__table__:
                names.add(element.name)
    return sorted({*names, "id", "created_at", *GROUPINGS})


_GROUPINGS = " UNION ALL ".join(f"SELECT '{name}' AS grouping" for name in GROUPINGS)
_STEPS = " UNION ALL ".join(f"SELECT '{step}' AS step" for step in BUCKETED)
_DAY_KEYS = f"day, {', '.join(GROUPINGS)}, shard"
_WEEK_KEYS = "week, grouping, value, shard, step, bucket"
_ADD_DAYS = (
    f"INSERT INTO funnel_days ({_DAY_KEYS}, {', '.join(COUNTERS)}) {{rows}} "
    f"ON CONFLICT ({_DAY_KEYS}) DO UPDATE SET "
    + ", ".join(f"{name} = funnel_days.{name} + excluded.{name}" for name in COUNTERS)
)
_ADD_WEEKS = (
    f"INSERT INTO funnel_time_weeks ({_WEEK_KEYS}, leads) {{rows}} "
    f"ON CONFLICT ({_WEEK_KEYS}) DO UPDATE SET leads = funnel_time_weeks.leads + excluded.leads"
)


def _value(part: dict[str, str]) -> str:
    """A part's value for the grouping `g.grouping`."""
    named = " ".join(f"WHEN '{name}' THEN {part[name]}" for name in GROUPINGS)
    return f"CASE g.grouping {named} END"


def _bucket_of_step(part: dict[str, str]) -> str:
    named = " ".join(f"WHEN '{step}' THEN {part[f'bucket_{step}']}" for step in BUCKETED)
    return f"CASE s.step {named} END"


def _summed_shifts(dialect: Dialect, rows: Sequence[tuple[int, str]]) -> list[str]:
    """The two upserts that add each part of `rows` ((sign, a relation of leads' rows)) to the
    rollups, summed per row of each table first (a batch is a few rows per group), in key
    order (concurrent writers lock rows in one order, so they never wait on each other in a
    circle); rows left unchanged are not written. For a statement's rows (PostgreSQL) and a
    rebuild."""
    fields = _part(dialect)
    columns = ", ".join(f"{sql} AS {name}" for name, sql in fields.items())
    parts = " UNION ALL ".join(
        f"SELECT {sign} AS sign, {columns} FROM {relation} AS leads" for sign, relation in rows
    )
    part = {name: f"p.{name}" for name in fields}
    grouped = f"FROM ({parts}) AS p CROSS JOIN ({_GROUPINGS}) AS g"
    day_rows = (
        f"SELECT {_DAY_KEYS}, "
        + ", ".join(f"sign * {name} AS {name}" for name in COUNTERS)
        + f" FROM ({parts}) AS p"
    )
    sums = ", ".join(f"sum({name})" for name in COUNTERS)
    moved = " OR ".join(f"sum({name}) <> 0" for name in COUNTERS)
    days = _ADD_DAYS.format(
        rows=f"SELECT {_DAY_KEYS}, {sums} FROM ({day_rows}) AS x WHERE true "
        f"GROUP BY {_DAY_KEYS} HAVING {moved} ORDER BY {_DAY_KEYS}"
    )
    week_rows = (
        f"SELECT p.week, g.grouping, {_value(part)} AS value, p.shard, s.step, "
        f"{_bucket_of_step(part)} AS bucket, p.sign {grouped} CROSS JOIN ({_STEPS}) AS s"
    )
    weeks = _ADD_WEEKS.format(
        rows=f"SELECT {_WEEK_KEYS}, sum(sign) FROM ({week_rows}) AS x "
        f"WHERE bucket IS NOT NULL GROUP BY {_WEEK_KEYS} HAVING sum(sign) <> 0 "
        f"ORDER BY {_WEEK_KEYS}"
    )
    return [days, weeks]


def _row_shifts(dialect: Dialect, which: str, sign: int) -> list[str]:
    """The two upserts that add (`sign` 1) or take away (-1) the part of a SQLite trigger's
    `which` row (OLD or NEW): its day's one row, its times' row per grouping; nothing to sum,
    so no sorting."""
    part = {name: sql.replace("leads.", f"{which}.") for name, sql in _part(dialect).items()}
    signed = "" if sign > 0 else "-"
    keys = [part[name] for name in ("day", *GROUPINGS, "shard")]
    counted = [f"{signed}({part[name]})" for name in COUNTERS]
    days = _ADD_DAYS.format(rows=f"VALUES ({', '.join(keys + counted)})")
    bucket = _bucket_of_step(part)
    weeks = _ADD_WEEKS.format(
        rows=f"SELECT {part['week']}, g.grouping, {_value(part)}, {part['shard']}, s.step, "
        f"{bucket}, {sign} FROM ({_GROUPINGS}) AS g CROSS JOIN ({_STEPS}) AS s "
        f"WHERE {bucket} IS NOT NULL"
    )
    return [days, weeks]


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
    if dialect.name == "sqlite":
        return _sqlite_triggers(dialect)
    insert, update, delete_ = TRIGGERS[:3]
    old, new = (-1, "old_rows"), (1, "new_rows")

    def branch(rows: Sequence[tuple[int, str]]) -> str:
        return "; ".join(_summed_shifts(dialect, rows)) + ";"

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


def _sqlite_triggers(dialect: Dialect) -> list[str]:
    """Per table, a trigger for each event, each firing only when its rows move: most moves
    change a lead's status and not its stages, and a new lead has no time yet, so it fires
    neither; a trigger's program costs about as much as its writes."""
    part = _part(dialect)

    def values(which: str, names: Sequence[str]) -> str:
        """The trigger's `which` row's `names` of its part, as a row value."""
        return "(" + ", ".join(part[name].replace("leads.", f"{which}.") for name in names) + ")"

    def bucketed(which: str) -> str:
        return " OR ".join(f"{values(which, [f'bucket_{step}'])} IS NOT NULL" for step in BUCKETED)

    read = ", ".join(_read_columns())
    ddl = []
    for index, (table, names) in enumerate((("days", DAY_PART), ("weeks", WEEK_PART))):
        insert, update, delete_ = (f"funnel_{table}_{event}" for event in EVENTS)
        added, taken = _row_shifts(dialect, "NEW", 1)[index], _row_shifts(dialect, "OLD", -1)[index]
        when_new = "" if table == "days" else f" WHEN {bucketed('NEW')}"
        when_old = "" if table == "days" else f" WHEN {bucketed('OLD')}"
        moved = f"{values('OLD', names)} IS NOT {values('NEW', names)}"
        ddl += [
            f"CREATE TRIGGER {insert} AFTER INSERT ON leads{when_new} BEGIN {added}; END",
            f"CREATE TRIGGER {update} AFTER UPDATE OF {read} ON leads WHEN {moved} "
            f"BEGIN {taken}; {added}; END",
            f"CREATE TRIGGER {delete_} AFTER DELETE ON leads{when_old} BEGIN {taken}; END",
        ]
    return ddl


def rebuild(session: Session) -> None:
    """Count every lead in the rollups afresh (a migration adding them, a seeded database)."""
    for table in (FunnelDay, FunnelTimeWeek):
        session.execute(delete(table))
    for statement in _rebuild_statements(session.get_bind().dialect):
        session.execute(text(statement))


@functools.cache
def _rebuild_statements(dialect: Dialect) -> list[str]:
    return _summed_shifts(dialect, [(1, "leads")])


def day_sums(
    session: Session, *, by: str | None, days: Iterable[tuple[date, date]]
) -> list[Row[tuple[Any, ...]]]:
    """The FunnelDay counters over the days of each [first, last) in `days`, summed per value
    of `by` (a grouping, or `day`; '' for all when None): (value or day, *COUNTERS)."""
    ranges = [(FunnelDay.day >= first) & (FunnelDay.day < last) for first, last in days]
    if not ranges:
        return []
    key = literal("") if by is None else getattr(FunnelDay, by)
    sums = [func.sum(getattr(FunnelDay, name)).label(name) for name in COUNTERS]
    query = select(key, *sums).where(or_(*ranges)).group_by(key).having(sums[0] != 0)
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
    return session.execute(query)
