"""The queries behind the tuning report (bot.tuning): how the leads handed off in a period fared,
grouped in the database by score, source, first decision, outcome and first reject's reason, and
by each rule of the model's stored explanation (JSON, unnested as each database unnests it);
their median times to claim picked by the database at their nearest rank; and for the digest's
chart, only how many leads of each source each first decision had.

Nothing returns a row per lead: a year of a million leads is a few thousand grouped rows.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Numeric,
    Row,
    Select,
    String,
    case,
    cast,
    column,
    false,
    func,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from storage.models import Lead, LeadStatus, Rejection
from storage.reports import covers_most

BATCH = 1000  # rows fetched at a time: memory stays flat however long the period
REJECT = "reject"
# Times to claim are counted in buckets of a minute first; each median is then read from the
# one bucket that holds its rank, a few index entries instead of a period's sort.
BUCKET_US = 60_000_000


def _first_reason() -> Any:
    """The reason of a lead's first reject as sales gave it (kept when a reopen cleared the
    lead's own)."""
    return (
        select(Rejection.reason)
        .where(Rejection.lead_id == Lead.id)
        .order_by(Rejection.at, Rejection.id)
        .limit(1)
        .scalar_subquery()
    )


def stream_arrivals(
    session: Session, *, start: datetime, end: datetime, fields: Sequence[str]
) -> Iterator[Row[tuple[Any, ...]]]:
    """Each lead stored in [start, end), for scoring it again (bot.replay): the lead `fields`
    named, `activities`, `explanation`, `created_at`, `status`, `first_decision`
    and `reason`, the reason of its first reject as sales gave it (kept when a reopen cleared
    the lead's own)."""
    columns: list[Any] = [
        *(getattr(Lead, name) for name in fields),
        Lead.activities,
        Lead.score_explanation.label("explanation"),
        Lead.created_at,
        Lead.status,
        Lead.first_decision,
        _first_reason().label("reason"),
    ]
    query = select(*columns).where(Lead.created_at >= start, Lead.created_at < end)
    yield from session.execute(query.execution_options(yield_per=BATCH))


def _posted(start: datetime, end: datetime) -> ColumnElement[bool]:
    return (Lead.posted_at >= start) & (Lead.posted_at < end)


def _with_outcomes(session: Session, query: Select[Any]) -> Select[Any]:
    """`query` of leads with what a lead's tally counts: its `first_decision`, whether it was
    `won` (1 or 0), and the `reason` of its first reject when that decision was a reject, looked
    up for those leads only (on PostgreSQL by a lateral join, which ran a year in 2.2 s where
    the same subquery per lead took 5 s)."""
    won = case((Lead.status == LeadStatus.WON, 1), else_=0).label("won")
    if _sqlite(session):
        reason = case((Lead.first_decision == REJECT, _first_reason())).label("reason")
        return query.add_columns(Lead.first_decision, won, reason)
    first_reject = (
        select(Rejection.reason)
        .where(Rejection.lead_id == Lead.id, Lead.first_decision == REJECT)
        .order_by(Rejection.at, Rejection.id)
        .limit(1)
        .lateral("first_reject")
    )
    return query.add_columns(Lead.first_decision, won, first_reject.c.reason).outerjoin(
        first_reject, true()
    )


def _counted(leads: Any, *keys: str) -> Any:
    """`leads` grouped by `keys` and their outcome: `leads` and `timed` (with a time to
    claim) per group."""
    columns = [leads.c[key] for key in (*keys, "first_decision", "won", "reason")]
    return select(
        *columns,
        func.count().label("leads"),
        func.count(leads.c.time_to_claim_us).label("timed"),
    ).group_by(*columns)


def tally_outcomes(
    session: Session, *, start: datetime, end: datetime
) -> list[Row[tuple[Any, ...]]]:
    """How many leads posted in [start, end) have each stored `score`, `source`, whether the
    model explained their score (`explained`, 1 or 0), `first_decision`, `won` (1 or 0) and
    `reason` (of the first reject, for a lead first rejected): `leads` and `timed` per group."""
    _without_jit(session)
    explained = case((_is_object(session, Lead.score_explanation), 1), else_=0)
    handoffs = select(
        Lead.score, Lead.source, explained.label("explained"), Lead.time_to_claim_us
    ).select_from(Lead)
    leads = _with_outcomes(session, handoffs).where(_posted(start, end)).subquery()
    return list(session.execute(_counted(leads, "score", "source", "explained")))


def tally_rules(session: Session, *, start: datetime, end: datetime) -> list[Row[tuple[Any, ...]]]:
    """tally_outcomes per `rule` of the stored explanations (`part: label`), a lead counted
    once for each rule that gave it points, instead of per score and source."""
    _without_jit(session)
    most = covers_most(session, Lead.posted_at, start, end)
    leads = _found_first(session, _posted(start, end), most=most)
    ruled = _ruled(session, leads, Lead.time_to_claim_us, outcomes=True)
    return list(session.execute(_counted(ruled, "rule")))


def _without_jit(session: Session) -> None:
    """PostgreSQL compiles a statement it estimates costly to machine code first: the first
    reject's look-up per lead inflates the estimate, and the compiling took 4.6 s of a 30-day
    report whose statements run in 0.2 s. Off for the rest of the transaction."""
    if not _sqlite(session):
        session.execute(text("SET LOCAL jit = off"))


def _is_object(session: Session, value: Any) -> ColumnElement[bool]:
    typed = func.json_type if _sqlite(session) else func.json_typeof
    return typed(value) == "object"


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _ruled(
    session: Session, leads: ColumnElement[bool], *columns: Any, outcomes: bool = False
) -> Any:
    """Each rule that gave points to each of `leads` (`rule`, named `part: label` as Python
    formats the stored values; a lead's rule named twice counts once), with `columns` of the
    lead: the contributions of its stored explanation whose `points` are a number other
    than 0 (or true); with their `outcomes` (_with_outcomes) if asked."""
    explanation = Lead.score_explanation
    if _sqlite(session):
        item = func.json_each(explanation, "$.contributions").table_valued("value", "type")

        def field(name: str) -> ColumnElement[Any]:
            return cast(func.json_extract(item.c.value, f"$.{name}"), String)

        points = func.json_type(item.c.value, "$.points")
        gave_points: ColumnElement[Any] = points.in_(("integer", "real", "true")) & (
            func.json_extract(item.c.value, "$.points") != 0
        )
        contributions = func.json_type(explanation, "$.contributions") == "array"
        is_item = item.c.type == "object"
    else:
        listed = explanation["contributions"]
        item = func.json_array_elements(
            case((func.json_typeof(listed) == "array", listed))
        ).table_valued(column("value", JSON))

        def field(name: str) -> ColumnElement[Any]:
            return item.c.value.op("->>", return_type=String)(name)

        kind = func.json_typeof(item.c.value.op("->")("points"))
        gave_points = case(
            (kind == "number", cast(field("points"), Numeric) != 0),
            (kind == "boolean", field("points") == "true"),
            else_=false(),
        )
        contributions = true()
        is_item = func.json_typeof(item.c.value) == "object"
    rule = (
        func.coalesce(field("part"), "None")
        .concat(": ")
        .concat(func.coalesce(field("label"), "None"))
    )
    query = select(Lead.id, rule.label("rule"), *columns).select_from(Lead).join(item, true())
    if outcomes:
        query = _with_outcomes(session, query)
    return query.where(leads, contributions, is_item, gave_points).distinct().subquery()


def _found_first(
    session: Session, leads: ColumnElement[bool], *, most: bool
) -> ColumnElement[bool]:
    """`leads`, for a join with their JSON: SQLite plans such a join as a scan of the table
    whatever the condition, so unless they are `most` of the stored leads they are found
    first by the condition alone (along an index), then read by id."""
    if most or not _sqlite(session):
        return leads
    return Lead.id.in_(select(Lead.id).where(leads))


def _unindexed(session: Session, value: Any) -> Any:
    """`value` kept off SQLite's indexes (`+value`, its documented way), so a bucket's walk
    reads the index of times in order rather than one of the condition's column."""
    if not _sqlite(session):
        return value
    return UnaryExpression(value.expression, operator=custom_op("+"), type_=value.type)


def median_claim_times(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    band_floors: Sequence[int],
    source_label: Callable[[str | None], str],
    rules: bool,
) -> dict[tuple[str, Any], int | None]:
    """The nearest-rank median ⌈n/2⌉ of the times to claim (microseconds) of the leads posted
    in [start, end), per group: `("total", None)`, `("band", i)` for the band of
    `band_floors[i]` (a band runs from its floor to the next; i is None for no score, 0 for
    any score under the second floor), `("source", label)` by `source_label` of the stored
    source, `("rule", name)` as tally_rules names it (only when asked: `rules`, the
    period has rules with times). Each group's times are counted per
    minute in one grouped statement; the median is then read within its minute's bucket."""
    _without_jit(session)
    period = _posted(start, end)
    band = _band(band_floors)
    bucket = _bucket()
    timed = (
        select(band.label("band"), Lead.source, bucket.label("bucket"))
        .where(period, Lead.time_to_claim_us.is_not(None))
        .subquery()
    )
    counts: dict[tuple[str, Any], Counter[int]] = defaultdict(Counter)
    stored: dict[str, set[str | None]] = defaultdict(set)
    keys = (timed.c.band, timed.c.source, timed.c.bucket)
    for band_index, source, minute, leads in session.execute(
        select(*keys, func.count()).group_by(*keys)
    ):
        label = source_label(source)
        stored[label].add(source)
        for key in (("total", None), ("band", band_index), ("source", label)):
            counts[key][minute] += leads
    conditions: dict[tuple[str, Any], ColumnElement[bool]] = {("total", None): true()}
    for key in counts:
        if key[0] == "band":
            conditions[key] = band.is_(None) if key[1] is None else band == key[1]
        elif key[0] == "source":
            sources = stored[str(key[1])]
            source = _unindexed(session, Lead.source)
            conditions[key] = source.in_(sources - {None}) | (
                source.is_(None) if None in sources else false()
            )
    if rules:
        most = covers_most(session, Lead.posted_at, start, end)
        timed_period = _found_first(session, period & Lead.time_to_claim_us.is_not(None), most=most)
        ruled = _ruled(session, timed_period, bucket.label("bucket"))
        rule_keys = (ruled.c.rule, ruled.c.bucket)
        for rule, minute, leads in session.execute(
            select(*rule_keys, func.count()).group_by(*rule_keys)
        ):
            counts[("rule", rule)][minute] += leads
    medians: dict[tuple[str, Any], int | None] = {}
    for key, minutes in counts.items():
        rank, below = (minutes.total() + 1) // 2, 0
        minute = next(m for m in sorted(minutes) if (below := below + minutes[m]) >= rank)
        offset = rank - (below - minutes[minute]) - 1
        in_bucket = period & _in_bucket(minute)
        if key[0] == "rule":
            found = _ruled(
                session, _found_first(session, in_bucket, most=False), Lead.time_to_claim_us
            )
            query = select(found.c.time_to_claim_us).where(found.c.rule == key[1])
            value = query.order_by(found.c.time_to_claim_us)
        else:
            value = (
                select(Lead.time_to_claim_us)
                .where(in_bucket, conditions[key])
                .order_by(Lead.time_to_claim_us)
            )
        medians[key] = session.scalar(value.offset(offset).limit(1))
    return medians


def _band(floors: Sequence[int]) -> ColumnElement[Any]:
    """The index of the band a lead's score falls in, counted from the lowest; None for none."""
    highest_first = [(Lead.score >= floor, i) for i, floor in reversed(list(enumerate(floors)))]
    return case(*highest_first[:-1], (Lead.score.is_not(None), 0))


def _bucket() -> ColumnElement[int]:
    """The minute a lead's time to claim falls in, from 0 (a time below 0, which no clock
    should give, counts in bucket -1)."""
    claim = Lead.time_to_claim_us
    return case((claim < 0, -1), else_=claim // BUCKET_US)


def _in_bucket(minute: int) -> ColumnElement[bool]:
    claim = Lead.time_to_claim_us
    if minute < 0:
        return claim < 0
    return (claim >= minute * BUCKET_US) & (claim < (minute + 1) * BUCKET_US)


def tally_handoffs(
    session: Session, *, edges: Sequence[datetime]
) -> Iterator[Row[tuple[Any, ...]]]:
    """How many leads posted in each [edges[i], edges[i + 1]) have each stored `source` and
    `first_decision`: `period` (i), `source`, `first_decision` and `leads`, in one grouped
    statement read from ix_leads_report_period alone (a handful of rows, however many leads;
    the domain names sources and decisions as stream_handoffs' rows are named)."""
    period = case(*((Lead.posted_at < edge, index) for index, edge in enumerate(edges[1:])))
    posted = (
        select(period.label("period"), Lead.source, Lead.first_decision)
        .where(Lead.posted_at >= edges[0], Lead.posted_at < edges[-1])
        .subquery()
    )
    query = select(
        posted.c.period, posted.c.source, posted.c.first_decision, func.count().label("leads")
    ).group_by(posted.c.period, posted.c.source, posted.c.first_decision)
    yield from session.execute(query)
