"""Handoff and rejection-feedback numbers: one set of definitions, counted in the database.

Definitions (docs/metrics.md says the same for readers of the README):

- **Handed off**: a lead whose card was posted in the period (`posted_at`). Every other handoff
  number describes this cohort, with what happened to it up to the moment the report runs, so the
  numbers of a recent period can still move as its leads are decided.
- **Decision**: an accept or an assign (a *claim*) or a reject. A lead's *first decision* is the
  earliest of these events; later reopens, releases and reassignments do not change it.
- **Accepted** / **rejected**: handed-off leads whose first decision was a claim / a reject.
  **Still open** (shown as "not yet accepted or rejected"): handed-off leads with no decision
  yet (escalated ones included), so handed off = accepted + rejected + still open.
- **Acceptance rate**: accepted / (accepted + rejected); None when nothing was decided.
- **Time to claim**: from the post to the first decision, accept or reject alike: both end the
  claim SLA, and a fast, reasoned reject is the responsiveness the SLA asks for.
- **Time to first contact**: from the lead's first claim to its "mark contacted", for every
  handed-off lead marked contacted; handing a lead on does not restart the clock.
- Both times count business hours when the lead's SLA policy does (the team's working calendar),
  wall-clock time otherwise, so they read against the same yardstick as the SLA. A decision
  recorded before the card reached Slack (a manager assigned it meanwhile) counts as zero. Each
  time is counted when it ends, by the rules of that moment, and kept on the lead
  (bot.report_facts): changing the hours later does not rewrite past numbers.
- **Median** and **90th percentile** use the nearest-rank method: the value at rank ⌈p·n/100⌉ of
  the n times sorted ascending. It is always a time some lead actually took; for an even n the
  median is the lower of the two middle values. None when there is no time to rank.
- **SLA breaches**: handed-off leads with at least one escalation (claim or follow-up breach),
  counted once per lead. **Breach rate**: breaches / handed off; None when nothing was handed off.
- **Per-rep load**: *accepted* credits each of the cohort's accepted leads to the rep its first
  claim made owner (so the reps' numbers add up to accepted); *contacted* counts the cohort's
  leads marked contacted, credited to their owner; *open* counts every lead a rep owns now that
  is claimed but not contacted (escalated for a late follow-up included), whenever it was
  posted: the rep's open leads in `/leads mine` and App Home, adding up to SLA health's
  "claimed, not yet contacted". Sorted by open, then accepted, most first. With `rep`, every
  other handoff number covers only the leads whose first decision was that rep's (claimed by
  or for them, or rejected by them).
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

from sqlalchemy import ColumnElement, Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.periods import Period
from bot.report_facts import duration
from bot.sla_policy import SlaPolicies
from storage import reports as report_store
from storage.models import Lead

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


@dataclass(frozen=True)
class RepLoad:
    rep_id: str
    open: int  # owned now, claimed and not yet contacted, whenever posted
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
    # What became of the period's leads so far, as the CRM (or their owners) reported it.
    opportunities: int = 0
    won: int = 0
    lost: int = 0
    rep: str | None = None  # the one rep whose numbers these are; None for everyone's


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

    Counted in the database from what each transition keeps (bot.report_facts): the period's
    day counts, the few leads still held, and each percentile as the one value at its rank.
    The times were counted under the lead's SLA policy when they ended, so `policies` is not
    consulted here.
    """
    scope = report_store.Scope(period.start, period.end, source=source, decided_by=rep)
    outcomes: Counter[str] = Counter()
    reps: dict[str, _RepTally] = defaultdict(_RepTally)
    for group in report_store.tally_handoffs(session, scope):
        outcomes.update({name: getattr(group, name) for name in report_store.COUNTS})
        if group.claims:
            reps[str(group.decided_by)].accepted += group.claims
        if group.contact_times:
            reps[str(group.contact_credit)].contacted += group.contact_times
    for held in report_store.count_held(session, source=source, owner=rep):
        reps[held.owner_id].open += held.leads

    handed_off, breaches = outcomes["leads"], outcomes["breached"]
    accepted, rejected = outcomes["claims"], outcomes["rejects"]
    decided = accepted + rejected
    per_rep = [
        RepLoad(rep_id=rep_id, open=t.open, accepted=t.accepted, contacted=t.contacted)
        for rep_id, t in reps.items()
        if rep is None or rep_id == rep
    ]
    per_rep.sort(key=lambda load: (-load.open, -load.accepted, load.rep_id))
    leads = report_store.cohort(session, scope)
    claim = _median_and_p90(session, Lead.time_to_claim_us, leads, outcomes["claim_times"])
    contact = _median_and_p90(session, Lead.time_to_contact_us, leads, outcomes["contact_times"])
    return HandoffStats(
        period=period,
        handed_off=handed_off,
        accepted=accepted,
        rejected=rejected,
        still_open=handed_off - decided,
        acceptance_rate=accepted / decided if decided else None,
        median_time_to_claim=claim[0],
        p90_time_to_claim=claim[1],
        median_time_to_contact=contact[0],
        p90_time_to_contact=contact[1],
        sla_breaches=breaches,
        breach_rate=breaches / handed_off if handed_off else None,
        per_rep=per_rep,
        opportunities=outcomes["opportunities"],
        won=outcomes["won"],
        lost=outcomes["lost"],
        rep=rep,
    )


def rejection_feedback(
    session: Session, *, period: Period, reasons: Mapping[str, str], source: str | None = None
) -> list[FeedbackGroup]:
    """Why sales rejected leads in `period`, by source and campaign, biggest group first.

    Counted in the database, then the few newest notes of each reason and group in one more
    statement: nothing grows with the number of rejections.
    """
    start, end = period.start, period.end
    counts: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)
    stored = []  # groups as stored: no source and an empty one are reported as one, and so on
    for row in report_store.tally_rejections(session, start=start, end=end, source=source):
        counts[(row.source or NO_SOURCE, row.campaign)][_code(row.reason)] += row.rejections
        stored.append((row.source, row.campaign, row.reason))
    notes: dict[tuple[str, str | None, str], list[Row[Any]]] = defaultdict(list)
    for row in report_store.list_newest_notes(
        session, start=start, end=end, groups=stored, limit=EXAMPLE_NOTES
    ):
        notes[(row.source or NO_SOURCE, row.campaign, _code(row.reason))].append(row)
    result = []
    for (group_source, campaign), by_reason in counts.items():
        total = sum(by_reason.values())
        ranked = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
        result.append(
            FeedbackGroup(
                source=group_source,
                campaign=campaign,
                rejected=total,
                reasons=[
                    ReasonCount(
                        code=code,
                        label=reasons.get(code, code),
                        count=count,
                        share=count / total,
                        example_notes=_newest_notes(notes[(group_source, campaign, code)]),
                    )
                    for code, count in ranked
                ],
            )
        )
    # Ties by name, with "no campaign" after the named ones, so the order never shuffles.
    result.sort(key=lambda g: (-g.rejected, g.source, g.campaign is None, g.campaign or ""))
    return result


def rejections_in(session: Session, *, period: Period) -> int:
    """How many rejections `period` holds, whatever their source."""
    return report_store.count_rejections(session, start=period.start, end=period.end)


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
    """The nearest-rank percentile of values in memory: the definition the reports compute in
    the database (`rank_of`), kept as their reference."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[rank_of(len(ordered), percentile) - 1]


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-11-24T15:00:00Z`: whole seconds, the form spreadsheets and BI tools parse."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def rank_of(count: int, percentile: int) -> int:
    """The nearest rank ⌈percentile·count/100⌉ (at least 1), in integer arithmetic so no
    floating-point rounding can move it a place."""
    return max(1, -(-percentile * count // 100))


def _median_and_p90(
    session: Session,
    column: InstrumentedAttribute[int | None],
    leads: ColumnElement[bool],
    count: int,
) -> tuple[timedelta | None, timedelta | None]:
    """The nearest-rank median and 90th percentile of the `count` values the cohort holds."""
    if count == 0:
        return None, None
    median, p90 = (
        duration(report_store.value_at_rank(session, column, leads, rank=rank, count=count))
        for rank in (rank_of(count, 50), rank_of(count, 90))
    )
    return median, p90


def _code(reason: str | None) -> str:
    return str(reason or "unknown")


def _rejections(session: Session, period: Period, source: str | None) -> Sequence[Row[Any]]:
    return report_store.list_rejections(session, start=period.start, end=period.end, source=source)


def _reason(row: Row[Any]) -> str:
    return _code(row.details.get("reason"))


def _note(row: Row[Any]) -> str | None:
    return (row.details.get("note") or "").strip() or None


def _newest_notes(rows: Sequence[Row[Any]]) -> list[str]:
    """Up to three notes, newest first, from the newest of each stored group that makes up one
    reported group (no source and an empty one; no reason and "unknown")."""
    notes: list[str] = []
    for row in sorted(rows, key=lambda row: (row.at, row.id), reverse=True):
        note = (row.note or "").strip()
        if note and len(notes) < EXAMPLE_NOTES:
            notes.append(note)
    return notes
