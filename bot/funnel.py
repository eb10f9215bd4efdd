"""The funnel to revenue: how far the leads that entered in a period got, MQL → SQL → accepted
→ contacted → opportunity → won, with the conversion from each stage to the next and the median
time each step took, overall or by source, campaign, segment or monthly cohort (`/leads funnel`).

Definitions (docs/metrics.md, "The funnel"):

- **The cohort**: the leads Baton stored (`created_at`) in the period, whatever became of them
  since, so a recent period's numbers still move as its leads advance.
- **Stages**, each implying the ones before it: *MQL*, every lead but one the scoring model
  still keeps (as an MQL or recycled) under its MQL threshold; *SQL*, handed off (stored as an
  SQL, or promoted from an MQL; a recycled MQL is not); *accepted*, claimed by a rep at some
  time (accepted or assigned, also after a first reject and a reopen); *contacted*, marked
  contacted; *opportunity*, the CRM (or the owner) opened a deal; *won*. A lead at a later
  stage counts as having passed the earlier ones (a deal the CRM reports without a "mark
  contacted" was contacted).
- **Conversion**: a stage's count over the previous stage's; **overall**: won over MQL; None
  when the previous stage holds no lead.
- **Time per stage**: the nearest-rank median, over the leads that made the step, of the time
  from the previous stage: MQL → SQL from being stored to being promoted (leads that arrived as
  SQLs spent no time as MQLs and are left out), SQL → accepted the time to claim and accepted →
  contacted the time to first contact as `/leads stats` counts them (business hours where the
  lead's SLA policy counts them), contacted → opportunity and opportunity → won calendar time
  between the moments recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.periods import Period
from bot.report_facts import duration
from bot.reports import NO_SOURCE
from storage import funnel as funnel_store
from storage.funnel_stages import STAGES as STAGE_CONDITIONS

STAGES = tuple(STAGE_CONDITIONS)  # mql, sql, accepted, contacted, opportunity, won
STAGE_NAMES = {
    "mql": "MQL",
    "sql": "SQL",
    "accepted": "accepted",
    "contacted": "contacted",
    "opportunity": "opportunity",
    "won": "won",
}
GROUPINGS = funnel_store.GROUPINGS  # source, campaign, segment, cohort
# The times of these steps are the report facts, counted as the lead's SLA policy counts time.
POLICY_TIMED = ("accepted", "contacted")
# The export's columns, in order: `funnel_rows` fills exactly these.
FUNNEL_COLUMNS = (
    "grouped_by",
    "group",
    *STAGES,
    *(f"rate_to_{stage}" for stage in STAGES[1:]),
    "overall_rate",
    *(f"median_minutes_to_{stage}" for stage in STAGES[1:]),
)


@dataclass(frozen=True)
class Stage:
    name: str  # one of STAGES
    count: int
    rate: float | None  # from the previous stage; None for the first, or an empty previous one
    median_time: timedelta | None  # from the previous stage; None for the first, or no step


@dataclass(frozen=True)
class FunnelGroup:
    label: str  # a source, campaign, segment or month (`2026-11`); "" for everyone
    stages: list[Stage]

    @property
    def entered(self) -> int:
        return self.stages[0].count

    @property
    def overall(self) -> float | None:
        """Won over MQL."""
        first = self.stages[0].count
        return self.stages[-1].count / first if first else None


@dataclass(frozen=True)
class Funnel:
    period: Period
    total: FunnelGroup
    by: str | None  # one of GROUPINGS, or None
    groups: list[FunnelGroup]  # by `by`: most MQLs first; months oldest first


def funnel_report(
    session: Session,
    *,
    period: Period,
    timezone: ZoneInfo,
    by: str | None = None,
    medians: bool = True,
) -> Funnel:
    """The funnel of the leads that entered in `period`, and by `by` if given; months are the
    team's (`timezone`) calendar months. Without `medians` every stage's median_time is None
    (a chart shows counts only, and the medians cost as much again)."""
    total, groups = _funnel(session, period, by, timezone, medians)
    return Funnel(period=period, total=total, by=by, groups=groups)


def funnel_rows(session: Session, *, period: Period, timezone: ZoneInfo) -> list[dict[str, Any]]:
    """Everyone, then every source, campaign, segment and month, as flat records for CSV or
    JSON export: rates as fractions, medians in minutes, empty when there is nothing to rate."""
    rows: list[dict[str, Any]] = []
    for by in GROUPINGS:
        total, groups = _funnel(session, period, by, timezone)
        if not rows:
            rows.append(_row("all", "", total))
        rows += [_row(by, group.label, group) for group in groups]
    return rows


def months_of(period: Period, timezone: ZoneInfo) -> list[tuple[str, datetime]]:
    """Each calendar month (in the team's time zone) the period touches, as its label
    (`2026-11`) and the moment it ends."""
    day = period.start.astimezone(timezone).date().replace(day=1)
    months = []
    while True:
        following = (day + timedelta(days=32)).replace(day=1)
        month_end = datetime.combine(following, time(0), tzinfo=timezone)
        months.append((f"{day:%Y-%m}", month_end))
        if month_end >= period.end:
            return months
        day = following


def _funnel(
    session: Session, period: Period, by: str | None, timezone: ZoneInfo, medians: bool = True
) -> tuple[FunnelGroup, list[FunnelGroup]]:
    """The period's funnel for everyone and per group of `by` (none when None), most MQLs
    first (months oldest first), counted together."""
    found = funnel_store.funnel_by_group(
        session,
        start=period.start,
        end=period.end,
        by=by,
        months=months_of(period, timezone),
        medians=medians,
    )
    total = _group("", found.everyone or {}, _medians(found.everyone or {}))
    groups = [_group(_label(by, row["key"]), row, _medians(row)) for row in found.groups]
    if by == "cohort":
        groups.sort(key=lambda group: group.label)
    else:
        groups.sort(key=lambda group: (-group.entered, group.label == NO_SOURCE, group.label))
    return total, groups


def _medians(row: Mapping[str, Any]) -> dict[str, int | None]:
    return {stage: row.get(f"median_{stage}") for stage in STAGES[1:]}


def _group(label: str, counts: Mapping[Any, Any], medians: Mapping[str, int | None]) -> FunnelGroup:
    stages = []
    previous: int | None = None
    for name in STAGES:
        count = int(counts.get(name) or 0)
        rate = count / previous if previous else None
        stages.append(Stage(name, count, rate, duration(medians.get(name))))
        previous = count
    return FunnelGroup(label, stages)


def _label(by: str | None, value: Any) -> str:
    if by is None:
        return ""
    return NO_SOURCE if value is None else str(value)


def _row(grouped_by: str, label: str, group: FunnelGroup) -> dict[str, Any]:
    row: dict[str, Any] = {"grouped_by": grouped_by, "group": label}
    for stage in group.stages:
        row[stage.name] = stage.count
    for stage in group.stages[1:]:
        row[f"rate_to_{stage.name}"] = _fraction(stage.rate)
    row["overall_rate"] = _fraction(group.overall)
    for stage in group.stages[1:]:
        median = stage.median_time
        row[f"median_minutes_to_{stage.name}"] = (
            None if median is None else round(median.total_seconds() / 60, 1)
        )
    return row


def _fraction(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
