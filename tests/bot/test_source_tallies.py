"""The digest chart's counts, grouped in the database, are the tuning report's "By source"
counts of the same leads, counted one by one: one definition of how a lead counts (both
databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from bot.periods import Period
from bot.tuning import Tally, source_tallies, tuning_report
from storage import tuning_rollups
from storage.db import Database
from tests.factories import create_lead

START = datetime(2026, 11, 2, 5, tzinfo=UTC)
WEEK = timedelta(weeks=1)
EDGES = [START + n * WEEK for n in range(4)]
SOURCES = (None, "", "  ", "webinar", " webinar ", "Webinar", "ads\t")
DECISIONS = (None, "accept", "assign", "reject", "reopen")
# Around and on every edge, to the microsecond, and outside the weeks on both sides.
POSTED = st.one_of(
    st.none(),
    st.sampled_from(EDGES),
    st.builds(
        lambda edge, micros: edge + timedelta(microseconds=micros),
        st.sampled_from(EDGES),
        st.sampled_from((-1, 1)),
    ),
    st.datetimes(
        min_value=(START - WEEK).replace(tzinfo=None),
        max_value=(EDGES[-1] + WEEK).replace(tzinfo=None),
    ).map(lambda moment: moment.replace(tzinfo=UTC)),
)
LEADS = st.lists(
    st.tuples(POSTED, st.sampled_from(SOURCES), st.sampled_from(DECISIONS)), max_size=12
)


def counts(tally: Tally) -> tuple[int, int, int]:
    return tally.leads, tally.accepted, tally.rejected


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=LEADS)
def test_grouped_counts_are_the_reports_counts_lead_by_lead(
    db: Database, leads: list[tuple[datetime | None, str | None, str | None]]
) -> None:
    with Session(db.engine) as session:  # rolled back on leaving: each example starts empty
        for number, (posted, source, decision) in enumerate(leads):
            lead = create_lead(session, external_id=f"count-{number}", now=START - 2 * WEEK)
            lead.posted_at, lead.source, lead.first_decision = posted, source, decision
        session.flush()
        tuning_rollups.rebuild(session)  # as the transitions that set these keep them

        grouped = source_tallies(session, edges=EDGES)
        one_by_one = [
            tuning_report(session, period=Period(start, end, ""), model=None, reasons={}).sources
            for start, end in pairwise(EDGES)
        ]

    assert [{source: counts(tally) for source, tally in week.items()} for week in grouped] == [
        {group.label: counts(group.tally) for group in week} for week in one_by_one
    ]
