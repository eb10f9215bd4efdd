"""The digest chart's numbers: each source's acceptance rate week by week, as the tuning report
counts its sources (both databases).

Three weeks up to Monday 30 November 2026, 00:00 in New York:

| week of     | webinar                 | ads                    | referral |
|-------------|-------------------------|------------------------|----------|
| 9 November  | 1 accepted, 1 rejected  | 1 rejected             |          |
| 16 November | 2 accepted, 1 rejected  |                        |          |
| 23 November | 3 accepted              | 1 accepted, 1 rejected | 1 open   |
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image

from bot.acceptance_trend import acceptance_trend, acceptance_trend_file, trend_period
from bot.charts import CHART_HEIGHT, CHART_WIDTH
from bot.periods import Period
from bot.rules import DEFAULT_REASONS
from bot.tuning import tuning_report
from storage.db import Database
from tests.bot.test_tuning import NY, Week, ny

END = datetime(2026, 11, 30, tzinfo=NY).astimezone(UTC)
THREE_WEEKS = trend_period(END, weeks=3)
QUARTER = timedelta(minutes=15)


@pytest.fixture
def weeks(db: Database) -> Database:
    w = Week(db)
    for day, source, accepted, rejected in (
        (10, "webinar", 1, 1),
        (11, "ads", 0, 1),
        (17, "webinar", 2, 1),
        (24, "webinar", 3, 0),
        (25, "ads", 1, 1),
    ):
        for _ in range(accepted):
            w.lead(ny(day, 10), 80, None, source, accept=QUARTER)
        for _ in range(rejected):
            w.lead(ny(day, 11), 80, None, source, reject=(QUARTER, "no_need"))
    w.lead(ny(26, 10), 80, None, "referral")
    return db


def test_each_sources_rate_week_by_week_busiest_first(weeks: Database) -> None:
    with weeks.read() as session:
        trend = acceptance_trend(session, period=THREE_WEEKS, timezone=NY)

    assert trend.weeks == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert trend.rates_by_source == {"webinar": [0.5, 2 / 3, 1.0], "ads": [0.0, None, 0.5]}


def test_the_last_weeks_rates_are_the_tuning_reports(weeks: Database) -> None:
    last_week = Period(start=END - timedelta(weeks=1), end=END, label="last 7 days")
    with weeks.read() as session:
        trend = acceptance_trend(session, period=THREE_WEEKS, timezone=NY)
        report = tuning_report(session, period=last_week, model=None, reasons=DEFAULT_REASONS)

    tuned = {group.label: group.tally.acceptance_rate for group in report.sources}
    drawn = {source: rates[-1] for source, rates in trend.rates_by_source.items()}
    assert drawn == {source: rate for source, rate in tuned.items() if rate is not None}


def test_the_chart_is_a_png_and_nothing_is_drawn_without_decided_leads(weeks: Database) -> None:
    with weeks.read() as session:
        drawn = acceptance_trend_file(session, period=THREE_WEEKS, timezone=NY)
        before = acceptance_trend_file(
            session, period=trend_period(END - timedelta(weeks=3), weeks=3), timezone=NY
        )

    assert drawn is not None and before is None
    assert drawn.name == "baton-acceptance-2026-11-30.png"
    assert drawn.title == "Acceptance rate by source, last 3 weeks"
    image = Image.open(io.BytesIO(drawn.png))
    assert (image.format, image.size) == ("PNG", (CHART_WIDTH, CHART_HEIGHT))
