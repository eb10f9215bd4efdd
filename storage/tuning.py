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

from storage import tuning_rollups as rollup_store
from storage.models import Lead, LeadStatus, Rejection
from storage.reports import covers_most, whole_days, whole_spans

BATCH = 1000  # rows fetched at a time: memory stays flat however long the period
REJECT = "reject"


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


def _with_outcomes(query: Select[Any]) -> Select[Any]:
    """`query` of leads with what a lead's tally counts: its `first_decision`, whether it was
    `won` (1 or 0), and the `reason` of its first reject when that decision was a reject."""
    won = case((Lead.status == LeadStatus.WON, 1), else_=0).label("won")
    reason = Lead.first_reject_reason.label("reason")
    return query.add_columns(Lead.first_decision, won, reason)


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
    `reason` (of the first reject, for a lead first rejected): `leads` and `timed` per group
    (a group may come twice: the whole UTC days inside from TuningDay, the parts of a day at
    either end from the leads)."""
    return _days_and_ends(session, start, end, rollup_store.day_sums, _tally_outcome_leads)


def _tally_outcome_leads(
    session: Session, start: datetime, end: datetime
) -> list[Row[tuple[Any, ...]]]:
    if start >= end:
        return []
    explained = case((_is_object(session, Lead.score_explanation), 1), else_=0)
    handoffs = select(
        Lead.score, Lead.source, explained.label("explained"), Lead.time_to_claim_us
    ).select_from(Lead)
    leads = _with_outcomes(handoffs).where(_posted(start, end)).subquery()
    return list(session.execute(_counted(leads, "score", "source", "explained")))


def tally_rules(session: Session, *, start: datetime, end: datetime) -> list[Row[tuple[Any, ...]]]:
    """tally_outcomes per `rule` of the stored explanations (`part: label`), a lead counted
    once for each rule that gave it points, instead of per score and source."""
    return _days_and_ends(session, start, end, rollup_store.rule_sums, _tally_rule_leads)


Rows = list[Row[tuple[Any, ...]]]


def _days_and_ends(
    session: Session,
    start: datetime,
    end: datetime,
    from_days: Callable[..., Rows],
    from_leads: Callable[[Session, datetime, datetime], Rows],
) -> Rows:
    """A tally of [start, end): the whole UTC days inside `from_days` (a rollup's sums), the
    parts of a day at either end `from_leads`."""
    _without_jit(session)
    days = whole_days(start, end)
    if days is None:
        return from_leads(session, start, end)
    first, last = days
    return [
        *from_days(session, first=first.date(), last=last.date()),
        *from_leads(session, start, first),
        *from_leads(session, last, end),
    ]


def _tally_rule_leads(
    session: Session, start: datetime, end: datetime
) -> list[Row[tuple[Any, ...]]]:
    if start >= end:
        return []
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
        query = _with_outcomes(query)
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
    period has rules with times). Each group's times are counted per bucket
    (storage.tuning_rollups): the whole UTC weeks inside from ClaimTimeWeek, the days at
    either end from the leads; each median is then read within its bucket, in index order."""
    _without_jit(session)
    counts: dict[tuple[str, Any], Counter[int]] = defaultdict(Counter)
    stored: dict[str, set[str | None]] = defaultdict(set)

    def count(grouping: str, value: Any, bucket: int, leads: int) -> None:
        if grouping == "source":
            label = source_label(value)
            stored[label].add(value)
            value = label
        counts[(grouping, value)][bucket] += leads

    weeks = whole_spans(start, end, days=7)
    ends = [(start, end)] if weeks is None else [(start, weeks[0]), (weeks[1], end)]
    if weeks is not None:
        first, last = (moment.date() for moment in weeks)
        for grouping, value, bucket, leads in rollup_store.week_buckets(
            session, first=first, last=last, rules=rules
        ):
            if grouping == "band":
                count(grouping, None if value == "" else int(value), bucket, leads)
            else:
                count(grouping, value or None, bucket, leads)
    band = _band(band_floors)
    for part_start, part_end in ends:
        if part_start < part_end:
            for group, bucket, leads in _bucketed_leads(
                session, _posted(part_start, part_end), band, rules
            ):
                count(*group, bucket, leads)
    period = _posted(start, end)
    conditions: dict[tuple[str, Any], ColumnElement[bool]] = {("total", None): true()}
    for key in counts:
        if key[0] == "band":
            conditions[key] = band.is_(None) if key[1] is None else band == key[1]
        elif key[0] == "source":
            conditions[key] = _stored_source(session, stored[str(key[1])])
    medians: dict[tuple[str, Any], int | None] = {}
    for key, buckets in counts.items():
        if not buckets.total():
            continue
        rank, below = (buckets.total() + 1) // 2, 0
        bucket = next(b for b in sorted(buckets) if (below := below + buckets[b]) >= rank)
        offset = rank - (below - buckets[bucket]) - 1
        in_bucket = period & rollup_store.in_bucket(Lead.time_to_claim_us, bucket)
        if key[0] == "rule":
            found = _ruled(
                session, _found_first(session, in_bucket, most=False), Lead.time_to_claim_us
            )
            query = select(found.c.time_to_claim_us).where(found.c.rule == key[1])
            walk: Select[Any] = query.order_by(found.c.time_to_claim_us)
        else:
            walk = (
                select(Lead.time_to_claim_us)
                .where(in_bucket, conditions[key])
                .order_by(Lead.time_to_claim_us)
            )
        medians[key] = session.scalar(walk.offset(offset).limit(1))
    return medians


def _bucketed_leads(
    session: Session, posted: ColumnElement[bool], band: ColumnElement[Any], rules: bool
) -> Iterator[tuple[tuple[str, Any], int, int]]:
    """The times to claim of the leads `posted` (a few days'), per group and bucket, as
    ((grouping, value), bucket, leads) with the value as ClaimTimeWeek would keep it but None
    for none."""
    timed = posted & Lead.time_to_claim_us.is_not(None)
    found: Counter[tuple[tuple[str, Any], int]] = Counter()
    rows = session.execute(select(band, Lead.source, Lead.time_to_claim_us).where(timed))
    for band_index, source, claim in rows:
        bucket = rollup_store.claim_bucket(claim)
        for group in (("total", None), ("band", band_index), ("source", source)):
            found[(group, bucket)] += 1
    if rules:
        ruled = _ruled(session, _found_first(session, timed, most=False), Lead.time_to_claim_us)
        for rule, claim in session.execute(select(ruled.c.rule, ruled.c.time_to_claim_us)):
            found[(("rule", rule), rollup_store.claim_bucket(claim))] += 1
    for (group, bucket), leads in found.items():
        yield group, bucket, leads


def _stored_source(session: Session, sources: set[str | None]) -> ColumnElement[bool]:
    """A lead's stored source is one of `sources` (of one label; '' and None both for none)."""
    source = _unindexed(session, Lead.source)
    named: ColumnElement[bool] = source.in_({value for value in sources if value})
    if "" in sources or None in sources:
        return named | (func.coalesce(source, "") == "")
    return named


def _band(floors: Sequence[int]) -> ColumnElement[Any]:
    """The index of the band a lead's score falls in, counted from the lowest; None for none."""
    highest_first = [(Lead.score >= floor, i) for i, floor in reversed(list(enumerate(floors)))]
    return case(*highest_first[:-1], (Lead.score.is_not(None), 0))


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
