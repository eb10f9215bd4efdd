"""The digest's chart: the weekly acceptance rate of each source over the last weeks, with its
trend, counted as the tuning report counts its sources (bot.tuning), so the last week's points
are the digest's own "By source" numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.charts import MAX_GROUPS, ChartFile, render_acceptance_trend_chart
from bot.periods import Period
from bot.tuning import Tally, source_tallies

WEEKS = 8  # drawn in the digest: two months, enough for a trend to mean something
WEEK = timedelta(weeks=1)
TITLE = "Acceptance rate by source"


@dataclass(frozen=True)
class AcceptanceTrend:
    weeks: list[date]  # each week's first day in the team's zone, oldest first
    rates_by_source: dict[str, list[float | None]]  # accepted / decided; None: none decided


def trend_period(end: datetime, *, weeks: int = WEEKS) -> Period:
    """The `weeks` whole weeks up to `end` (the digest's own period is the last of them)."""
    return Period(start=end - weeks * WEEK, end=end, label=f"last {weeks} weeks")


def acceptance_trend(session: Session, *, period: Period, timezone: ZoneInfo) -> AcceptanceTrend:
    """Each week of `period` (counted back from its end) and each source's acceptance rate in
    it; the MAX_GROUPS sources with the most decided leads over the period, busiest first."""
    weeks = max(1, round((period.end - period.start) / WEEK))
    starts = [period.end - (weeks - index) * WEEK for index in range(weeks)]
    tallies = source_tallies(session, edges=[*starts, period.end])
    decided: dict[str, int] = {}
    for week in tallies:
        for source, tally in week.items():
            decided[source] = decided.get(source, 0) + tally.decided
    busiest = sorted(
        (source for source in decided if decided[source]), key=lambda s: (-decided[s], s)
    )
    return AcceptanceTrend(
        weeks=[start.astimezone(timezone).date() for start in starts],
        rates_by_source={
            source: [week.get(source, Tally()).acceptance_rate for week in tallies]
            for source in busiest[:MAX_GROUPS]
        },
    )


def acceptance_trend_file(
    session: Session, *, period: Period, timezone: ZoneInfo
) -> ChartFile | None:
    """The chart as the digest sends it; None when no lead was decided in the period (the
    digest then goes without a chart: its numbers already say nothing was handed off)."""
    trend = acceptance_trend(session, period=period, timezone=timezone)
    if not trend.rates_by_source:
        return None
    title = f"{TITLE}, {period.label}"
    return ChartFile(
        png=render_acceptance_trend_chart(trend.weeks, trend.rates_by_source, title),
        name=f"baton-acceptance-{period.end.astimezone(timezone).date().isoformat()}.png",
        title=title,
        comment=(
            f"{TITLE}, week by week over the {period.label} (dashed: the trend). The sources "
            f"with the most decided leads; rates as in `/leads tune`."
        ),
    )
