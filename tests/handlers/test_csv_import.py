"""The CSV reader: any bytes as a file end as stored leads, per-row problems or one line."""

from __future__ import annotations

import csv
import io

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import intake
from bot.lifecycle import Lifecycle
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from handlers.csv_import import import_csv, iter_rows
from handlers.text_files import UnreadableFile
from storage.db import Database
from storage.models import Lead
from tests.conftest import NOW

# Beside the two required columns: other fields, an unknown one, a blank one, a repeated one.
EXTRA_COLUMN = st.sampled_from(
    [name for name in intake.FIELD_NAMES if name not in ("external_id", "name")]
    + ["colour", "", "name"]
)
CELL = st.text(max_size=40) | st.sampled_from(
    ["", "Ada", "ada@example.com", "50", "101", "[]", '[{"type": "demo"}]', "[[[", "=1+1"]
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """Mostly lead CSV, now and then with bytes spliced in; or raw bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=200))
    header = ["external_id", "name", *draw(st.lists(EXTRA_COLUMN, max_size=3, unique=True))]
    rows = draw(st.lists(st.lists(CELL, min_size=2, max_size=len(header) + 1), max_size=4))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerows([header, *rows])
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + out.getvalue().encode()
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    return data


def count_leads(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Lead)) or 0


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=csv_files())
def test_any_file_is_stored_reported_or_refused_in_one_line(db: Database, data: bytes) -> None:
    before = count_leads(db)
    try:
        report = import_csv(
            db.write, data, moves=Lifecycle(SlaPolicies(Rules())), clock=lambda: NOW
        )
    except UnreadableFile as refused:
        assert refused.line >= 1 and str(refused).isprintable()
        assert count_leads(db) == before
        event(f"refused {refused.problem[:20]}")
        return
    rows = list(iter_rows(data))
    event(f"rows={len(rows)} created={report.created} problems={len(report.problems)}")
    assert report.created + report.duplicates + len(report.problems) == len(rows)
    assert count_leads(db) == before + report.created
    lines = {line for line, _ in rows}
    for line, problem in report.problems:
        assert line in lines and problem and problem.isprintable()
