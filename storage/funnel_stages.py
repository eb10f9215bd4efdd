"""What each stage of the funnel means, as conditions on the columns of a lead that the
transitions keep (never cleared by a reopen): read by the funnel's queries (storage.funnel) and
by the triggers that keep its rollups (storage.funnel_rollups), so both count alike."""

from __future__ import annotations

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
    not_,
    or_,
    type_coerce,
)

from storage.models import Lead, LeadStatus
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
# The steps whose time is a column that an index keeps in order, with every column a funnel
# filters and groups on (ix_leads_report_claim_times, ix_leads_report_contact_times); the
# rollups count their times per bucket (FunnelTimeWeek).
STEP_ORDER: dict[str, ColumnElement[Any]] = {
    "accepted": Lead.time_to_claim_us.expression,
    "contacted": Lead.time_to_contact_us.expression,
}
MICROSECONDS = 1_000_000


def _seconds_between(dialect: str, earlier: Any, later: Any) -> ColumnElement[int]:
    """Whole seconds from `earlier` to `later` (none below zero: a CRM may backdate a
    stage), as each database subtracts times."""
    if dialect == "sqlite":
        days = func.julianday(later) - func.julianday(earlier)
        seconds: ColumnElement[Any] = cast(func.round(days * 86400), Integer)
    else:
        seconds = cast(func.round(extract("epoch", later - earlier)), BigInteger)
    return case((seconds < 0, 0), else_=seconds)


def stage_times(dialect: str) -> dict[str, ColumnElement[Any]]:
    """The time each stage took to reach from the one before, in microseconds, for the leads
    that made that step (NULL for the others), on the `dialect` database: claim and contact as
    the transitions counted them (business hours where the lead's SLA policy does), the rest
    calendar time."""

    def between(earlier: Any, later: Any) -> ColumnElement[int]:
        # Typed as the 64-bit number it is, so a bound compared with it is bound as one too.
        return type_coerce(_seconds_between(dialect, earlier, later) * MICROSECONDS, BigInteger)

    return {
        "sql": between(Lead.created_at, Lead.promoted_at),
        "accepted": case((Lead.first_decision.in_(CLAIMS), Lead.time_to_claim_us)),
        "contacted": Lead.time_to_contact_us.expression,
        "opportunity": between(Lead.contacted_at, Lead.opportunity_at),
        "won": case((WON, between(Lead.opportunity_at, Lead.closed_at))),
    }
