"""`/leads funnel`'s chart: the funnel by source (or by the grouping asked for) drawn as a PNG
(bot.charts), sent to the asker's DMs as a file beside the answer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.charts import ChartFile, render_funnel_chart
from bot.funnel import STAGE_NAMES, STAGES, funnel_report
from bot.funnel_blocks import funnel_title
from bot.periods import Period

DEFAULT_BY = "source"  # the funnel everyone asks for first: which channel brings revenue


def funnel_chart_file(
    session: Session, *, period: Period, timezone: ZoneInfo, by: str | None
) -> ChartFile | None:
    """The period's funnel split by `by` (by source when None) as a file for Slack; None when
    no lead entered in the period (the answer already says so)."""
    funnel = funnel_report(session, period=period, timezone=timezone, by=by or DEFAULT_BY)
    if not funnel.total.entered:
        return None
    title = funnel_title(funnel)
    counts = {group.label: [stage.count for stage in group.stages] for group in funnel.groups}
    days = f"{period.start.date().isoformat()}_{period.end.date().isoformat()}"
    return ChartFile(
        png=render_funnel_chart([STAGE_NAMES[stage] for stage in STAGES], counts, title),
        name=f"baton-funnel-{days}.png",
        title=title,
        comment=f"{title}: each bar a stage, split by {funnel.by}; beside it the stage's count "
        "and its share of the stage before.",
    )
