"""Handoff and rejection-feedback numbers, computed from the event log by one set of definitions.

Definitions (docs/metrics.md says the same for readers of the README):

- **Handed off**: a lead whose card was posted in the period (`posted_at`). Every other handoff
  number describes this cohort, with what happened to it up to the moment the report runs, so the
  numbers of a recent period can still move as its leads are decided.
- **Decision**: an accept or an assign (a *claim*) or a reject. A lead's *first decision* is the
  earliest of these events; later reopens, releases and reassignments do not change it.
- **Accepted** / **rejected**: handed-off leads whose first decision was a claim / a reject.
  **Still open**: handed-off leads with no decision yet (escalated ones included), so
  handed off = accepted + rejected + still open.
- **Acceptance rate**: accepted / (accepted + rejected); None when nothing was decided.
- **Time to claim**: from the post to the first decision, accept or reject alike: both end the
  claim SLA, and a fast, reasoned reject is the responsiveness the SLA asks for.
- **Time to first contact**: from the lead's first claim to its "mark contacted", for every
  handed-off lead marked contacted; handing a lead on does not restart the clock.
- Both times count business hours when the lead's SLA policy does (the team's working calendar),
  wall-clock time otherwise, so they read against the same yardstick as the SLA. A decision
  recorded before the card reached Slack (a manager assigned it meanwhile) counts as zero.
- **Median** and **90th percentile** use the nearest-rank method: the value at rank ⌈p·n/100⌉ of
  the n times sorted ascending. It is always a time some lead actually took; for an even n the
  median is the lower of the two middle values. None when there is no time to rank.
- **SLA breaches**: handed-off leads with at least one escalation (claim or follow-up breach),
  counted once per lead. **Breach rate**: breaches / handed off; None when nothing was handed off.
- **Per-rep load**, over the cohort: *accepted* credits each accepted lead to the rep its first
  claim made owner (so the reps' numbers add up to accepted); *open* counts the leads a rep owns
  now that are accepted but not contacted (escalated for a late follow-up included); *contacted*
  counts the leads marked contacted, credited to their owner. Sorted by open, then accepted, most
  first. With `rep`, every handoff number covers only the leads whose first decision was that
  rep's (claimed by or for them, or rejected by them).
- **Rejection feedback** counts reject events whose time is in the period, whatever the lead's
  posting time, read from the event log so a later reopen does not erase the feedback. Grouped by
  the lead's source (no source: "(none)") and campaign; a reason's *share* is its count over the
  group's rejections; labels come from the taxonomy, and a
  code no longer in it keeps the code as its label. Example notes are the three most recent
  non-empty ones.
- A `source` filter matches the lead's source ignoring case, as SLA and routing rules do.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from bot.lifecycle import Action
from bot.periods import Period
from bot.sla_policy import SlaPolicies
from storage import reports as report_store
from storage.models import LeadStatus

NO_SOURCE = "(none)"
# The export's columns, in order: `feedback_rows` fills exactly these.
FEEDBACK_COLUMNS = (
    "lead_id",
    "external_id",
    "name",
    "company",
    "source",
    "campaign",
    "reason",
    "reason_label",
    "note",
    "rejected_by",
    "rejected_at",
    "posted_at",
)
EXAMPLE_NOTES = 3
CLAIMS = frozenset({Action.ACCEPT.value, Action.ASSIGN.value})
DECISIONS = CLAIMS | {Action.REJECT.value}
# Owned, claimed and not yet contacted: a follow-up breach escalates without taking the lead away.
HELD = frozenset({LeadStatus.ACCEPTED, LeadStatus.ESCALATED})
_ZERO = timedelta(0)


@dataclass(frozen=True)
class RepLoad:
    rep_id: str
    open: int  # owned now, accepted and not yet contacted
    accepted: int  # first claims of the period's leads
    contacted: int


@dataclass(frozen=True)
class HandoffStats:
    period: Period
    handed_off: int
    accepted: int
    rejected: int
    still_open: int
    acceptance_rate: float | None
    median_time_to_claim: timedelta | None
    p90_time_to_claim: timedelta | None
    median_time_to_contact: timedelta | None
    p90_time_to_contact: timedelta | None
    sla_breaches: int
    breach_rate: float | None
    per_rep: list[RepLoad]


@dataclass(frozen=True)
class ReasonCount:
    code: str
    label: str
    count: int
    share: float
    example_notes: list[str]  # up to three, most recent first


@dataclass(frozen=True)
class FeedbackGroup:
    source: str
    campaign: str | None
    rejected: int
    reasons: list[ReasonCount]


@dataclass
class _RepTally:
    open: int = 0
    accepted: int = 0
    contacted: int = 0


def handoff_stats(
    session: Session,
    *,
    period: Period,
    policies: SlaPolicies,
    source: str | None = None,
    rep: str | None = None,
) -> HandoffStats:
    """The handoff numbers of the leads posted in `period`; see the module docstring.

    Two queries (the leads, then all their decisive events) and the rest in Python, so the cost
    grows with the number of leads, never with round trips.
    """
    leads = report_store.list_handed_off(session, start=period.start, end=period.end, source=source)
    events: dict[int, list[Row[Any]]] = defaultdict(list)
    for event in report_store.list_reported_events(
        session, start=period.start, end=period.end, source=source
    ):
        events[event.lead_id].append(event)

    outcomes: Counter[str] = Counter()
    claim_times: list[timedelta] = []
    contact_times: list[timedelta] = []
    breaches = 0
    reps: dict[str, _RepTally] = defaultdict(_RepTally)
    for lead in leads:
        history = events[lead.id]
        first = next((e for e in history if e.action in DECISIONS), None)
        if rep is not None and (first is None or _decider(first) != rep):
            continue
        business_hours = policies.policy_named(lead.sla_policy).business_hours
        if first is None:
            outcomes["open"] += 1
        else:
            claimed = first.action in CLAIMS
            outcomes["accepted" if claimed else "rejected"] += 1
            claim_times.append(_elapsed(policies, lead.posted_at, first.at, business_hours))
            if claimed:
                reps[_decider(first)].accepted += 1
        if lead.status in HELD and lead.owner_id is not None:
            reps[lead.owner_id].open += 1
        first_claim = next((e for e in history if e.action in CLAIMS), None)
        contact = next((e for e in history if e.action == Action.MARK_CONTACTED), None)
        if contact is not None and first_claim is not None:
            contact_times.append(_elapsed(policies, first_claim.at, contact.at, business_hours))
            reps[lead.owner_id or contact.actor].contacted += 1
        breaches += any(e.action == Action.ESCALATE for e in history)

    handed_off = sum(outcomes.values())
    decided = outcomes["accepted"] + outcomes["rejected"]
    per_rep = [
        RepLoad(rep_id=rep_id, open=t.open, accepted=t.accepted, contacted=t.contacted)
        for rep_id, t in reps.items()
        if rep is None or rep_id == rep
    ]
    per_rep.sort(key=lambda load: (-load.open, -load.accepted, load.rep_id))
    return HandoffStats(
        period=period,
        handed_off=handed_off,
        accepted=outcomes["accepted"],
        rejected=outcomes["rejected"],
        still_open=outcomes["open"],
        acceptance_rate=outcomes["accepted"] / decided if decided else None,
        median_time_to_claim=nearest_rank(claim_times, 50),
        p90_time_to_claim=nearest_rank(claim_times, 90),
        median_time_to_contact=nearest_rank(contact_times, 50),
        p90_time_to_contact=nearest_rank(contact_times, 90),
        sla_breaches=breaches,
        breach_rate=breaches / handed_off if handed_off else None,
        per_rep=per_rep,
    )


def rejection_feedback(
    session: Session, *, period: Period, reasons: Mapping[str, str], source: str | None = None
) -> list[FeedbackGroup]:
    """Why sales rejected leads in `period`, by source and campaign, biggest group first."""
    groups: dict[tuple[str, str | None], list[Row[Any]]] = defaultdict(list)
    for row in _rejections(session, period, source):
        groups[(row.source or NO_SOURCE, row.campaign)].append(row)
    result = [
        FeedbackGroup(
            source=group_source,
            campaign=campaign,
            rejected=len(rows),
            reasons=_count_reasons(rows, reasons),
        )
        for (group_source, campaign), rows in groups.items()
    ]
    # Ties by name, with "no campaign" after the named ones, so the order never shuffles.
    result.sort(key=lambda g: (-g.rejected, g.source, g.campaign is None, g.campaign or ""))
    return result


def feedback_rows(
    session: Session, *, period: Period, reasons: Mapping[str, str], source: str | None = None
) -> list[dict[str, Any]]:
    """One flat record per rejection in `period`, oldest first, for CSV or JSON export.

    Values are kept raw (no "(none)" placeholder, empty notes as None) so marketing's own
    tools can filter and join on them; times are ISO 8601 in UTC.
    """
    rows = []
    for row in _rejections(session, period, source):
        code = _reason(row)
        rows.append(
            {
                "lead_id": row.lead_id,
                "external_id": row.external_id,
                "name": row.name,
                "company": row.company,
                "source": row.source,
                "campaign": row.campaign,
                "reason": code,
                "reason_label": reasons.get(code, code),
                "note": _note(row),
                "rejected_by": row.actor,
                "rejected_at": iso_utc(row.at),
                "posted_at": iso_utc(row.posted_at),
            }
        )
    return rows


def nearest_rank(values: Iterable[timedelta], percentile: int) -> timedelta | None:
    """The nearest-rank percentile: the value at rank ⌈percentile·n/100⌉ of the sorted values,
    with the rank in integer arithmetic so no floating-point rounding can move it a place."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-percentile * len(ordered) // 100))
    return ordered[rank - 1]


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-11-24T15:00:00Z`: whole seconds, the form spreadsheets and BI tools parse."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _elapsed(
    policies: SlaPolicies, start: datetime, end: datetime, business_hours: bool
) -> timedelta:
    """Time between two moments as the lead's SLA counts it, never negative."""
    elapsed = policies.calendar.working_time_between(start, end) if business_hours else end - start
    return max(elapsed, _ZERO)


def _decider(event: Row[Any]) -> str:
    """Who a decision belongs to: the rep who became owner for a claim, else who rejected."""
    if event.action == Action.ASSIGN:
        return str(event.details.get("assignee") or event.actor)
    return str(event.actor)


def _rejections(session: Session, period: Period, source: str | None) -> Sequence[Row[Any]]:
    return report_store.list_rejections(session, start=period.start, end=period.end, source=source)


def _reason(row: Row[Any]) -> str:
    return str(row.details.get("reason") or "unknown")


def _note(row: Row[Any]) -> str | None:
    return (row.details.get("note") or "").strip() or None


def _count_reasons(rows: Sequence[Row[Any]], reasons: Mapping[str, str]) -> list[ReasonCount]:
    """Reasons by count (most first, then code); notes from the newest rejections first."""
    counts: Counter[str] = Counter()
    notes: dict[str, list[str]] = defaultdict(list)
    for row in reversed(rows):  # rows come oldest first
        code = _reason(row)
        counts[code] += 1
        note = _note(row)
        if note is not None and len(notes[code]) < EXAMPLE_NOTES:
            notes[code].append(note)
    total = len(rows)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        ReasonCount(
            code=code,
            label=reasons.get(code, code),
            count=count,
            share=count / total,
            example_notes=notes[code],
        )
        for code, count in ranked
    ]
