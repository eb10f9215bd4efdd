"""Many rows of one table in one statement, their values put in the database's form directly.

Intake inserts its leads, and appends an event and an outbox row per lead. Through a Core
executemany, SQLAlchemy prepares every value of every row (a datetime formatted, a dict
serialized) and psycopg then sends the rows one by one: per lead, more CPU than the INSERT costs
the database. Here PostgreSQL takes the rows as one JSON text (encoded in C) and SQLite takes
multi-row VALUES statements of plain values, each prepared by its column's own bind processor,
once per distinct object: a batch's rows share one `now`, formatted once; a JSON column's value
is encoded by orjson, as PostgreSQL's rows are.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Dialect, Integer, Table
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from storage.models import Base

# Rows one multi-row INSERT takes on SQLite. Each connection keeps the statements it prepared
# (storage.db.SQLITE_CACHED_STATEMENTS), and a prepared statement grows faster than its rows:
# one of 800 rows of 40 values held 3.4 MB, one of 100 rows 0.18 MB. A thousand rows took as
# long to insert either way.
SQLITE_ROWS_PER_INSERT = 100


def insert_rows(
    connection: Connection, entity: type[Base], rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (each naming the same columns) into the entity's table, in their order:
    ids ascend as the rows do, so an ordered queue (the outbox) keeps the order it was given."""
    if not rows:
        return
    table = entity.__table__
    assert isinstance(table, Table)
    names = tuple(rows[0])
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_postgresql_insert(table, names), (json_text(rows),))
        return
    start, row_marks, processors = _sqlite_insert(table, names, connection.dialect)
    _sqlite_in_statements(
        connection, start, row_marks, "", list(_sqlite_values(rows, names, processors))
    )


def insert_per_key(
    connection: Connection,
    entity: type[Base],
    shared: Mapping[str, Any],
    column: str,
    keys: Sequence[int],
) -> None:
    """INSERT one row per integer in `keys`, in their order (ids ascend as the keys do), each
    holding its key in `column` and the `shared` values in the others, as `insert_rows` would
    insert them. PostgreSQL takes the shared values once and the keys as one array: a batch
    of leads queues a thousand cards that differ only in their lead, and the server read each
    of them from JSON."""
    if not keys:
        return
    table = entity.__table__
    assert isinstance(table, Table)
    if connection.dialect.name != "postgresql":
        insert_rows(connection, entity, [{**shared, column: key} for key in keys])
        return
    names = tuple(name for name in shared if name != column)
    array = "{" + ",".join(str(int(key)) for key in keys) + "}"
    sql = _postgresql_per_key(table, names, column)
    connection.exec_driver_sql(sql, (json_text(shared), array))


@dataclass(frozen=True)
class SqliteRows:
    """Rows in a SQLite INSERT's form: the columns they name (those they left out with a
    Python-side default among them), and each row's values prepared by its column's bind
    processor."""

    names: tuple[str, ...]
    values: list[tuple[Any, ...]]


def sqlite_rows(
    entity: type[Base], rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> SqliteRows:
    """`rows` (each naming the same columns) made ready for `insert_new_sqlite`: a column left
    out gets its Python-side default, as SQLAlchemy's insert gives it. No connection is
    needed, so a batch is made ready before its write turn."""
    table = entity.__table__
    assert isinstance(table, Table)
    if not rows:
        return SqliteRows((), [])
    constants, made = python_defaults(table, tuple(rows[0]))
    if constants or made:
        rows = [
            {**constants, **{name: make(None) for name, make in made.items()}, **row}
            for row in rows
        ]
    names = tuple(rows[0])
    _, _, processors = _sqlite_insert(table, names, dialect)
    return SqliteRows(names, list(_sqlite_values(rows, names, processors)))


def insert_new_sqlite(
    connection: Connection, entity: type[Base], ready: SqliteRows, *, unique: str
) -> dict[Any, int]:
    """SQLite: INSERT the rows made `ready` but those whose `unique` column is stored already
    (ON CONFLICT DO NOTHING); the integer key of each row inserted, by its `unique` value.
    Multi-row VALUES statements, each within SQLite's limit of parameters: SQLAlchemy's own
    multi-row insert prepared every value of every row through its compiled parameters, most
    of a batch's write.

    The keys come back as one row of JSON: those past the largest key before the INSERT,
    which a transaction that writes is alone to give out. A RETURNING hands back a row a step,
    and each step gives up the GIL and waits to take it back: behind another busy thread, up
    to the switch interval a row, which kept a batch's store from running beside the next
    batch's check."""
    if not ready.values:
        return {}
    table = entity.__table__
    assert isinstance(table, Table)
    start, row_marks, _ = _sqlite_insert(table, ready.names, connection.dialect)
    largest, inserted_since = _sqlite_keys(table, unique)
    before = connection.exec_driver_sql(largest).scalar()
    _sqlite_in_statements(connection, start, row_marks, _sqlite_on_conflict(unique), ready.values)
    inserted = connection.exec_driver_sql(inserted_since, (before or 0,)).scalar_one()
    return dict(orjson.loads(inserted))


def _sqlite_in_statements(
    connection: Connection,
    start: str,
    row_marks: str,
    end: str,
    values: Sequence[tuple[Any, ...]],
) -> None:
    """Run `start` (up to VALUES), a `row_marks` for each row of `values` and `end`, in
    statements of SQLITE_ROWS_PER_INSERT rows at most, each within SQLite's limit of
    parameters.

    Not an executemany: that steps the statement once a row, taking the GIL back each time,
    and a batch's thousand events and cards took 3-4 ms more of its store (84 against 88 ms
    of CPU, alternating runs of 30 batches)."""
    if not values:
        return
    per_statement = min(
        SQLITE_ROWS_PER_INSERT,
        max(1, connection.dialect.insertmanyvalues_max_parameters // len(values[0])),
    )
    for first in range(0, len(values), per_statement):
        some = values[first : first + per_statement]
        sql = f"{start}{', '.join(itertools.repeat(row_marks, len(some)))}{end}"
        connection.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(some)))


def json_text(rows: Any) -> str:
    """JSON text of rows whose moments are aware datetimes (ISO 8601, offset included).

    Encoded by orjson, which wrote a batch's thousand leads in a tenth of the standard
    library's time (a sixth of the batch's CPU on PostgreSQL). Each moment is written by
    `_iso_moment`, which refuses a naive one, once per object: a batch's rows share one `now`.
    What orjson refuses (an integer past 64 bits, which a lead's kept unknown fields may hold)
    is left to the standard library's encoder, which takes it. The two differ only in a float
    that is not finite (intake refuses them): orjson writes null, the standard library NaN or
    Infinity, which PostgreSQL does not take as JSON."""
    written: dict[int, str] = {}

    def moment(value: Any) -> str:
        text = written.get(id(value))  # the rows hold every value: no id is reused meanwhile
        if text is None:
            text = written[id(value)] = _iso_moment(value)
        return text

    try:
        return orjson.dumps(rows, default=moment, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
    except TypeError:
        return json.dumps(rows, default=_iso_moment)


def _iso_moment(value: Any) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@functools.cache
def _postgresql_insert(table: Table, names: tuple[str, ...]) -> str:
    """`INSERT ... SELECT ... FROM json_populate_recordset(NULL::table, %s) WITH ORDINALITY`:
    the server reads each value by its column's own type, and the ordinality orders the rows,
    so their ids (serial defaults, drawn as rows are inserted) ascend in the given order."""
    quoted = ", ".join(_quote(name) for name in names)
    selected = ", ".join(f"r.{_quote(name)}" for name in names)
    return (
        f"INSERT INTO {_quote(table.name)} ({quoted}) SELECT {selected} "
        f"FROM json_populate_recordset(NULL::{_quote(table.name)}, %s::json) "
        "WITH ORDINALITY AS r ORDER BY r.ordinality"
    )


@functools.cache
def _postgresql_per_key(table: Table, names: tuple[str, ...], column: str) -> str:
    """`INSERT ... SELECT s.names..., k.key FROM json_populate_record(NULL::table, %s), unnest(%s)
    WITH ORDINALITY AS k ORDER BY k.ordinality`: the shared values typed by their columns, the
    keys in the order given."""
    quoted = ", ".join(_quote(name) for name in (*names, column))
    selected = ", ".join(f"s.{_quote(name)}" for name in names)
    return (
        f"INSERT INTO {_quote(table.name)} ({quoted}) SELECT {selected}, k.key "
        f"FROM json_populate_record(NULL::{_quote(table.name)}, %s::json) AS s, "
        "unnest(%s::integer[]) WITH ORDINALITY AS k(key, ordinality) ORDER BY k.ordinality"
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Processor = Callable[[Any], Any] | None


@functools.cache
def _sqlite_insert(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, str, dict[str, Processor]]:
    """The INSERT's text up to its rows, one row's `(?, ...)`, and each column's bind
    processor (None: the value goes as it is)."""
    start = f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(name) for name in names)}) "
    row_marks = f"({', '.join('?' for _ in names)})"
    processors: dict[str, Processor] = {}
    for name in names:
        processor: Processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None and isinstance(table.c[name].type, JSON):
            processor = _json_processor(processor)
        processors[name] = processor
    return f"{start}VALUES ", row_marks, processors


def _json_processor(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's bind `processor`, but that a list or a dict is encoded by orjson, in C:
    the standard library's encoder took a tenth of a SQLite batch's CPU (a lead's activities
    and kept fields, its event's payload and its card's). What orjson refuses (a moment, left
    to the processor to refuse; an integer past 64 bits) the processor encodes."""

    def process(value: Any) -> Any:
        if isinstance(value, dict | list):
            try:
                return orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()
            except TypeError:
                pass
        return processor(value)

    return process


# The Python-side defaults of the columns an INSERT leaves out: constants, and the functions that
# make a fresh value for each row (given no execution context).
Defaults = tuple[dict[str, Any], dict[str, Callable[[Any], Any]]]


@functools.cache
def python_defaults(table: Table, names: tuple[str, ...]) -> Defaults:
    """The defaults SQLAlchemy's INSERT would give the columns that `names` leaves out. A
    default in SQL could not be known here (nor rendered), so a column with one must be named."""
    constants: dict[str, Any] = {}
    made: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        default = column.default
        if column.key in names or default is None:
            continue
        if isinstance(default, ScalarElementColumnDefault):
            constants[column.key] = default.arg
        elif isinstance(default, CallableColumnDefault):
            made[column.key] = default.arg
        else:
            raise ValueError(f"{table.name}.{column.key}'s default is SQL: insert a value")
    return constants, made


@functools.cache
def _sqlite_on_conflict(unique: str) -> str:
    """`insert_new_sqlite`'s statement after its rows."""
    return f" ON CONFLICT ({_quote(unique)}) DO NOTHING"


@functools.cache
def _sqlite_keys(table: Table, unique: str) -> tuple[str, str]:
    """The statements that read the table's largest integer key, and as one JSON text the
    `[unique, key]` of each row past a key given."""
    (key,) = table.primary_key.columns
    assert isinstance(key.type, Integer), f"{table.name}'s key is not an integer"
    name, column = _quote(table.name), _quote(key.name)
    return (
        f"SELECT max({column}) FROM {name}",
        f"SELECT json_group_array(json_array({_quote(unique)}, {column})) FROM {name} "
        f"WHERE {column} > ?",
    )


def _sqlite_values(
    rows: Sequence[Mapping[str, Any]], names: tuple[str, ...], processors: dict[str, Processor]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in the database's form, in the order of `names`."""
    columns = [_prepared([row[name] for row in rows], processors[name]) for name in names]
    return zip(*columns, strict=True)


def _prepared(values: list[Any], processor: Processor) -> list[Any]:
    """`values` through `processor`, an object met again (a batch's `now`) prepared once."""
    if processor is None:
        return values
    done: dict[int, Any] = {}
    prepared = []
    for value in values:
        key = id(value)
        if key not in done:
            done[key] = processor(value)
        prepared.append(done[key])
    return prepared
