"""The queries behind the funnel (bot.funnel): how far the leads that entered in a period got,
counted and timed in the database, per group (source, campaign, segment or monthly cohort).

Each stage is a condition on columns the transitions keep (never cleared by a reopen), so one
grouped statement counts every stage; each median is the one value at its rank in its group,
picked by the database: on PostgreSQL in that same statement, by an ordered-set aggregate; on
SQLite, which has none, by one walk per step along the step's times, reading each value once
and keeping only a count per group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from storage.models import Lead, LeadStatus
from storage.reports import CLAIMS, period_range, value_at_rank, values_at_ranks

UNQUALIFIED = "unqualified"  # the scoring model's verdict under its MQL threshold
GROUPINGS = ("source", "campaign", "segment", "cohort")
MICROSECONDS = 1_000_000

# What "reached the stage" means, each stage implying the ones before it (docs/metrics.md):
# a won deal was an opportunity, an opportunity was contacted, a contacted lead was claimed.
WON = Lead.status == LeadStatus.WON
OPPORTUNITY = or_(Lead.opportunity_at.is_not(None), WON)
CONTACTED = or_(Lead.contact_credit.is_not(None), OPPORTUNITY)
ACCEPTED = or_(Lead.first_claimed_at.is_not(None), CONTACTED)
# Marketing's still: an MQL, or one recycled (gone cold, back to nurture).
KEPT = Lead.status.in_((LeadStatus.MQL, LeadStatus.RECYCLED))
SQL = or_(not_(KEPT), ACCEPTED)
# A lead kept under the model's MQL threshold is not yet an MQL; every other lead is.
UNDER_THRESHOLD = and_(
    KEPT, func.coalesce(Lead.score_explanation["verdict"].as_string(), "") == UNQUALIFIED
)
MQL = not_(UNDER_THRESHOLD)
STAGES: dict[str, ColumnElement[bool]] = {
    "mql": MQL,
    "sql": SQL,
    "accepted": ACCEPTED,
    "contacted": CONTACTED,
    "opportunity": OPPORTUNITY,
    "won": WON,
}
# The leads that made each step after the first and have its time: those whose stage_times
# value is not NULL, told by the columns alone (cheaper than the times, for counting them).
TIMED: dict[str, ColumnElement[bool]] = {
    "sql": Lead.promoted_at.is_not(None),
    "accepted": Lead.first_decision.in_(CLAIMS) & Lead.time_to_claim_us.is_not(None),
    "contacted": Lead.time_to_contact_us.is_not(None),
    "opportunity": Lead.contacted_at.is_not(None) & Lead.opportunity_at.is_not(None),
    "won": WON & Lead.opportunity_at.is_not(None) & Lead.closed_at.is_not(None),
}
# The steps whose time is a column that an index keeps in order, with every column a funnel
# filters and groups on (ix_leads_report_claim_times, ix_leads_report_contact_times).
STEP_ORDER: dict[str, ColumnElement[Any]] = {
    "accepted": Lead.time_to_claim_us.expression,
    "contacted": Lead.time_to_contact_us.expression,
}


def entered(session: Session, start: datetime, end: datetime) -> ColumnElement[bool]:
    """The leads Baton stored in [start, end), the planner steered for the period's size as
    the handoff reports steer it (a day reads `ix_leads_created_at`, a year the table)."""
    return period_range(session, Lead.created_at, start, end)


def group_key(by: str | None, months: Sequence[tuple[str, datetime]]) -> ColumnElement[Any] | None:
    """The column a funnel is grouped by: a field trimmed (blank reads as none), or for
    `cohort` the label of the month a lead entered, from `months` as (label, end of the month)
    in order; None when not grouped (everyone is one group)."""
    if by is None:
        return None
    if by == "cohort":
        return case(*((Lead.created_at < month_end, label) for label, month_end in months))
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}")
    return func.nullif(func.trim(getattr(Lead, by)), "")


@dataclass(frozen=True)
class FunnelRows:
    """A period's funnel as funnel_by_group counts it: everyone's row (None when no lead
    entered) and each group's (none when not grouped)."""

    everyone: dict[str, Any] | None
    groups: list[dict[str, Any]]


def funnel_by_group(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    key: ColumnElement[Any] | None,
    medians: bool = True,
) -> FunnelRows:
    """Everyone's row and, with `key`, each group's: its `key`, how many of the period's
    leads reached each stage (named as STAGES), and the median time of each step after the first
    (`median_<stage>`, stage_times) at the nearest rank ⌈n/2⌉ of the n leads that made it
    (bot.reports.rank_of).

    The counts read ix_leads_funnel alone, never the wide rows, in one statement for the groups
    and everyone (on PostgreSQL a rollup; on SQLite the groups' sums, `_tally_sqlite`): MQLs are
    the period's leads but those under the threshold, counted apart among the few leads
    marketing keeps (the verdict lives in the wide rows). With them come how many leads made
    each step (`timed_<stage>`). PostgreSQL picks the medians in the same statement, by an
    ordered-set aggregate, but for everyone's steps an index keeps in order (STEP_ORDER), walked
    to the rank as SQLite walks them; SQLite, which has none, by one walk per step along the
    step's times (`_medians`). Without `medians` (a chart shows counts only) no time is read."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    period = entered(session, start, end)
    later = {name: condition for name, condition in STAGES.items() if name != "mql"}
    timed = {f"timed_{stage}": condition for stage, condition in TIMED.items()}
    times = stage_times(session) if medians else {}
    kept = _keyed(key, period & UNDER_THRESHOLD)
    under: dict[Any, int] = dict(
        session.execute(select(kept.c.key, func.count()).group_by(kept.c.key)).tuples().all()
    )
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    if sqlite:
        rows = _tally_sqlite(session, key, period, later, timed)
        everyone = _summed(rows, ["entered", *later, *timed])
        if everyone is None:
            return FunnelRows(None, [])
        for stage, value in times.items():
            column = STEP_ORDER.get(stage, value)
            made_it = {row["key"]: n for row in rows if (n := row[f"timed_{stage}"])}
            everyone[f"median_{stage}"], found = _medians(
                session, column, period & TIMED[stage], key, made_it
            )
            for row in rows:
                row[f"median_{stage}"] = found.get(row["key"])
    else:
        if key is not None:
            # Compiling the grouped statement to machine code cost more CPU than it saved (a
            # year by source, serial: 2.8-3.5 s with, 2.3 s without); everyone's alone gains.
            session.execute(text("SET LOCAL jit = off"))
        # Everyone's median of a step an index keeps in order is read by walking that index
        # to its rank (as on SQLite): sorting a year of claims in the statement cost 1-2 s.
        walked = set(STEP_ORDER) & set(times) if key is None else set()
        sorted_here = {stage: value for stage, value in times.items() if stage not in walked}
        leads = _keyed(key, period, *_flags(later), *_flags(timed), *_times(sorted_here))
        # percentile_disc(0.5) is the first value whose cumulative share reaches one half: the
        # ⌈n/2⌉-th of the n non-null values (nulls are left out, as every aggregate does).
        picked = [
            func.percentile_disc(0.5)
            .within_group(leads.c[f"time_{stage}"])
            .label(f"median_{stage}")
            for stage in sorted_here
        ]
        counted = [func.count().label("entered"), *_stage_sums(leads, later, timed)]
        grouping = leads.c.key if key is None else func.rollup(leads.c.key)
        total = literal_column("1") if key is None else func.grouping(leads.c.key)
        counts = select(leads.c.key, total.label("everyone"), *counted, *picked)
        rows, totals = [], []  # the groups', and everyone's (the rollup's)
        for result in session.execute(counts.group_by(grouping)):
            values = dict(result._mapping)
            (totals if values.pop("everyone") else rows).append(values)
        everyone = totals[0] if totals and totals[0]["entered"] else None
        if everyone is None:
            return FunnelRows(None, [])
        for stage in walked:
            made_it = {"": everyone[f"timed_{stage}"]}
            column, leads_timed = STEP_ORDER[stage], period & TIMED[stage]
            everyone[f"median_{stage}"], _ = _medians(session, column, leads_timed, None, made_it)
    everyone["mql"] = everyone["entered"] - sum(under.values())
    for row in rows:
        row["mql"] = row["entered"] - under.get(row["key"], 0)
    return FunnelRows(everyone, [] if key is None else rows)


def _tally_sqlite(
    session: Session,
    key: ColumnElement[Any] | None,
    period: ColumnElement[bool],
    later: dict[str, ColumnElement[bool]],
    timed: dict[str, ColumnElement[bool]],
) -> list[dict[str, Any]]:
    """Per group of `key` that holds a lead of `period` (one, keyed '', when None): `entered`,
    and how many leads reached each of the `later` stages and made each step of `timed`.
    SQLite groups by sorting every row: without groups the flags are summed as the rows pass;
    with groups each lead is sorted as one small code rather than a dozen flags (the last stage
    it reached, each implying the ones before, and a bit per timed step), and each group's
    codes are unpacked here (a few dozen rows): at a million leads that sort costs a fifth less."""
    if key is None:
        leads = _keyed(key, period, *_flags(later), *_flags(timed))
        sums = select(func.count().label("entered"), *_stage_sums(leads, later, timed))
        found = session.execute(sums).one()._mapping
        return [{"key": "", **found}] if found["entered"] else []
    stages = list(later)
    reached = case(
        *((later[stage], rank) for rank, stage in reversed(list(enumerate(stages, start=1)))),
        else_=0,
    )
    bits = [case((condition, 1 << bit), else_=0) for bit, condition in enumerate(timed.values())]
    code = (reached * (1 << len(timed)) + sum(bits[1:], bits[0])).label("code")
    leads = _keyed(key, period, code)
    tallied = session.execute(
        select(leads.c.key, leads.c.code, func.count()).group_by(leads.c.key, leads.c.code)
    )
    rows: dict[Any, dict[str, Any]] = {}
    for group, packed, count in tallied:
        row = rows.setdefault(
            group, dict.fromkeys(["entered", *stages, *timed], 0) | {"key": group}
        )
        row["entered"] += count
        last = packed >> len(timed)
        for rank, stage in enumerate(stages, start=1):
            row[stage] += count if rank <= last else 0
        for bit, step in enumerate(timed):
            row[step] += count if packed >> bit & 1 else 0
    return list(rows.values())


def _summed(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any] | None:
    """Everyone's counts, the groups' summed; None when no lead entered."""
    if not rows:
        return None
    return {"key": "", **{name: sum(row[name] for row in rows) for name in names}}


def _medians(
    session: Session,
    column: ColumnElement[Any],
    leads: ColumnElement[bool],
    key: ColumnElement[Any] | None,
    counts: dict[Any, int],
) -> tuple[Any, dict[Any, Any]]:
    """`column` at the nearest rank ⌈n/2⌉ of the n values among `leads`, for everyone and per
    group of `key` (the groups' `counts`), along the index that keeps `column` in order where
    one does (STEP_ORDER), else over the values the database sorts once: for everyone alone, a
    walk to the rank inside the database (storage.reports.value_at_rank); with groups, one walk
    counting every group's values as they pass (storage.reports.values_at_ranks)."""
    count = sum(counts.values())
    if not count:
        return None, {}
    if key is None:
        return value_at_rank(session, column, leads, rank=(count + 1) // 2, count=count), {}
    ranks = {group: (n + 1) // 2 for group, n in counts.items()}
    return values_at_ranks(session, column, leads, key, ranks, everyone=(count + 1) // 2)


def _flags(stages: dict[str, ColumnElement[bool]]) -> list[ColumnElement[int]]:
    """1 where a lead reached the stage, else 0, one column per stage (named as `stages`)."""
    return [case((condition, 1), else_=0).label(name) for name, condition in stages.items()]


def _stage_sums(leads: Any, *stages: dict[str, ColumnElement[bool]]) -> list[ColumnElement[Any]]:
    return [func.sum(leads.c[name]).label(name) for named in stages for name in named]


def _times(times: dict[str, ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    return [value.label(f"time_{stage}") for stage, value in times.items()]


def _keyed(
    key: ColumnElement[Any] | None, leads: ColumnElement[bool], *columns: ColumnElement[Any]
) -> Any:
    """`leads` as a subquery of their group `key` ('' for all when None) and `columns`: grouped
    on as a plain column, so PostgreSQL never has to match two renderings of an expression with
    bound values (a cohort's month bounds)."""
    group = literal_column("''") if key is None else key
    return select(group.label("key"), *columns).where(leads).subquery()


def _seconds_between(session: Session, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole seconds from `earlier` to `later` (none below zero: a CRM may backdate a
    stage), as each database subtracts times."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        seconds: ColumnElement[Any] = cast(func.round(days * 86400), Integer)
    else:
        seconds = cast(func.round(extract("epoch", later - earlier)), BigInteger)
    return case((seconds < 0, 0), else_=seconds)


def stage_times(session: Session) -> dict[str, ColumnElement[Any]]:
    """The time each stage took to reach from the one before, in microseconds, for the leads
    that made that step (NULL for the others): claim and contact as the transitions counted them
    (business hours where the lead's SLA policy does), the rest calendar time."""
    between = _seconds_between
    return {
        "sql": between(session, Lead.created_at, Lead.promoted_at) * MICROSECONDS,
        "accepted": case((Lead.first_decision.in_(CLAIMS), Lead.time_to_claim_us)),
        "contacted": Lead.time_to_contact_us.expression,
        "opportunity": between(session, Lead.contacted_at, Lead.opportunity_at) * MICROSECONDS,
        "won": case((WON, between(session, Lead.opportunity_at, Lead.closed_at) * MICROSECONDS)),
    }
