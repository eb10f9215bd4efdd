"""Many rows of one table in one statement, their values put in the database's form directly.

Intake appends an event and an outbox row per lead. Through a Core executemany, SQLAlchemy
prepares every value of every row (a datetime formatted, a dict serialized) and psycopg then
sends the rows one by one: per lead, more CPU than the INSERT costs the database. Here
PostgreSQL takes the rows as one JSON text (encoded in C) and SQLite takes plain tuples, each
value prepared by its column's own bind processor, once per distinct object: a batch's rows
share one `now`, formatted once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Table

from storage.models import Base


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
    sql, processors = _sqlite_insert(table, names, connection.dialect)
    columns = [_prepared([row[name] for row in rows], processors[name]) for name in names]
    connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def json_text(rows: Any) -> str:
    """JSON text of rows whose moments are aware datetimes (ISO 8601, offset included)."""
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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


Processor = Callable[[Any], Any] | None


@functools.cache
def _sqlite_insert(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, dict[str, Processor]]:
    """The INSERT's text with `?` placeholders, and each column's bind processor (None: the
    value goes as it is)."""
    sql = (
        f"INSERT INTO {_quote(table.name)} ({', '.join(_quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    processors: dict[str, Processor] = {}
    for name in names:
        processors[name] = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return sql, processors


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
