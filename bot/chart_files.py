"""Which chart a queued CHANNEL_CHART row draws (bot.outbox.Chart), drawn from the stored
leads when the delivery worker sends it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.acceptance_trend import acceptance_trend_file
from bot.charts import ChartFile
from bot.outbox import Chart
from bot.periods import Period


def chart_file(
    session: Session, *, chart: Chart, period: Period, timezone: ZoneInfo
) -> ChartFile | None:
    """The chart as a file for Slack, or None when there is nothing to draw (then nothing is
    sent)."""
    match chart:
        case Chart.ACCEPTANCE_TREND:
            return acceptance_trend_file(session, period=period, timezone=timezone)
