"""`column IN (ids given at execution)`, in each database's cheapest form.

SQLAlchemy's expanding IN renders a placeholder per id at every execution (on PostgreSQL, a
cast with each), and psycopg then parses a query text it has not seen before. Delivery routes a
batch's thousand cards with two such statements a round, and on PostgreSQL rendering and
parsing them took more of its CPU than the answers did. PostgreSQL takes the ids as one array
parameter instead (`= ANY(...)`), in a text that never changes; SQLite has no arrays, and keeps
the expanding IN.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute


def among(
    column: ColumnElement[int] | QueryableAttribute[int], name: str, dialect: str
) -> ColumnElement[bool]:
    """`column` is one of the integers the execution's parameter `name` lists, for a statement
    run on `dialect` (a dialect's name: "postgresql", "sqlite"). The array is of the column's
    own type, so a BIGINT column's ids are not cast to INTEGER."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))
