"""The queries behind the funnel (bot.funnel): how far the leads that entered in a period got,
counted and timed in the database, per group (source, campaign, segment or monthly cohort).

Each stage is a condition on columns the transitions keep (never cleared by a reopen). The whole
days and weeks of a period are summed from the rollups (storage.funnel_rollups), the rest
counted from the leads; each median is the one value at its rank in its group, found in its
bucket from those counts and read by a walk inside that bucket along the index that keeps the
step's times in order (storage.funnel_stages.step_order), the same on both databases.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session

from storage import funnel_rollups as rollup_store
from storage import tuning_rollups as rollup_buckets
from storage.funnel_stages import TIMED, stage_times, step_made, step_order
from storage.models import Lead
from storage.reports import period_range, value_at_rank, values_at_ranks, whole_spans

GROUPINGS = ("source", "campaign", "segment", "cohort")


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
    by: str | None,
    months: Sequence[tuple[str, datetime]],
    medians: bool = True,
) -> FunnelRows:
    """Everyone's row and, `by` a grouping, each group's: its `key` (group_key's value), how
    many of the period's leads reached each stage (named as STAGES), how many made each step
    with a time (`timed_<stage>`), and the median time of each step after the first
    (`median_<stage>`, stage_times) at the nearest rank ⌈n/2⌉ of the n leads that made it
    (bot.reports.rank_of). `months` are the team's, as (label, end), for `cohort`.

    The whole UTC days inside the period are summed from the rollups (FunnelDay), the parts
    of a day at its ends counted from the leads, and for cohorts the days a month boundary
    cuts too. Each median is found the same way, per bucket of the whole weeks
    (FunnelTimeWeek), then read within its bucket (`_medians`). Without `medians` (a chart
    shows counts only) no time is read."""
    key = group_key(by, months)
    cuts = [month_end for _, month_end in months if start < month_end < end]
    label = _labeller(by, months)
    days, raw_days = _split(start, end, days=1, cuts=cuts if by == "cohort" else [])
    everyone: Counter[str] = Counter()
    groups: dict[Any, Counter[str]] = {}
    summed_by = "day" if by == "cohort" else by
    for found in rollup_store.day_sums(session, by=summed_by, days=days):
        counted = Counter(dict(zip(rollup_store.COUNTERS, found[1:], strict=True)))
        everyone.update(counted)
        if by is not None:
            groups.setdefault(label(found[0]), Counter()).update(counted)
    if raw_days:
        for group, counted in _tally_leads(session, key, _within(raw_days)):
            everyone.update(counted)
            if by is not None:
                groups.setdefault(group, Counter()).update(counted)
    if not everyone["entered"]:
        return FunnelRows(None, [])
    total = _row("", everyone)
    rows = {group: _row(group, counted) for group, counted in groups.items()}
    if medians:
        period = entered(session, start, end)
        _medians(session, total, rows, key, label, period, (start, end, cuts), by)
    return FunnelRows(total, list(rows.values()))


def _row(key: Any, counted: Counter[str]) -> dict[str, Any]:
    """A group's row: its key, every counter, `mql` (entered but those under the threshold),
    and each median not found yet."""
    row: dict[str, Any] = {"key": key, **{name: counted[name] for name in rollup_store.COUNTERS}}
    row["mql"] = counted["entered"] - counted["under_threshold"]
    row.update({f"median_{stage}": None for stage in TIMED})
    return row


def _groupings(by: str | None) -> list[str]:
    """The groupings of the rollups a funnel by `by` reads: the one whose groups sum to
    everyone, and `by`'s (a cohort's are everyone's days, by day)."""
    everyone = rollup_store.EVERYONE
    return [everyone] if by in (None, "cohort", everyone) else [everyone, str(by)]


def _labeller(by: str | None, months: Sequence[tuple[str, datetime]]) -> Any:
    """How a rollup row's key (a value, or a day or week for cohorts) names its group as
    group_key does: '' is none; a day or week is the month it starts in (a moment, its month)."""
    if by == "cohort":

        def month(day: date) -> str:
            moment = day if isinstance(day, datetime) else datetime.combine(day, time(0), UTC)
            return next(label for label, month_end in months if moment < month_end)

        return month
    return lambda value: value or None


def _split(
    start: datetime, end: datetime, *, days: int, cuts: Sequence[datetime]
) -> tuple[list[tuple[date, date]], list[tuple[datetime, datetime]]]:
    """[start, end) as the ranges of whole UTC spans of `days` (a day; a week, from Monday)
    inside it that no `cuts` moment falls within, and the rest: the parts at the ends and the
    spans cut."""
    whole = whole_spans(start, end, days=days)
    if whole is None:
        return [], [(start, end)]
    first, last = whole
    ranges: list[tuple[date, date]] = []
    rest = [(start, first)] if start < first else []
    span, step = first, timedelta(days=days)
    while span < last:
        following = span + step
        if any(span < cut < following for cut in cuts):
            rest.append((span, following))
        elif ranges and ranges[-1][1] == span.date():
            ranges[-1] = (ranges[-1][0], following.date())
        else:
            ranges.append((span.date(), following.date()))
        span = following
    if last < end:
        rest.append((last, end))
    return ranges, rest


def _within(spans: Sequence[tuple[datetime, datetime]]) -> ColumnElement[bool]:
    """The leads stored in any of `spans`."""
    return or_(
        *((Lead.created_at >= begin) & (Lead.created_at < finish) for begin, finish in spans)
    )


def _tally_leads(
    session: Session, key: ColumnElement[Any] | None, leads: ColumnElement[bool]
) -> list[tuple[Any, Counter[str]]]:
    """Per group of `key` ('' for all when None), the counters FunnelDay keeps of `leads`
    (a few days' of them), counted from the leads."""
    flags = [
        case((condition, 1), else_=0).label(name)
        for name, condition in rollup_store.COUNTED.items()
    ]
    found = _keyed(key, leads, *flags)
    sums = [func.sum(found.c[name]) for name in rollup_store.COUNTED]
    query = select(found.c.key, func.count(), *sums).group_by(found.c.key)
    return [
        (group, Counter(dict(zip(rollup_store.COUNTERS, counts, strict=True))))
        for group, *counts in session.execute(query)
    ]


def _medians(
    session: Session,
    total: dict[str, Any],
    rows: dict[Any, dict[str, Any]],
    key: ColumnElement[Any] | None,
    label: Callable[[Any], Any],
    period: ColumnElement[bool],
    bounds: tuple[datetime, datetime, Sequence[datetime]],
    by: str | None,
) -> None:
    """Set every row's median of each step: its times counted per bucket (the whole weeks
    from FunnelTimeWeek, the rest from the leads), which tells the bucket holding the median
    and its rank there; then the values of that bucket alone are read, along the index that
    keeps the step's times in order (step_order; one walk per bucket for every group whose
    median is in it)."""
    start, end, cuts = bounds
    weeks, raw_weeks = _split(start, end, days=7, cuts=[])
    owners, moved = _cut_weeks(weeks, cuts, label) if by == "cohort" else ({}, [])
    times = stage_times(session.get_bind().dialect.name)
    everyone: dict[str, Counter[int]] = defaultdict(Counter)  # per step
    counts: dict[tuple[Any, str], Counter[int]] = defaultdict(Counter)  # per group and step
    for grouping in _groupings(by):
        per_week = by == "cohort"
        for value, step, bucket, n in rollup_store.week_buckets(
            session, grouping=grouping, weeks=weeks, per_week=per_week
        ):
            if grouping == rollup_store.EVERYONE:
                everyone[step][bucket] += n
            if by in (grouping, "cohort"):
                counts[(owners.get(value) or label(value), step)][bucket] += n
    spans = [*raw_weeks, *(span for span, _ in moved)]
    if spans:
        # The month a moved side's leads are counted in by the rollups, NULL for the others.
        owner = case(*((_within([span]), month) for span, month in moved)) if moved else null()
        for group, moved_from, step, bucket, n in _tally_buckets(
            session, key, _within(spans), owner
        ):
            if moved_from is None:
                everyone[step][bucket] += n
            else:
                counts[(moved_from, step)][bucket] -= n
            if by is not None:
                counts[(group, step)][bucket] += n
    # Per step and bucket, the rank each group's median has inside that bucket (None for
    # everyone's).
    ranks: dict[tuple[str, int], dict[Any, int]] = defaultdict(dict)
    for step, buckets in everyone.items():
        if buckets.total():
            bucket, rank = _bucket_of_median(buckets)
            ranks[(step, bucket)][_EVERYONE] = rank
    for (group, step), buckets in counts.items():
        if buckets.total():
            bucket, rank = _bucket_of_median(buckets)
            ranks[(step, bucket)][group] = rank
    dialect = session.get_bind().dialect.name
    walks = {step: (step_order(dialect)[step], step_made(dialect)[step]) for step in times}
    found_medians = _walked(session, ranks, key, period, walks, everyone)
    for (step, group), median in found_medians.items():
        (total if group is _EVERYONE else rows[group])[f"median_{step}"] = median


def _cut_weeks(
    weeks: Sequence[tuple[date, date]],
    cuts: Sequence[datetime],
    month: Callable[[Any], Any],
) -> tuple[dict[date, Any], list[tuple[tuple[datetime, datetime], Any]]]:
    """For a cohort's whole `weeks` that a month boundary (of `cuts`) falls within: the month
    each such week's counts go to, the one holding most of the week (by its Monday), and the
    shorter side of the cut with that month, to move its leads' counts to their own month.
    The leads of at most half of each week are then read, not the whole week."""
    owners: dict[date, Any] = {}
    moved: list[tuple[tuple[datetime, datetime], Any]] = []
    for cut in cuts:
        monday = cut.astimezone(UTC).date() - timedelta(days=cut.astimezone(UTC).weekday())
        begin = datetime.combine(monday, time(0), tzinfo=UTC)
        finish = begin + timedelta(days=7)
        whole = any(first <= monday and monday < last for first, last in weeks)
        if not whole or cut == begin:
            continue
        later = finish - cut >= cut - begin
        owners[monday] = month(cut) if later else month(monday)
        moved.append(((begin, cut) if later else (cut, finish), owners[monday]))
    return owners, moved


def _tally_buckets(
    session: Session,
    key: ColumnElement[Any] | None,
    leads: ColumnElement[bool],
    owner: ColumnElement[Any],
) -> Iterable[tuple[Any, Any, str, int, int]]:
    """Per group of `key`, value of `owner`, step and bucket, how many of `leads` (the days of
    a few weeks) made the step with a time in that bucket, as FunnelTimeWeek counts them:
    counted by the database in one pass, so only a row per group and combination of buckets
    comes back. Each time is worked out once, before its bucket is searched (`timed`)."""
    dialect = session.get_bind().dialect.name
    times = stage_times(dialect)
    group = literal_column("''") if key is None else key
    made = [case((TIMED[step], time)).label(step) for step, time in times.items()]
    timed = (
        select(group.label("key"), owner.label("owner"), *made)
        .where(leads)
        .cte("timed")
        .prefix_with("MATERIALIZED")
    )
    # Grouped on as plain columns: PostgreSQL matches no two renderings of the bounds.
    found = select(timed.c.key, timed.c.owner, *_step_buckets(dialect).values()).subquery()
    combinations = [found.c.key, found.c.owner, *(found.c[step] for step in times)]
    counted = select(*combinations, func.count()).group_by(*combinations)
    for group_found, moved_from, *in_buckets, n in session.execute(counted):
        for step, bucket in zip(times, in_buckets, strict=True):
            if bucket is not None:
                yield group_found, moved_from, step, bucket, n


@functools.cache
def _step_buckets(dialect: str) -> dict[str, ColumnElement[Any]]:
    """Per step, the bucket of its time in `timed` (NULL where not made), built once per
    database: SQLite's search of the bounds is thousands of elements."""
    return {
        step: rollup_store.bucket_of(literal_column(f"timed.{step}", BigInteger), dialect).label(
            step
        )
        for step in TIMED
    }


_EVERYONE = object()  # everyone's rank, among the groups' (None is the group of no value)


def _walked(
    session: Session,
    ranks: dict[tuple[str, int], dict[Any, int]],
    key: ColumnElement[Any] | None,
    period: ColumnElement[bool],
    walks: dict[str, tuple[ColumnElement[Any], ColumnElement[bool]]],
    everyone: dict[str, Counter[int]],
) -> dict[tuple[str, Any], Any]:
    """The medians of each step, by (step, group): per bucket, one walk up the index that
    keeps the step's times in order to the ranks in it (`walks`: per step, its time as
    step_order writes it and its leads as step_made does)."""
    medians: dict[tuple[str, Any], Any] = {}
    for (step, bucket), in_bucket in ranks.items():
        column, made = walks[step]
        leads = period & made & rollup_buckets.in_bucket(column, bucket)
        groups = dict(in_bucket)
        rank = groups.pop(_EVERYONE, 0)
        if key is None:
            count = everyone[step][bucket]
            medians[(step, _EVERYONE)] = value_at_rank(
                session, column, leads, rank=rank, count=count
            )
            continue
        overall, found = values_at_ranks(session, column, leads, key, groups, everyone=rank)
        if rank:
            medians[(step, _EVERYONE)] = overall
        medians.update({(step, group): median for group, median in found.items()})
    return medians


def _bucket_of_median(buckets: Counter[int]) -> tuple[int, int]:
    """The bucket holding the median ⌈n/2⌉ of the n counted times, and the median's rank
    within that bucket."""
    rank, below = (buckets.total() + 1) // 2, 0
    for bucket in sorted(buckets):
        if below + buckets[bucket] >= rank:
            return bucket, rank - below
        below += buckets[bucket]
    raise ValueError("no time counted")


def _keyed(
    key: ColumnElement[Any] | None, leads: ColumnElement[bool], *columns: ColumnElement[Any]
) -> Any:
    """`leads` as a subquery of their group `key` ('' for all when None) and `columns`: grouped
    on as a plain column, so PostgreSQL never has to match two renderings of an expression with
    bound values (a cohort's month bounds)."""
    group = literal_column("''") if key is None else key
    return select(group.label("key"), *columns).where(leads).subquery()
