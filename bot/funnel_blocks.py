"""Block Kit for the funnel (`/leads funnel`, App Home, the digest): one wording everywhere, so
the same leads read the same wherever they are shown."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.funnel import POLICY_TIMED, STAGE_NAMES, Funnel, FunnelGroup, funnel_report
from bot.periods import Period
from bot.reply_blocks import (
    LIST_LIMIT,
    TimesCounted,
    context,
    duration,
    percent,
    section,
    times_counted,
)
from bot.rules import Rules
from bot.slack_text import safe_text

TITLE = "Funnel to revenue"
LABEL_SHOWN = 80  # characters of a source's, campaign's or segment's name


def funnel_title(funnel: Funnel) -> str:
    """`Funnel to revenue, last 90 days, by source`."""
    return titled(funnel.period, funnel.by)


def titled(period: Period, by: str | None) -> str:
    """The title of the funnel of `period` by `by` (funnel_title)."""
    grouped = f", by {by}" if by else ""
    return f"{TITLE}, {period.label}{grouped}"


def funnel_blocks(funnel: Funnel, *, times: TimesCounted) -> list[dict[str, Any]]:
    """Everyone's funnel, then each group's (the first LIST_LIMIT, the rest counted), and how
    the leads and the times are counted."""
    title = funnel_title(funnel)
    if not funnel.total.entered:
        return [section(f"*{title}*\nNo lead entered in this period.")]
    blocks = [section(f"*{title}*\n{chain(funnel.total, times)}")]
    for group in funnel.groups[:LIST_LIMIT]:
        label = safe_text(group.label, LABEL_SHOWN)
        blocks.append(section(f"*{label}*: {chain(group, times)}"))
    if len(funnel.groups) > LIST_LIMIT:
        more = len(funnel.groups) - LIST_LIMIT
        blocks.append(context(f"…and {more} more; the export (`csv` or `json`) has them all."))
    blocks.append(context(counted_note(times)))
    return blocks


def funnel_section(session: Session, *, period: Period, rules: Rules) -> list[dict[str, Any]]:
    """Everyone's funnel of `period`, as App Home and the digest show it (`/leads funnel`
    adds the groupings)."""
    funnel = funnel_report(session, period=period, timezone=ZoneInfo(rules.hours.timezone))
    return funnel_blocks(funnel, times=times_counted(rules))


def chain(group: FunnelGroup, times: TimesCounted) -> str:
    """`MQL *8* → SQL *7* (88%) → … → won *2* (67%) · *25%* of MQLs won`, then the median time
    of each step."""
    first, *rest = group.stages
    steps = [f"{STAGE_NAMES[first.name]} *{first.count}*"] + [
        f"{STAGE_NAMES[stage.name]} *{stage.count}* ({percent(stage.rate)})" for stage in rest
    ]
    medians = " · ".join(
        f"to {STAGE_NAMES[stage.name]} "
        + duration(stage.median_time, in_days=stage.name not in POLICY_TIMED or times.in_days)
        for stage in rest
    )
    return (
        f"{' → '.join(steps)} · *{percent(group.overall)}* of MQLs won\n"
        f"Median time per step: {medians}"
    )


def counted_note(times: TimesCounted) -> str:
    return (
        "Of the leads that entered in the period, and how far they got so far; each percentage "
        "is of the stage before. To SQL: from being stored to being promoted, for MQLs promoted; "
        f"to accepted and to contacted: as `/leads stats` counts them ({times.unit}); "
        "to opportunity and to won: calendar time. " + times.note
    )
