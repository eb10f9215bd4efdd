"""The tuning report's rollups (TuningDay, TuningRuleDay, ClaimTimeWeek): how a posted lead
counts in them, the moves that keep them (bot.lifecycle calls `move` with each change to a
posted lead: posting, a decision and its undo, an outcome, new data that rescores it or changes
its source, in the same transaction), their sums over whole days and weeks, and their rebuild
from the leads (migration 0027, a seeded benchmark).

A time to claim falls in a bucket about a quarter wider than the one before: below a minute,
then from a minute up by ×1.25 (15 s wide at a minute, 4 h wide at a day), so a week of a team
is a few dozen rows per group, and a median's bucket holds a few percent of the times, which
the report then walks in index order to the exact one.
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from storage.models import ClaimTimeWeek, Lead, LeadStatus, TuningDay, TuningRuleDay

MINUTE_US = 60_000_000
# The lowest score of each band the tuning report groups scores in (bot.tuning.BANDS names them).
SCORE_BAND_FLOORS = (0, 40, 60, 80)
# The lower bound of each bucket from bucket 0 (under a minute); -1 holds a time below 0.
# SQLite's funnel triggers read a copy in funnel_bucket_bounds (migration 0031): a change here
# needs a migration that rewrites it and counts the rollups again.
BOUNDS_US = (0, *sorted({round(MINUTE_US * 1.25**step) for step in range(80)}))
# Each lead first rejected keeps the reason of its first reject (Lead.first_reject_reason): set
# from its rejections where leads were stored without it (a migration, a seeded benchmark).
FIRST_REJECT_REASONS = (
    "UPDATE leads SET first_reject_reason = (SELECT r.reason FROM rejections r "
    "WHERE r.lead_id = leads.id ORDER BY r.at, r.id LIMIT 1) WHERE first_decision = 'reject'"
)


def claim_bucket(microseconds: int) -> int:
    """The bucket a time to claim falls in."""
    return bisect_right(BOUNDS_US, microseconds) - 1


def in_bucket(value: Any, bucket: int) -> ColumnElement[bool]:
    """`value` (a time to claim) falls in `bucket`."""
    if bucket < 0:
        below: ColumnElement[bool] = value < 0
        return below
    lower: ColumnElement[bool] = value >= BOUNDS_US[bucket]
    return lower if bucket + 1 == len(BOUNDS_US) else lower & (value < BOUNDS_US[bucket + 1])


def add(
    session: Session,
    *,
    days: Sequence[Mapping[str, Any]],
    rules: Sequence[Mapping[str, Any]],
    weeks: Sequence[Mapping[str, Any]],
) -> None:
    """Add each shift's counts (negative to take away) to its row, creating it when new: one
    upsert per table for all its shifts, in the order given."""
    connection = session.connection()
    dialect = connection.dialect.name
    for table, shifts in ((TuningDay, days), (TuningRuleDay, rules), (ClaimTimeWeek, weeks)):
        if shifts:
            connection.execute(_upsert(dialect, table), [dict(shift) for shift in shifts])


@functools.cache
def _upsert(dialect: str, table: type[TuningDay | TuningRuleDay | ClaimTimeWeek]) -> Insert:
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(table)
    columns = table.__table__.columns
    return statement.on_conflict_do_update(
        index_elements=[column for column in columns if column.primary_key],
        set_={
            column.name: column + statement.excluded[column.name]
            for column in columns
            if not column.primary_key
        },
    )


def day_sums(session: Session, *, first: date, last: date) -> list[Row[tuple[Any, ...]]]:
    """The TuningDay counts of the days in [first, last), summed per group, named as
    storage.tuning.tally_outcomes names its rows (none for a -1 score, a '' decision or
    reason)."""
    keys = [
        func.nullif(TuningDay.score, -1).label("score"),
        TuningDay.source,
        TuningDay.explained,
        func.nullif(TuningDay.first_decision, "").label("first_decision"),
        TuningDay.won,
        func.nullif(TuningDay.reason, "").label("reason"),
    ]
    return _sums(session, TuningDay, keys, TuningDay.day, first, last)


def rule_sums(session: Session, *, first: date, last: date) -> list[Row[tuple[Any, ...]]]:
    """TuningRuleDay's counts as day_sums sums TuningDay's, per rule."""
    keys = [
        TuningRuleDay.rule,
        func.nullif(TuningRuleDay.first_decision, "").label("first_decision"),
        TuningRuleDay.won,
        func.nullif(TuningRuleDay.reason, "").label("reason"),
    ]
    return _sums(session, TuningRuleDay, keys, TuningRuleDay.day, first, last)


def _sums(
    session: Session, table: Any, keys: list[Any], day: Any, first: date, last: date
) -> list[Row[tuple[Any, ...]]]:
    leads = func.sum(table.leads)
    query = (
        select(*keys, leads.label("leads"), func.sum(table.timed).label("timed"))
        .where(day >= first, day < last)
        .group_by(*keys)
        .having(leads != 0)
    )
    return list(session.execute(query))


def week_buckets(
    session: Session, *, first: date, last: date, rules: bool
) -> Iterable[tuple[str, str, int, int]]:
    """The ClaimTimeWeek counts of the weeks from `first` to before `last` (Mondays), summed
    per group and bucket: (grouping, value, bucket, leads); rules only when asked."""
    week = ClaimTimeWeek
    keys = (week.grouping, week.value, week.bucket)
    condition = (week.week >= first) & (week.week < last)
    if not rules:
        condition = condition & (week.grouping != "rule")
    leads = func.sum(week.leads)
    query = select(*keys, leads).where(condition).group_by(*keys).having(leads != 0)
    return session.execute(query)


def clear(session: Session) -> None:
    """Empty the rollups, to count them afresh."""
    for table in (TuningDay, TuningRuleDay, ClaimTimeWeek):
        session.execute(delete(table))


# What a lead's part in the rollups is made of (`part`).
PART_COLUMNS = (
    Lead.posted_at,
    Lead.score,
    Lead.source,
    Lead.score_explanation,
    Lead.first_decision,
    Lead.status,
    Lead.first_reject_reason,
    Lead.time_to_claim_us,
)


def posted_leads(session: Session) -> Iterator[Row[tuple[Any, ...]]]:
    """Every posted lead's PART_COLUMNS, a batch at a time."""
    query = select(*PART_COLUMNS).where(Lead.posted_at.is_not(None))
    yield from session.execute(query.execution_options(yield_per=5000))


@dataclass(frozen=True)
class Part:
    """How one posted lead counts in the tuning rollups (keys as the tables store them)."""

    day: date
    score: int  # -1 for none
    source: str  # '' for none
    explained: int
    first_decision: str  # '' for none
    won: int
    reason: str  # '' for none
    rules: tuple[str, ...]
    bucket: int | None  # of its time to claim; None without one
    band: str  # the index of its score's band, '' for no score


def part(lead: Lead) -> Part | None:
    """The lead's part in the rollups; None before its card is posted."""
    if lead.posted_at is None:
        return None
    explanation = lead.score_explanation
    claim = lead.time_to_claim_us
    band = band_index(lead.score, SCORE_BAND_FLOORS)
    return Part(
        day=lead.posted_at.astimezone(UTC).date(),
        score=-1 if lead.score is None else lead.score,
        source=lead.source or "",
        explained=int(isinstance(explanation, Mapping)),
        first_decision=lead.first_decision or "",
        won=int(lead.status == LeadStatus.WON),
        reason=(lead.first_reject_reason or "") if lead.first_decision == "reject" else "",
        rules=rules_of(explanation),
        bucket=None if claim is None else claim_bucket(claim),
        band="" if band is None else str(band),
    )


def move(session: Session, before: Part | None, after: Part | None) -> None:
    """Move a lead's part in the rollups from `before` to `after` (either None: not posted)."""
    if before != after:
        shifts = _Shifts()
        shifts.add(before, -1)
        shifts.add(after, 1)
        shifts.write(session)


def rebuild(session: Session) -> None:
    """Count every posted lead in the rollups afresh (a migration adding them, a seeded
    database): summed in memory, written once per table."""
    clear(session)
    shifts = _Shifts()
    for lead in posted_leads(session):
        shifts.add(part(cast(Lead, lead)), 1)
    shifts.write(session)


_OUTCOME = ("first_decision", "won", "reason")


class _Shifts:
    """Counts to add to the rollups' rows, by key."""

    def __init__(self) -> None:
        self.days: Counter[tuple[object, ...]] = Counter()
        self.rules: Counter[tuple[object, ...]] = Counter()
        self.weeks: Counter[tuple[object, ...]] = Counter()

    def add(self, counted: Part | None, sign: int) -> None:
        if counted is None:
            return
        outcome = (counted.first_decision, counted.won, counted.reason)
        timed = int(counted.bucket is not None)
        day = (counted.day, counted.score, counted.source, counted.explained, *outcome)
        self.days[(*day, "leads")] += sign
        self.days[(*day, "timed")] += sign * timed
        for rule in counted.rules:
            self.rules[(counted.day, rule, *outcome, "leads")] += sign
            self.rules[(counted.day, rule, *outcome, "timed")] += sign * timed
        if counted.bucket is not None:
            week = week_of(counted.day)
            groups = [("total", ""), ("band", counted.band), ("source", counted.source)]
            for grouping, value in groups + [("rule", rule) for rule in counted.rules]:
                self.weeks[(week, grouping, value, counted.bucket)] += sign

    def write(self, session: Session) -> None:
        """Every row that moves, in key order (concurrent moves lock the rows in one order,
        so they never wait on each other in a circle)."""
        add(
            session,
            days=_shifts(self.days, ("day", "score", "source", "explained", *_OUTCOME)),
            rules=_shifts(self.rules, ("day", "rule", *_OUTCOME)),
            weeks=[
                {"week": w, "grouping": g, "value": v, "bucket": b, "leads": n}
                for (w, g, v, b), n in sorted(self.weeks.items(), key=_sort_key)
                if n
            ],
        )


def _shifts(counts: Counter[tuple[object, ...]], names: tuple[str, ...]) -> list[dict[str, object]]:
    """Per key, its `leads` and `timed` shift, in key order, the keys that did not move left
    out."""
    keys = sorted({key[:-1] for key in counts}, key=_sort_key)
    shifts = []
    for key in keys:
        leads, timed = counts[(*key, "leads")], counts[(*key, "timed")]
        if leads or timed:
            shifts.append({**dict(zip(names, key, strict=True)), "leads": leads, "timed": timed})
    return shifts


def _sort_key(item: object) -> str:
    return repr(item)


def week_of(day: date) -> date:
    """The Monday of the UTC week the day falls in."""
    return day - timedelta(days=day.weekday())


def band_index(score: int | None, floors: Sequence[int]) -> int | None:
    """The index of the band the score falls in, counted from the lowest (any score under the
    second floor is band 0); None for no score."""
    if score is None:
        return None
    return max((i for i, floor in enumerate(floors) if score >= floor), default=0)


def rules_of(explanation: object) -> tuple[str, ...]:
    """`fit: decision maker`, `engagement: pricing page`: each rule whose contribution to the
    stored explanation gave the lead points (a number other than 0, or true), each once, as
    storage.tuning unnests them in the database for part of a day."""
    if not isinstance(explanation, Mapping):
        return ()
    contributions = explanation.get("contributions")
    if not isinstance(contributions, list):
        return ()
    return tuple(
        dict.fromkeys(
            f"{_text(item.get('part'))}: {_text(item.get('label'))}"
            for item in contributions
            if isinstance(item, Mapping) and _gave_points(item.get("points"))
        )
    )


def _gave_points(points: object) -> bool:
    if isinstance(points, bool):
        return points
    return isinstance(points, int | float) and points != 0


def _text(value: object) -> str:
    return "None" if value is None else str(value)
