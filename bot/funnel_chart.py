"""`/leads funnel`'s chart: the funnel by source (or by the grouping asked for) drawn as a PNG
(bot.charts), sent to the asker's DMs as a file beside the answer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.charts import ChartFile, render_funnel_chart
from bot.funnel import STAGE_NAMES, STAGES, Funnel, funnel_report
from bot.funnel_blocks import titled
from bot.periods import Period

DEFAULT_BY = "source"  # the funnel everyone asks for first: which channel brings revenue
# Each group's label and its count at each stage (STAGES), in the answer's order.
ChartCounts = list[tuple[str, list[int]]]


def chart_counts(funnel: Funnel) -> ChartCounts | None:
    """What the chart of an answer's `funnel` draws, when the answer is grouped as the chart
    is (queued with the chart, so the chart shows the answer's numbers without counting them
    again); None when it is not grouped (the chart then counts by source itself)."""
    if funnel.by is None:
        return None
    return [(group.label, [stage.count for stage in group.stages]) for group in funnel.groups]


def funnel_chart_file(
    session: Session,
    *,
    period: Period,
    timezone: ZoneInfo,
    by: str | None,
    counts: ChartCounts | None = None,
) -> ChartFile | None:
    """The period's funnel split by `by` (by source when None) as a file for Slack: drawn from
    the answer's `counts` (chart_counts) when given, else counted now (counts only: the chart
    shows no times); None when no lead entered in the period (the answer already says so)."""
    by = by or DEFAULT_BY
    if counts is None:
        funnel = funnel_report(session, period=period, timezone=timezone, by=by, medians=False)
        if not funnel.total.entered:
            return None
        counts = chart_counts(funnel)
        assert counts is not None
    title = titled(period, by)
    days = f"{period.start.date().isoformat()}_{period.end.date().isoformat()}"
    return ChartFile(
        png=render_funnel_chart([STAGE_NAMES[stage] for stage in STAGES], dict(counts), title),
        name=f"baton-funnel-{days}.png",
        title=title,
        comment=f"{title}: each bar a stage, split by {by}; beside it the stage's count "
        "and its share of the stage before.",
    )
