"""What each stage of the funnel means, as conditions on the columns of a lead that the
transitions keep (never cleared by a reopen): read by the funnel's queries (storage.funnel) and
by the triggers that keep its rollups (storage.funnel_rollups), so both count alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
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
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import visitors
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from storage.models import STATUS_TYPE, Lead, LeadStatus
from storage.reports import CLAIMS

UNQUALIFIED = "unqualified"  # the scoring model's verdict under its MQL threshold

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
MICROSECONDS = 1_000_000
# The steps whose time is computed from two moments of the lead, each kept in order by an index
# on that expression where the step was made (step_time_indexes, migration 0030).
COMPUTED = ("sql", "opportunity", "won")


def _seconds_between(dialect: str, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole seconds from `earlier` to `later` (none below zero: a CRM may backdate a
    stage), as each database subtracts times; NULL without both; its numbers written out, not
    bound, so that a query's expression is the indexed one (step_time_indexes). On SQLite by
    max(), which reads the two times once (a CASE reads them twice) and keeps a NULL; on
    PostgreSQL greatest() would turn a NULL into 0."""
    if dialect == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        seconds: ColumnElement[Any] = cast(func.round(days * _inline(86400)), Integer)
        return func.max(seconds, _inline(0))
    seconds = cast(func.round(extract("epoch", later - earlier)), BigInteger)
    return case((seconds < _inline(0), _inline(0)), else_=seconds)


def _inline(number: int) -> ColumnElement[Any]:
    return literal_column(str(number), Integer)


def step_order(dialect: str) -> dict[str, ColumnElement[Any]]:
    """Each step's time in microseconds for the leads that made it (TIMED), as an index keeps
    it in order, with every column a funnel filters and groups on, on the `dialect` database:
    claim and contact their columns (ix_leads_report_claim_times, ix_leads_report_contact_times),
    the others their expression (step_time_indexes)."""

    def between(earlier: Any, later: Any) -> ColumnElement[int]:
        # Typed as the 64-bit number it is, so a bound compared with it is bound as one too.
        seconds = _seconds_between(dialect, earlier, later)
        return type_coerce(seconds * _inline(MICROSECONDS), BigInteger)

    return {
        "sql": between(Lead.created_at, Lead.promoted_at),
        "accepted": Lead.time_to_claim_us.expression,
        "contacted": Lead.time_to_contact_us.expression,
        "opportunity": between(Lead.contacted_at, Lead.opportunity_at),
        "won": between(Lead.opportunity_at, Lead.closed_at),
    }


def stage_times(dialect: str) -> dict[str, ColumnElement[Any]]:
    """The time each stage took to reach from the one before, in microseconds, for the leads
    that made that step (NULL for the others), on the `dialect` database: claim and contact as
    the transitions counted them (business hours where the lead's SLA policy does), the rest
    calendar time."""
    ordered = step_order(dialect)
    return {
        **ordered,
        "accepted": case((Lead.first_decision.in_(CLAIMS), ordered["accepted"])),
        "won": case((WON, ordered["won"])),
    }


def step_made(dialect: str) -> dict[str, ColumnElement[bool]]:
    """TIMED as a walk along step_order writes it, on the `dialect` database: on SQLite with
    the won step's status kept off the indexes (`+status`, SQLite's documented way), else its
    planner, which has no statistics, walks the index of status and sorts a year's won leads
    (0.3 s) rather than walk the step's own index, whose condition says the same."""
    if dialect != "sqlite":
        return TIMED
    status = UnaryExpression(Lead.status.expression, operator=custom_op("+"), type_=STATUS_TYPE)
    won = (status == LeadStatus.WON) & Lead.opportunity_at.is_not(None)
    return {**TIMED, "won": won & Lead.closed_at.is_not(None)}


def step_time_indexes(dialect: Dialect) -> dict[str, str]:
    """Per COMPUTED step, the DDL of the index that keeps its time in order (step_order) for
    the leads that made it (step_made), with the columns a funnel filters and groups on and
    those the time and the condition read, so a walk reads the index alone."""
    ordered, made = step_order(dialect.name), step_made(dialect.name)

    def sql(expression: ColumnElement[Any]) -> str:
        text = str(expression.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        return text.replace("leads.", "")

    indexes = {}
    for step in COMPUTED:
        read = sorted(_columns(ordered[step], made[step]) - set(FUNNEL_GROUPS))
        columns = ", ".join([f"({sql(ordered[step])})", *FUNNEL_GROUPS, *read])
        indexes[step] = (
            f"CREATE INDEX {STEP_TIME_INDEX.format(step=step)} ON leads ({columns}) "
            f"WHERE {sql(made[step])}"
        )
    return indexes


STEP_TIME_INDEX = "ix_leads_funnel_{step}_times"
# What a walk along a step's times filters and groups on: the period, source, campaign, segment.
FUNNEL_GROUPS = ("created_at", "source", "campaign", "segment")


def _columns(*expressions: ColumnElement[Any]) -> set[str]:
    """The columns of leads that `expressions` read."""
    return {
        element.name
        for expression in expressions
        for element in visitors.iterate(expression)
        if isinstance(element, Column) and element.table is Lead.__table__
    }
