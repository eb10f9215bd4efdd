"""trigram index for find

`/leads find` looks for a substring of a lead's name, company or email, ignoring case, which no
B-tree index can answer: on PostgreSQL it read every lead (3 s at a million). A GIN index of
the three columns' trigrams (pg_trgm) answers each column's ILIKE, the three ORed by a
BitmapOr, in tens of milliseconds. Terms of fewer than three characters have no trigram to
look up: the planner keeps the scan for those.

pg_trgm is a trusted extension (PostgreSQL 13 and later): the database's owner, or any role
with CREATE on it, may install it. Where it is missing (no contrib package) or not allowed,
the upgrade still succeeds without the index, says so once in the log, and find keeps its
scan; running `baton db upgrade` again after a later `CREATE EXTENSION pg_trgm` does not add
it (the revision is done): create the index by hand as the warning says. The extension is
installed where CREATE EXTENSION puts it (the first schema on the search path) and the index
names its operator class by that schema, wherever an earlier install put it. A downgrade drops
the index and leaves the extension, which other schemas may use. SQLite has no such index:
its LIKE scan already takes about half a second at a million leads.

Building the index reads every lead and blocks writes to them meanwhile: about a minute per
million leads on a loaded 2-core machine.

Written by hand: the index is not in storage.models, as it exists only where pg_trgm does
(storage.migrate.OPTIONAL_INDEXES keeps autogenerate from dropping it).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 11:47:33.366915
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger('storage.migrate')  # scripts load under generated module names

INDEX = 'ix_leads_find_trigrams'
INSTALLED_IN = text(
    'SELECT nspname FROM pg_extension JOIN pg_namespace ON pg_namespace.oid = extnamespace'
    " WHERE extname = 'pg_trgm'"
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    schema = _pg_trgm_schema(bind)
    if schema is None:
        return
    opclass = f'{bind.dialect.identifier_preparer.quote_schema(schema)}.gin_trgm_ops'
    columns = ', '.join(f'{column} {opclass}' for column in ('name', 'company', 'email'))
    op.execute(f'CREATE INDEX {INDEX} ON leads USING gin ({columns})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {INDEX}')


def _pg_trgm_schema(bind: Connection) -> str | None:
    """The schema pg_trgm is installed in, installing it when it is not; None, logged, when it
    cannot be (a savepoint keeps the refusal from aborting the upgrade's transaction)."""
    schema = bind.execute(INSTALLED_IN).scalar()
    if schema is not None:
        return str(schema)
    try:
        with bind.begin_nested():
            bind.execute(text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0]
        log.warning(
            'pg_trgm could not be installed (%s): /leads find will read every lead. To index it, '
            'as a role allowed to: CREATE EXTENSION pg_trgm; CREATE INDEX %s ON leads USING gin '
            '(name gin_trgm_ops, company gin_trgm_ops, email gin_trgm_ops)',
            reason,
            INDEX,
        )
        return None
    return str(bind.execute(INSTALLED_IN).scalar_one())
