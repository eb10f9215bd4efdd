"""How an INSERT of many leads asks PostgreSQL to count them in the funnel's rollups once for
the statement, summed per row of the rollups, instead of row by row (storage.funnel_rollups's
triggers read it; a module of its own, so storage.leads can ask without importing the reports)."""

from __future__ import annotations

from sqlalchemy import Connection, text

SETTING = "baton.funnel_by_statement"
# True for a row the triggers per row count: the transaction did not ask for statements.
ROW_BY_ROW = f"current_setting('{SETTING}', true) IS DISTINCT FROM 'on'"
# Leads in one INSERT from which counting them by statement costs PostgreSQL less: a row's
# trigger some 40 µs (its upsert meets the versions of the row that the transaction's earlier
# leads left behind), the statement's its two upserts, planned again each time (a few ms).
FROM_ROWS = 100


def count_by_statement(connection: Connection) -> None:
    """Have the leads this transaction INSERTs from now on counted once per statement. Either
    way each lead is counted exactly once: for each INSERT, the triggers per row or the one per
    statement do, as the setting says while it runs."""
    connection.execute(text(f"SELECT set_config('{SETTING}', 'on', true)"))
