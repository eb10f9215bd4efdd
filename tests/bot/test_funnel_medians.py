"""The funnel's median times, however each database picks them (an ordered-set aggregate on
PostgreSQL, for everyone by a rollup beside the groups; on SQLite a walk to the rank along an
index, or with groups one walk counting every group's times as they pass), are the nearest-rank
medians Python works out from the same leads: random leads, both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from bot.funnel import STAGES, Funnel, funnel_report
from bot.periods import Period
from bot.reports import NO_SOURCE
from storage.db import Database
from storage.models import Lead, LeadStatus

PERIOD = Period(
    start=datetime(2026, 10, 1, tzinfo=UTC), end=datetime(2026, 11, 1, tzinfo=UTC), label="October"
)
SECONDS = st.none() | st.integers(min_value=0, max_value=5)  # few values: ties are common
# Monday 26 October to Monday 14 December 2026 by month in New York: the month boundaries fall
# within whole weeks, on a Sunday (1 November, late in its week) and a Tuesday (1 December,
# early in its week).
COHORTS = Period(
    start=datetime(2026, 10, 26, tzinfo=UTC), end=datetime(2026, 12, 14, tzinfo=UTC), label="7w"
)
NY = ZoneInfo("America/New_York")
FIELDS = {
    "source": st.sampled_from([None, "", "ads", " ads ", "seo"]),
    "status": st.sampled_from([LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.WON]),
    "first_decision": st.sampled_from([None, "accept", "assign", "reject"]),
    "claim": SECONDS,
    "contact": SECONDS,
    "promoted": SECONDS,
    "contacted": SECONDS,
    "opportunity": SECONDS,
    "closed": SECONDS,
}
# Days from the period's start: some before it, some after, most inside.
lead = st.fixed_dictionaries({"day": st.integers(min_value=-20, max_value=40), **FIELDS})
# Days from COHORTS' start, often either side of a month boundary.
cohort_lead = st.fixed_dictionaries(
    {"day": st.sampled_from([-1, 0, 5, 6, 7, 34, 35, 36, 48, 49]) | st.integers(-5, 50), **FIELDS}
)


def step_times(row: dict[str, Any]) -> dict[str, int | None]:
    """Each step's time in seconds as docs/metrics.md defines it, None where not made."""

    def after(earlier: int | None, later: int | None) -> int | None:
        return None if earlier is None or later is None else later

    opportunity = after(row["contacted"], row["opportunity"])
    return {
        "sql": row["promoted"],
        "accepted": row["claim"] if row["first_decision"] in ("accept", "assign") else None,
        "contacted": row["contact"],
        "opportunity": opportunity,
        "won": after(row["opportunity"], row["closed"])
        if row["status"] == LeadStatus.WON
        else None,
    }


def label(row: dict[str, Any]) -> str:
    return (row["source"] or "").strip() or NO_SOURCE


def nearest_rank_median(values: list[int]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=sorted(values)[(len(values) + 1) // 2 - 1])


def entered(row: dict[str, Any], period: Period = PERIOD) -> datetime:
    return period.start + timedelta(days=row["day"], hours=9)


def store(db: Database, rows: list[dict[str, Any]], period: Period = PERIOD) -> None:
    """The leads, their moments whole seconds apart after their entry (each at 09:00 UTC)."""
    with db.write() as session:
        session.execute(delete(Lead))
        for number, row in enumerate(rows):
            entered_at = entered(row, period)

            def moment(seconds: int | None, base: datetime = entered_at) -> datetime | None:
                return None if seconds is None else base + timedelta(seconds=seconds)

            contacted_at = moment(row["contacted"])
            opportunity_at = moment(row["opportunity"], contacted_at or entered_at)
            session.add(
                Lead(
                    external_id=f"L{number}",
                    name=f"Lead {number}",
                    status=row["status"],
                    source=row["source"],
                    created_at=entered_at,
                    updated_at=entered_at,
                    activities=[],
                    promoted_at=moment(row["promoted"]),
                    first_decision=row["first_decision"],
                    time_to_claim_us=None if row["claim"] is None else row["claim"] * 1_000_000,
                    time_to_contact_us=None
                    if row["contact"] is None
                    else row["contact"] * 1_000_000,
                    contacted_at=contacted_at,
                    opportunity_at=opportunity_at,
                    closed_at=moment(row["closed"], opportunity_at or entered_at),
                )
            )


def times_by_group(
    rows: list[dict[str, Any]], group_of: Callable[[dict[str, Any]], str]
) -> dict[str, dict[str, list[int]]]:
    """Each group's times (seconds) per step made: everyone's under '', and each row's group's."""
    times: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        for stage, seconds in step_times(row).items():
            if seconds is not None:
                for group in ("", group_of(row)):
                    times.setdefault(group, {}).setdefault(stage, []).append(seconds)
    return times


# Each property test's runs: enough for boundaries to fall in every bucket and month, each run a
# database's rows stored and read (the function-scoped `db` is emptied by `store`).
EXAMPLES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_medians(report: Funnel, expected: dict[str, dict[str, list[int]]]) -> None:
    """Every group's median of each step is the nearest-rank median of its times."""
    for group in [report.total, *report.groups]:
        times = expected.get(group.label, {})
        assert [stage.median_time for stage in group.stages[1:]] == [
            nearest_rank_median(times.get(stage, [])) for stage in STAGES[1:]
        ], group.label


@EXAMPLES
@given(rows=st.lists(lead, max_size=30))
def test_each_median_is_the_nearest_rank_median_of_the_leads_that_made_the_step(
    db: Database, rows: list[dict[str, Any]]
) -> None:
    store(db, rows)
    inside = [row for row in rows if 0 <= row["day"] < 31]
    expected = times_by_group(inside, label)
    with db.read() as session:
        report = funnel_report(session, period=PERIOD, timezone=ZoneInfo("UTC"), by="source")
        alone = funnel_report(session, period=PERIOD, timezone=ZoneInfo("UTC")).total
    # Everyone's funnel alone and beside the groups is counted apart, and reads the same.
    assert alone == report.total
    assert_medians(report, expected)
    assert {group.label for group in report.groups} == {label(row) for row in inside}


@EXAMPLES
@given(rows=st.lists(cohort_lead, max_size=30))
def test_each_cohorts_median_is_the_nearest_rank_median_of_its_months_leads(
    db: Database, rows: list[dict[str, Any]]
) -> None:
    """A month boundary inside a week: that week's times are counted for the month holding
    most of it, and the leads of the rest moved to their own month."""
    store(db, rows, COHORTS)
    inside = [row for row in rows if COHORTS.start <= entered(row, COHORTS) < COHORTS.end]
    expected = times_by_group(
        inside, lambda row: entered(row, COHORTS).astimezone(NY).strftime("%Y-%m")
    )
    with db.read() as session:
        report = funnel_report(session, period=COHORTS, timezone=NY, by="cohort")
    assert_medians(report, expected)
