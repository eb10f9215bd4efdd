"""Tuning the scoring model from sales' answers: how the leads of each score band, each rule
and each source fared once handed off, which rules sales rejects far more than the rest and why,
and from which score acceptance reaches the team's target (`/leads tune`).

Definitions (docs/scoring.md, "Tuning"), over the leads handed off (posted) in the period, as
bot.reports counts them:

- **Decided**: accepted (first decision a claim) or rejected (first decision a reject).
  **Acceptance rate**: accepted / decided. **Win rate**: won / accepted.
  **Time to claim**: the nearest-rank median of the stored times to the first decision, in
  business hours where the lead's SLA policy counts them.
- **Rules**: every fit and engagement contribution in the lead's stored explanation; a lead
  counts once for each rule that gave it points (a number other than 0). Leads without an
  explanation (scored by their sender) count in the bands, by the sender's score, and by
  source only.
- **Flagged**: a rule with at least `min_sample` decided leads whose rejection rate is at least
  FLAG_MARGIN above, and FLAG_RATIO times, that of the other decided leads.
- **Threshold**: the lowest score from which the decided leads at or above it are accepted at
  the target rate or more, among at least `min_sample` of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from bot.periods import Period
from bot.report_facts import CLAIMS, REJECT, duration
from bot.reports import NO_SOURCE
from bot.scoring import ScoringModel
from storage import tuning as tuning_store
from storage.tuning_rollups import SCORE_BAND_FLOORS

# Score bands as (label, lowest score); a band runs to the next one's lowest score.
BANDS = tuple(zip(("under 40", "40–59", "60–79", "80 and up"), SCORE_BAND_FLOORS, strict=True))
NO_SCORE = "no score"
MIN_SAMPLE = 20  # decided leads a rule or threshold needs before it is judged
FLAG_MARGIN = 0.2  # a flagged rule's rejection rate is this much above the rest's…
FLAG_RATIO = 1.5  # …and this many times it
TOP_REASONS = 2
# The export's columns, in order: `tuning_rows` fills exactly these.
TUNING_COLUMNS = (
    "grouped_by",
    "group",
    "leads",
    "decided",
    "accepted",
    "rejected",
    "acceptance_rate",
    "median_time_to_claim_minutes",
    "won",
    "win_rate",
    "flagged",
    "top_reasons",
)


@dataclass
class Tally:
    """How a group of handed-off leads fared."""

    leads: int = 0
    accepted: int = 0
    rejected: int = 0
    won: int = 0
    median_time_to_claim: timedelta | None = None  # nearest rank, of the leads with a time
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.decided if self.decided else None

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.decided if self.decided else None

    @property
    def win_rate(self) -> float | None:
        return self.won / self.accepted if self.accepted else None

    def add_decisions(self, decision: str | None, leads: int = 1) -> None:
        """`leads` more leads whose first decision was `decision` (see `decision_of`)."""
        self.leads += leads
        self.accepted += leads * (decision == "accepted")
        self.rejected += leads * (decision == "rejected")

    def add(self, group: Row[tuple[Any, ...]]) -> None:
        """A grouped row of storage.tuning (tally_outcomes, tally_rules): its leads, first
        decision, wins and first reject's reason."""
        decision = decision_of(group.first_decision)
        self.add_decisions(decision, group.leads)
        self.won += group.won * group.leads
        if decision == "rejected":
            self.reasons[group.reason or "unknown"] += group.leads


@dataclass(frozen=True)
class Group:
    label: str  # a band, a rule ("fit: decision maker") or a source
    tally: Tally


@dataclass(frozen=True)
class Flag:
    """A rule whose leads sales rejects far more than the others, and the reasons it gives."""

    rule: str
    rejection_rate: float
    decided: int
    others_rate: float
    reasons: list[tuple[str, float]]  # (reason label, share of the rule's rejections)


@dataclass(frozen=True)
class Threshold:
    score: int  # the lowest score from which acceptance reaches the target
    acceptance_rate: float
    decided: int  # decided leads scoring `score` or more


@dataclass(frozen=True)
class TuningReport:
    period: Period
    total: Tally
    bands: list[Group]
    rules: list[Group]  # most decided leads first
    sources: list[Group]
    flagged: list[Flag]  # highest rejection rate first
    target: float | None  # None: the team set none
    threshold: Threshold | None  # None: no score reaches the target (or no target)
    unexplained: int  # handed-off leads scored by their sender, not by the model
    min_sample: int
    sql_threshold: int | None  # the model's, to compare the threshold with


def tuning_report(
    session: Session,
    *,
    period: Period,
    model: ScoringModel | None,
    reasons: Mapping[str, str],
    min_sample: int = MIN_SAMPLE,
) -> TuningReport:
    """How the leads handed off in `period` fared, by band, rule and source; see the module
    docstring for the definitions."""
    total = Tally()
    bands: dict[str, Tally] = defaultdict(Tally)
    rules: dict[str, Tally] = defaultdict(Tally)
    sources: dict[str, Tally] = defaultdict(Tally)
    decided_by_score: dict[int, Counter[bool]] = defaultdict(Counter)  # accepted or not
    unexplained = 0
    start, end = period.start, period.end
    for group in tuning_store.tally_outcomes(session, start=start, end=end):
        for tally in (total, bands[band_of(group.score)], sources[source_of(group.source)]):
            tally.add(group)
        unexplained += group.leads * (not group.explained)
        decision = decision_of(group.first_decision)
        if decision is not None and group.score is not None:
            decided_by_score[group.score][decision == "accepted"] += group.leads
    timed_rules = False
    for group in tuning_store.tally_rules(session, start=start, end=end):
        rules[group.rule].add(group)
        timed_rules |= group.timed > 0
    floors = [lowest for _, lowest in BANDS]
    medians = tuning_store.median_claim_times(
        session, start=start, end=end, band_floors=floors, source_label=source_of, rules=timed_rules
    )
    for (grouped_by, key), value in medians.items():
        if grouped_by == "total":
            tally = total
        elif grouped_by == "band":
            tally = bands[NO_SCORE if key is None else BANDS[key][0]]
        else:
            tally = {"source": sources, "rule": rules}[grouped_by][key]
        tally.median_time_to_claim = duration(value)
    target = model.target_acceptance if model is not None else None
    return TuningReport(
        period=period,
        total=total,
        bands=[Group(label, bands[label]) for label in _band_labels() if label in bands],
        rules=_ranked(rules),
        sources=_ranked(sources),
        flagged=_flagged(rules, total, reasons, min_sample),
        target=target,
        threshold=None if target is None else threshold_for(decided_by_score, target, min_sample),
        unexplained=unexplained,
        min_sample=min_sample,
        sql_threshold=model.sql if model is not None else None,
    )


def source_tallies(session: Session, *, edges: Sequence[datetime]) -> list[dict[str, Tally]]:
    """How the leads of each source handed off in each period between consecutive `edges`
    fared, counted in the database as the report's "By source" counts its leads, accepted and
    rejected (the digest's weekly chart draws these; wins, times and reasons are not counted)."""
    periods: list[dict[str, Tally]] = [defaultdict(Tally) for _ in edges[1:]]
    for row in tuning_store.tally_handoffs(session, edges=edges):
        periods[row.period][source_of(row.source)].add_decisions(
            decision_of(row.first_decision), row.leads
        )
    return periods


def tuning_rows(report: TuningReport) -> list[dict[str, object]]:
    """Every band, rule and source of the report as a flat record, for CSV export: rates as
    fractions, the median in minutes, empty when there is nothing to rate."""
    flagged = {flag.rule: flag for flag in report.flagged}
    rows = []
    for grouped_by, groups in (
        ("score band", report.bands),
        ("rule", report.rules),
        ("source", report.sources),
    ):
        for group in groups:
            t, flag = group.tally, flagged.get(group.label) if grouped_by == "rule" else None
            median = t.median_time_to_claim
            rows.append(
                {
                    "grouped_by": grouped_by,
                    "group": group.label,
                    "leads": t.leads,
                    "decided": t.decided,
                    "accepted": t.accepted,
                    "rejected": t.rejected,
                    "acceptance_rate": _fraction(t.acceptance_rate),
                    "median_time_to_claim_minutes": (
                        None if median is None else round(median.total_seconds() / 60, 1)
                    ),
                    "won": t.won,
                    "win_rate": _fraction(t.win_rate),
                    "flagged": "yes" if flag is not None else "",
                    "top_reasons": "; ".join(
                        f"{code} {count}" for code, count in t.reasons.most_common(TOP_REASONS)
                    ),
                }
            )
    return rows


def _fraction(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def band_of(score: int | None) -> str:
    """The band a score falls in (`no score` for a lead without one)."""
    if score is None:
        return NO_SCORE
    label = BANDS[0][0]
    for name, lowest in BANDS:
        if score >= lowest:
            label = name
    return label


def threshold_for(
    decided_by_score: Mapping[int, Counter[bool]], target: float, min_sample: int
) -> Threshold | None:
    """The lowest score whose decided leads at or above it (at least `min_sample`) are
    accepted at `target` or more; None when no score is. `decided_by_score` counts each
    score's decided leads by whether sales accepted them."""
    accepted = decided = 0
    best: Threshold | None = None
    for score in sorted(decided_by_score, reverse=True):  # from the top, those at or above grow
        accepted += decided_by_score[score][True]
        decided += decided_by_score[score].total()
        rate = accepted / decided
        if decided >= min_sample and rate >= target:
            best = Threshold(score=score, acceptance_rate=rate, decided=decided)
    return best


def decision_of(first_decision: str | None) -> str | None:
    """ "accepted" when a lead's first decision was a claim, "rejected" when a reject, else
    None (still open)."""
    if first_decision in CLAIMS:
        return "accepted"
    return "rejected" if first_decision == REJECT else None


def source_of(stored: str | None) -> str:
    """A lead's source as the report names it: a blank one is NO_SOURCE."""
    return (stored or "").strip() or NO_SOURCE


def _band_labels() -> list[str]:
    return [label for label, _ in BANDS] + [NO_SCORE]


def _ranked(groups: Mapping[str, Tally]) -> list[Group]:
    """Most decided leads first, then most leads, then by name, so the order never shuffles."""
    ranked = sorted(groups.items(), key=lambda item: (-item[1].decided, -item[1].leads, item[0]))
    return [Group(label, tally) for label, tally in ranked]


def _flagged(
    rules: Mapping[str, Tally], total: Tally, reasons: Mapping[str, str], min_sample: int
) -> list[Flag]:
    flags = []
    for rule, tally in rules.items():
        others_decided = total.decided - tally.decided
        if tally.decided < min_sample or not others_decided:
            continue
        rate = tally.rejected / tally.decided
        others = (total.rejected - tally.rejected) / others_decided
        if rate >= others + FLAG_MARGIN and rate >= others * FLAG_RATIO:
            top = sorted(tally.reasons.items(), key=lambda item: (-item[1], item[0]))
            flags.append(
                Flag(
                    rule=rule,
                    rejection_rate=rate,
                    decided=tally.decided,
                    others_rate=others,
                    reasons=[
                        (reasons.get(code, code), count / tally.rejected)
                        for code, count in top[:TOP_REASONS]
                    ],
                )
            )
    flags.sort(key=lambda flag: (-flag.rejection_rate, flag.rule))
    return flags
