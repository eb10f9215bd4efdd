"""What each stage of the funnel means, as conditions on the columns of a lead that the
transitions keep (never cleared by a reopen): read by the funnel's queries (storage.funnel) and
by the triggers that keep its rollups (storage.funnel_rollups), so both count alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_

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
