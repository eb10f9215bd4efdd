"""The funnel's rollups (FunnelDay, FunnelTimeWeek), the triggers on leads that keep them, their
rebuild from the leads (migration 0028) and their sums over whole days and weeks.

A lead's part is, for its source, campaign and segment: one lead entered on the UTC day it was
stored, and one for each stage it reached and each step it made with a time, as
storage.funnel_stages defines them; and the time of each step it made (to SQL, to claim, to first
contact, to a deal, to its win), each in its bucket (storage.tuning_rollups's) of its UTC week. The
database moves that part on every write to a lead, in the writer's transaction: intake, a move and
its undo, an outcome, new data, a rescore, a recycle, a promotion and an operator's own UPDATE
alike, so no path that writes a lead can leave the rollups behind. A trigger per row takes away
the old part and adds the new one, only when they differ; on PostgreSQL each group's counts are
spread over SHARDS rows by the writer's session, so that concurrent writers rarely wait for each
other's row lock. On PostgreSQL, an INSERT of many leads (a batch) may ask instead
(storage.funnel_by_statement) for its leads to be counted by a trigger per statement, which
sums them per row of the rollups first (migration 0029).

A table rebuild of `leads` on SQLite (a migration's batch_alter_table) drops its triggers and its
indexes on expressions: such a migration must call `create_triggers` again and run
storage.funnel_stages.step_time_indexes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    Integer,
    Row,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from storage.funnel_by_statement import ROW_BY_ROW
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
# One per table and event (each with its function on PostgreSQL).
TRIGGERS = tuple(f"funnel_{table}_{event}" for table in ("days", "weeks") for event in EVENTS)
# PostgreSQL's trigger per INSERT statement (and its function), which counts the statement's new
# leads when the transaction asked for it (storage.funnel_by_statement); else the rows' do.
STATEMENT_TRIGGER = "funnel_inserted"
# What of a part each table's rows are keyed and counted by.
DAY_PART = ("day", "shard", *GROUPINGS, *COUNTERS)
WEEK_PART = ("week", "shard", *GROUPINGS, *(f"bucket_{step}" for step in BUCKETED))


def bucket_of(value: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The bucket `value` (microseconds) falls in, as tuning_rollups.claim_bucket finds it:
    on PostgreSQL by width_bucket, which reads `value` once (a CASE of the bounds repeats it
    in every branch, and a trigger's condition of five such took 10 ms to set up a row); on
    SQLite, which has none, by a binary search of the bounds in nested CASEs (7 comparisons,
    where one CASE of every bound took 40 on average). NULL (no time) is in none."""
    if dialect != "sqlite":
        bounds = postgresql.array([literal(bound, BigInteger) for bound in BOUNDS_US])
        return func.width_bucket(value, bounds) - 1

    def among(first: int, last: int) -> ColumnElement[Any]:
        """The bucket, knowing that `value` is at least every bound before `first` and below
        every bound from `last` on."""
        if first == last:
            return literal(first - 1)
        middle = (first + last) // 2
        below = value < literal_column(str(BOUNDS_US[middle]), BigInteger)
        return case((below, among(first, middle)), else_=among(middle + 1, last))

    return case((value.is_not(None), among(0, len(BOUNDS_US))))


def _bucket_of_time(
    time: ColumnElement[Any], dialect: Dialect, *, bounds_table: bool
) -> ColumnElement[Any]:
    """bucket_of a step's time; on SQLite by one seek in funnel_bucket_bounds (migration 0031),
    or without `bounds_table` by the search of bucket_of over the time computed once in a
    subquery. SQLite keeps every trigger parsed in each of its connections, and the search
    written inline repeats the time's expression in each of its 80 comparisons: 578 KB of SQL,
    7 MB a connection (the subquery's 255 KB, 3 MB; the table's 2 KB)."""
    if dialect.name != "sqlite":
        return bucket_of(time, dialect.name)
    inline = {"literal_binds": True}
    computed = time.compile(dialect=dialect, compile_kwargs=inline)
    if bounds_table:
        return literal_column(
            f"(SELECT bucket FROM funnel_bucket_bounds WHERE lower_us <= {computed} "
            "ORDER BY lower_us DESC LIMIT 1)",
            Integer,
        )
    search = bucket_of(literal_column("step_time.us", BigInteger), dialect.name)
    searched = search.compile(dialect=dialect, compile_kwargs=inline)
    return literal_column(
        f"(SELECT {searched} FROM (SELECT {computed} AS us) AS step_time)", Integer
    )


def bucket_bounds() -> list[dict[str, int]]:
    """The rows of funnel_bucket_bounds: each bucket's lower bound, and -1 below zero."""
    below_zero = {"lower_us": -(2**63), "bucket": -1}
    return [below_zero, *({"lower_us": us, "bucket": n} for n, us in enumerate(BOUNDS_US))]


@functools.cache
def _part(dialect: Dialect, *, bounds_table: bool = True) -> dict[str, str]:
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
            f"bucket_{step}": case(
                (TIMED[step], _bucket_of_time(time, dialect, bounds_table=bounds_table))
            )
            for step, time in stage_times(dialect.name).items()
        },
    }
    inline = {"literal_binds": True}
    return {
        name: str(value.compile(dialect=dialect, compile_kwargs=inline))
        for name, value in values.items()
    }


def _read_columns(*expressions: ColumnElement[Any]) -> list[str]:
    """The columns of leads a part reads (of `expressions`, else of all of it), and those that
    key its rows."""
    if not expressions:
        expressions = (*STAGES.values(), *TIMED.values(), *stage_times("sqlite").values())
    names: set[str] = set()
    for expression in expressions:
        for element in visitors.iterate(expression):
            if isinstance(element, Column) and element.table is Lead.__table__:
                names.add(element.name)
    return sorted({*names, "created_at", *GROUPINGS})


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


def _summed_shifts(
    dialect: Dialect, rows: Sequence[tuple[int, str]], *, bounds_table: bool = True
) -> list[str]:
    """The two upserts that add each part of `rows` ((sign, a relation of leads' rows)) to the
    rollups, summed per row of each table first, in key order; rows left unchanged are not
    written. A rebuild counts every lead so."""
    fields = _part(dialect, bounds_table=bounds_table)
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


def _row_shifts(dialect: Dialect, which: str, sign: int, *, bounds_table: bool) -> list[str]:
    """The two upserts that add (`sign` 1) or take away (-1) the part of a SQLite trigger's
    `which` row (OLD or NEW): its day's one row, its times' row per grouping; nothing to sum,
    so no sorting."""
    fields = _part(dialect, bounds_table=bounds_table)
    part = {name: sql.replace("leads.", f"{which}.") for name, sql in fields.items()}
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


def create_triggers(
    connection: Connection, *, by_statement: bool = True, bounds_table: bool = True
) -> None:
    """Create the triggers that keep the rollups (see the module's docstring); without
    `by_statement`, as migration 0028 made them: PostgreSQL's leads counted row by row always;
    without `bounds_table`, SQLite's buckets found as before migration 0031 (_bucket_of_time)."""
    dialect = connection.dialect
    ddl = _trigger_ddl(dialect, by_statement=by_statement, bounds_table=bounds_table)
    for statement in ddl:
        connection.execute(text(statement))


def drop_triggers(connection: Connection) -> None:
    on_leads = "" if connection.dialect.name == "sqlite" else " ON leads"
    for name in (*TRIGGERS, STATEMENT_TRIGGER):
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}{on_leads}"))
        if connection.dialect.name != "sqlite":
            connection.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


def _timing() -> list[ColumnElement[Any]]:
    """What the buckets of a lead's times read."""
    return [*TIMED.values(), *stage_times("postgresql").values()]


def _as_text(which: str, name: str) -> str:
    """A trigger row's column, comparable whatever its type (json has no equality)."""
    return f"CAST({which}.{name} AS TEXT)" if name == "score_explanation" else f"{which}.{name}"


def _trigger_ddl(dialect: Dialect, *, by_statement: bool, bounds_table: bool) -> list[str]:
    """Per table, a trigger for each event and row, each firing only when its rows move: most
    moves change a lead's status and not its stages, and a new lead has no time yet, so it
    fires neither. A row's trigger on PostgreSQL too: a statement's, with its transition
    tables, is planned again on every call (2-3 ms, however few its rows), and a batch's rows
    are a few rows of the rollups each, whose locks the transaction holds already. There,
    `by_statement` adds a statement's trigger for INSERTs that asked for it
    (storage.funnel_by_statement), and the inserts' row triggers stand aside for them."""
    sqlite = dialect.name == "sqlite"
    by_statement = by_statement and not sqlite
    part = _part(dialect, bounds_table=bounds_table)

    def values(which: str, names: Sequence[str]) -> str:
        """The trigger's `which` row's `names` of its part, as a row value."""
        return "(" + ", ".join(part[name].replace("leads.", f"{which}.") for name in names) + ")"

    def bucketed(which: str) -> str:
        """The row made a step with a time, told by its columns alone."""
        return " OR ".join(f"({timed[step].replace('leads.', f'{which}.')})" for step in BUCKETED)

    inline = {"literal_binds": True}
    timed = {
        step: str(condition.compile(dialect=dialect, compile_kwargs=inline))
        for step, condition in TIMED.items()
    }

    differs = "IS NOT" if sqlite else "IS DISTINCT FROM"
    read = ", ".join(_read_columns())
    ddl = []
    for index, (table, names) in enumerate((("days", DAY_PART), ("weeks", WEEK_PART))):
        compared = [name for name in names if name != "shard"]
        added = _row_shifts(dialect, "NEW", 1, bounds_table=bounds_table)[index]
        taken = _row_shifts(dialect, "OLD", -1, bounds_table=bounds_table)[index]
        moved = f"{values('OLD', compared)} {differs} {values('NEW', compared)}"
        if not sqlite:
            # The columns compared, not the parts: PostgreSQL sets up a trigger's condition for
            # each statement, and the parts' expressions took it 1 ms an UPDATE.
            columns = _read_columns(*(COUNTED.values() if table == "days" else _timing()))
            moved = " OR ".join(
                f"{_as_text('OLD', name)} IS DISTINCT FROM {_as_text('NEW', name)}"
                for name in columns
            )
            if table == "weeks":
                moved = f"({moved}) AND ({bucketed('OLD')} OR {bucketed('NEW')})"
        inserted = "" if table == "days" else bucketed("NEW")
        if by_statement:
            inserted = f"({inserted}) AND {ROW_BY_ROW}" if inserted else ROW_BY_ROW
        for event, when, body in (
            ("insert", inserted, [added]),
            ("update", moved, [taken, added]),
            ("delete", "" if table == "days" else bucketed("OLD"), [taken]),
        ):
            name = f"funnel_{table}_{event}"
            on = f"AFTER {f'UPDATE OF {read}' if event == 'update' else event.upper()} ON leads"
            condition = f" WHEN ({when})" if when else ""
            statements = "; ".join(body)
            if sqlite:
                ddl.append(
                    f"CREATE TRIGGER {name} {on} FOR EACH ROW{condition} BEGIN {statements}; END"
                )
                continue
            ddl += [
                # Compiling these statements to machine code (a plan's cost passes
                # jit_above_cost) took 1.5 s a batch; run as they are, milliseconds.
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off "
                f"AS $body$ BEGIN {statements}; RETURN NULL; END $body$",
                f"CREATE TRIGGER {name} {on} FOR EACH ROW{condition} EXECUTE FUNCTION {name}()",
            ]
    if by_statement:
        ddl += _statement_trigger_ddl(dialect, bucketed("leads"))
    return ddl


def _statement_trigger_ddl(dialect: Dialect, bucketed: str) -> list[str]:
    """PostgreSQL's trigger that counts an INSERT's new leads, summed per row of the rollups
    (as a rebuild does), when the transaction asked for it (storage.funnel_by_statement).
    Every INSERT keeps its new rows for it (a transition table), which a row costs little.
    Only the leads `bucketed` (with a time, which a new lead mostly lacks) are given to the
    times' upsert, which would otherwise take each lead apart for each grouping and step."""
    name = STATEMENT_TRIGGER
    days = _summed_shifts(dialect, [(1, "inserted")])[0]
    timed = f"(SELECT * FROM inserted AS leads WHERE {bucketed})"
    statements = f"{days}; {_summed_shifts(dialect, [(1, timed)])[1]}"
    return [
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off "
        f"AS $body$ BEGIN IF NOT ({ROW_BY_ROW}) THEN {statements}; END IF; "
        "RETURN NULL; END $body$",
        f"CREATE TRIGGER {name} AFTER INSERT ON leads REFERENCING NEW TABLE AS inserted "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    ]


def rebuild(session: Session, *, bounds_table: bool = True) -> None:
    """Count every lead in the rollups afresh (a migration adding them, a seeded database);
    `bounds_table` as create_triggers takes it."""
    for table in (FunnelDay, FunnelTimeWeek):
        session.execute(delete(table))
    for statement in _rebuild_statements(session.get_bind().dialect, bounds_table):
        session.execute(text(statement))


@functools.cache
def _rebuild_statements(dialect: Dialect, bounds_table: bool) -> list[str]:
    return _summed_shifts(dialect, [(1, "leads")], bounds_table=bounds_table)


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
