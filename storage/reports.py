"""Queries behind the reports: a period's handoffs and rejections, aggregated in the database.

A year can hold a million leads, so nothing here returns one row per lead except the export
(`list_rejections`): counts come from the day counts and grouped, a percentile as the one value at
its rank. Every handoff query reads the report indexes on `leads` (see the model), never the wide
rows.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, delete, func, select, text, true, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from storage.leads import HELD
from storage.models import HandoffDay, Lead, LeadEvent, LeadStatus, Rejection

CLAIMS = ("accept", "assign")
REJECT = "reject"
# SQLite keeps no statistics of value ranges, so it takes any range of times for a small slice: it
# reads the slice and sorts it for a GROUP BY or a rank. A period holding more than this share of
# the stored rows is better read in the order of an index that needs no sort (by duration, by
# source and reason); its range is then kept off the indexes (see `period_range`).
WHOLE_SHARE = 0.1
# Groups whose newest notes one statement reads (SQLite takes at most 500 SELECTs in one compound
# statement). Building and compiling a statement of 200 took some 3.5 MB of objects at once, and
# a process kept 5-8 MB more after its first feedback (the heap does not shrink back); 25 at a
# time keep it to 3 MB, in as much time at 1M leads.
GROUPS_PER_STATEMENT = 25


@dataclass(frozen=True)
class Scope:
    """Which leads a handoff report covers: posted in [start, end), maybe of one source (as
    routing matches it) and first decided by one rep."""

    start: datetime
    end: datetime
    source: str | None = None
    decided_by: str | None = None


def cohort(session: Session, scope: Scope) -> ColumnElement[bool]:
    """The scope's leads as a condition on `leads`."""
    condition = period_range(session, Lead.posted_at, scope.start, scope.end) & _source_is(
        Lead.source, scope.source
    )
    if scope.decided_by is not None:
        condition = condition & (Lead.first_decided_by == scope.decided_by)
    return condition


def period_range(
    session: Session,
    column: InstrumentedAttribute[datetime | None],
    start: datetime,
    end: datetime,
) -> ColumnElement[bool]:
    """[start, end) of `column`, with the planner steered for its size: a day and a year of
    leads want different plans. On SQLite, when it holds most of the rows, written `+column`,
    SQLite's documented way to keep a term off the indexes, so the planner takes the index that
    needs no sort, or one that finds fewer rows. On PostgreSQL, the transaction's statements are
    planned for their actual bounds: after five runs the driver prepares a statement, and a
    generic plan made for no bounds in particular turned a year's percentile from 0.3 s into
    1.5 s."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        return (column >= start) & (column < end)
    moment: ColumnElement[datetime | None] = column.expression
    if covers_most(session, column, start, end):
        moment = UnaryExpression(moment, operator=custom_op("+"), type_=column.type)
    return (moment >= start) & (moment < end)


def covers_most(
    session: Session, column: InstrumentedAttribute[datetime | None], start: datetime, end: datetime
) -> bool:
    """Whether [start, end) spans most of the stored times of `column` (two index look-ups;
    the null test lets SQLite take a partial index, which holds only the set times)."""
    first: datetime | None = session.scalar(select(func.min(column)).where(column.is_not(None)))
    last: datetime | None = session.scalar(select(func.max(column)).where(column.is_not(None)))
    if first is None or last is None or last <= first:
        return False
    covered = min(end, last) - max(start, first)
    return covered / (last - first) > WHOLE_SHARE


def _source_is(
    column: InstrumentedAttribute[str | None], source: str | None
) -> ColumnElement[bool]:
    """Sources are matched as lead routing matches them: ignoring case and outer spaces."""
    if source is None:
        return true()
    return func.lower(column) == source.strip().lower()


@dataclass
class Tally:
    """One group of a period's leads: the rep of their first decision and the rep credited with
    their first contact (None for none), and how many leads, claims, rejects, breached leads,
    times to claim and to contact, opportunities, won and lost leads it holds."""

    decided_by: str | None
    contact_credit: str | None
    leads: int = 0
    claims: int = 0
    rejects: int = 0
    breached: int = 0
    claim_times: int = 0
    contact_times: int = 0
    opportunities: int = 0
    won: int = 0
    lost: int = 0


COUNTS = (
    "leads",
    "claims",
    "rejects",
    "breached",
    "claim_times",
    "contact_times",
    "opportunities",
    "won",
    "lost",
)


def tally_handoffs(session: Session, scope: Scope) -> list[Tally]:
    """The scope's leads counted per rep of the first decision and rep credited with the first
    contact. The whole UTC days inside come from HandoffDay (a year is a few thousand rows); the
    parts of a day at either end, and a source filter, which the days do not keep, from the
    leads."""
    days = whole_days(scope.start, scope.end) if scope.source is None else None
    if days is None:
        return _tally_leads(session, cohort(session, scope))
    first, last = days
    parts = [
        *_tally_days(session, first=first.date(), last=last.date(), decided_by=scope.decided_by),
        *_tally_leads(session, cohort(session, replace(scope, end=first))),
        *_tally_leads(session, cohort(session, replace(scope, start=last))),
    ]
    merged: dict[tuple[str | None, str | None], Tally] = {}
    for part in parts:
        key = (part.decided_by, part.contact_credit)
        total = merged.setdefault(key, Tally(*key))
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(part, name))
    return list(merged.values())


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The first and last UTC midnight of the whole days inside [start, end), if any."""
    return whole_spans(start, end, days=1)


def whole_spans(start: datetime, end: datetime, *, days: int) -> tuple[datetime, datetime] | None:
    """The first and last UTC midnight that starts a span of `days` (a day; a week, from
    Monday) of the whole spans inside [start, end), if any."""

    def span_start(moment: datetime) -> datetime:
        day = moment.astimezone(UTC).date()
        day -= timedelta(days=day.weekday() if days == 7 else 0)
        return datetime.combine(day, time(0), tzinfo=UTC)

    first = span_start(start)
    first = first if first == start else first + timedelta(days=days)
    last = span_start(end)
    return (first, last) if first < last else None


def _tally_days(
    session: Session, *, first: date, last: date, decided_by: str | None
) -> list[Tally]:
    rep = HandoffDay.decided_by
    condition = (HandoffDay.day >= first) & (HandoffDay.day < last)
    if decided_by is not None:
        condition = condition & (rep == decided_by)
    rows = session.execute(
        select(
            rep,
            HandoffDay.contact_credit,
            *(func.sum(getattr(HandoffDay, name)) for name in COUNTS),
        )
        .where(condition)
        .group_by(rep, HandoffDay.contact_credit)
    )
    return [
        Tally(row[0] or None, row[1] or None, *(int(value or 0) for value in row[2:]))
        for row in rows
    ]


def _tally_leads(session: Session, leads: ColumnElement[bool]) -> list[Tally]:
    rows = session.execute(
        select(
            Lead.first_decided_by,
            Lead.contact_credit,
            func.count(),
            func.count(case((Lead.first_decision.in_(CLAIMS), 1))),
            func.count(case((Lead.first_decision == REJECT, 1))),
            func.count(Lead.escalated_at),
            func.count(Lead.time_to_claim_us),
            func.count(Lead.time_to_contact_us),
            # As bot.report_facts.counted counts them.
            func.count(
                case(((Lead.opportunity_at.is_not(None)) | (Lead.status == LeadStatus.WON), 1))
            ),
            func.count(case((Lead.status == LeadStatus.WON, 1))),
            func.count(case((Lead.status == LeadStatus.LOST, 1))),
        )
        .where(leads)
        .group_by(Lead.first_decided_by, Lead.contact_credit)
    )
    return [Tally(*row) for row in rows]


# The counts of a posting day's group, as `add_to_days` adds them: what a tally counts.
DAY_COUNTS = COUNTS


def add_to_days(session: Session, shifts: Sequence[Mapping[str, Any]]) -> None:
    """Add each shift's DAY_COUNTS (negative to take away) to its group (day, decided_by,
    contact_credit), creating it when new: one upsert executed for all, in the order given,
    atomic in the database however many transitions move leads at once."""
    if shifts:
        upsert = _day_upsert(session.get_bind().dialect.name)
        session.connection().execute(upsert, [dict(shift) for shift in shifts])


@functools.cache
def _day_upsert(dialect: str) -> Insert:
    """The upsert `add_to_days` runs, built once per dialect (a click runs it twice)."""
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(HandoffDay)
    return statement.on_conflict_do_update(
        index_elements=[HandoffDay.day, HandoffDay.decided_by, HandoffDay.contact_credit],
        set_={name: getattr(HandoffDay, name) + statement.excluded[name] for name in DAY_COUNTS},
    )


def count_held(
    session: Session, *, source: str | None = None, owner: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """How many leads each owner (or `owner`) holds now, claimed and not yet contacted
    (`leads`), whenever they were posted: the same leads as a rep's open leads
    (storage.leads.list_claimed), found through their status."""
    condition = _source_is(Lead.source, source) & Lead.status.in_(HELD) & Lead.owner_id.is_not(None)
    if owner is not None:
        condition = condition & (Lead.owner_id == owner)
    return session.execute(
        select(Lead.owner_id, func.count().label("leads")).where(condition).group_by(Lead.owner_id)
    ).all()


def value_at_rank(
    session: Session,
    column: ColumnElement[Any] | InstrumentedAttribute[int | None],
    leads: ColumnElement[bool],
    *,
    rank: int,
    count: int,
) -> int | None:
    """The cohort's value of `column` at 1-based `rank` of the `count` non-null values in
    ascending order, counted from whichever end is nearer, so the database keeps (or walks)
    at most half of them."""
    from_top = rank * 2 > count
    return session.scalar(
        select(column)
        .where(leads, column.is_not(None))
        .order_by(column.desc() if from_top else column)
        .offset(count - rank if from_top else rank - 1)
        .limit(1)
    )


def values_at_ranks(
    session: Session,
    column: ColumnElement[Any],
    leads: ColumnElement[bool],
    key: ColumnElement[Any],
    ranks: Mapping[Any, int],
    *,
    everyone: int,
) -> tuple[Any, dict[Any, Any]]:
    """The value of `column` at 1-based rank `everyone` among all non-null values in ascending
    order, and per group of `key` its value at its rank in `ranks` among the group's (a rank
    past the values finds nothing): one walk up `column`'s order (an index keeps it, or the
    database sorts once), counting each group's values as they pass and stopping at the last
    rank reached, so a median of everyone and of every group costs about half the values once.
    A walk per group would pass the other groups' values again each time."""
    pending = {group: rank for group, rank in ranks.items() if rank > 0}
    seen: dict[Any, int] = dict.fromkeys(pending, 0)
    found: dict[Any, Any] = {}
    overall = None
    walk = select(key, column).where(leads, column.is_not(None)).order_by(column)
    # Core rows, not the ORM's, one at a time as the database walks (a third of the cost of
    # ORM rows in batches): the walk may pass hundreds of thousands of them.
    with session.connection().execute(walk) as rows:
        for passed, (group, value) in enumerate(rows, start=1):
            if passed == everyone:
                overall = value
            before = seen.get(group)
            if before is not None:
                seen[group] = before + 1
                if before + 1 == pending[group]:
                    found[group] = value
            if passed >= everyone and len(found) == len(pending):
                break
    return overall, found


def add_rejection(
    session: Session,
    *,
    lead_id: int,
    at: datetime,
    source: str | None,
    campaign: str | None,
    reason: str,
    note: str | None,
) -> None:
    session.add(
        Rejection(
            lead_id=lead_id, at=at, source=source, campaign=campaign, reason=reason, note=note
        )
    )
    session.flush()


def delete_rejection(session: Session, *, lead_id: int, at: datetime) -> None:
    """Forget a reject that was undone: the feedback reports count only rejects that stand."""
    session.execute(delete(Rejection).where(Rejection.lead_id == lead_id, Rejection.at == at))


def _rejected_in(
    session: Session, start: datetime, end: datetime, source: str | None
) -> ColumnElement[bool]:
    return period_range(session, Rejection.at, start, end) & _source_is(Rejection.source, source)


def tally_rejections(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Rejections in [start, end) counted by source, campaign and reason code as stored
    (`rejections` per group)."""
    keys = (Rejection.source, Rejection.campaign, Rejection.reason)
    return session.execute(
        select(*keys, func.count().label("rejections"))
        .where(_rejected_in(session, start, end, source))
        .group_by(*keys)
    ).all()


def list_newest_notes(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    groups: Sequence[tuple[str | None, str | None, str | None]],
    limit: int,
) -> list[Row[*tuple[Any, ...]]]:
    """The `limit` newest non-blank notes of each group (source, campaign and reason as stored)
    in [start, end), with the group, their moment and id: one small query per group, read
    backwards along the index of noted rejections, so a group costs a few index entries however
    long the period (a window over the period would sort every note in it). The queries go
    `GROUPS_PER_STATEMENT` at a time as one UNION ALL."""
    keys = (Rejection.source, Rejection.campaign, Rejection.reason)

    def newest(group: tuple[str | None, str | None, str | None]) -> Select[Any]:
        same = [
            key.is_(None) if value is None else key == value
            for key, value in zip(keys, group, strict=True)
        ]
        noted = (Rejection.note.is_not(None), func.trim(Rejection.note) != "")
        return select(
            select(*keys, Rejection.note, Rejection.at, Rejection.id)
            .where(*same, Rejection.at >= start, Rejection.at < end, *noted)
            .order_by(Rejection.at.desc(), Rejection.id.desc())
            .limit(limit)
            .subquery()
        )

    rows: list[Row[*tuple[Any, ...]]] = []
    for first in range(0, len(groups), GROUPS_PER_STATEMENT):
        chunk = groups[first : first + GROUPS_PER_STATEMENT]
        rows += session.execute(union_all(*(newest(group) for group in chunk))).all()
    return rows


def count_rejections(session: Session, *, start: datetime, end: datetime) -> int:
    query = (
        select(func.count()).select_from(Rejection).where(Rejection.at >= start, Rejection.at < end)
    )
    return session.scalar(query) or 0


def list_rejections(
    session: Session, *, start: datetime, end: datetime, source: str | None = None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Reject events in [start, end) with the lead they rejected, oldest first, for the export.

    Read from the event log rather than the lead's columns: a reopen clears those, but the
    feedback sales gave stays true.
    """
    return session.execute(
        select(
            LeadEvent.id.label("event_id"),
            LeadEvent.actor,
            LeadEvent.at,
            LeadEvent.details,
            Lead.id.label("lead_id"),
            Lead.external_id,
            Lead.name,
            Lead.company,
            Lead.source,
            Lead.campaign,
            Lead.posted_at,
        )
        .join(Lead, Lead.id == LeadEvent.lead_id)
        .where(
            LeadEvent.action == REJECT,
            LeadEvent.at >= start,
            LeadEvent.at < end,
            _source_is(Lead.source, source),
        )
        .order_by(LeadEvent.at, LeadEvent.id)
    ).all()
