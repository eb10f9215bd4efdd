"""`baton score --replay`: the stored leads of a period scored again by the current model, so
marketing sees what a changed model would have done before it changes anything: how many
leads would have been SQLs and MQLs against how many were, and how sales had judged the leads
whose fate would change.

Each lead is scored as it arrived (at its `created_at`, from its stored fields and every stored
activity: one that came later counts as new). It *was* an SQL when it was handed off (then or
later, by a promotion); otherwise it was what its stored explanation says (an MQL, or not yet
one). Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.periods import Period
from bot.report_facts import CLAIMS, REJECT
from bot.score_explanation import Score, Verdict
from bot.scoring import SCORED_FIELDS, ScoringModel
from storage import tuning as tuning_store
from storage.models import LeadStatus

TOP_REASONS = 3
_HELD = frozenset({LeadStatus.MQL, LeadStatus.RECYCLED})
_VERDICT_NAMES = {Verdict.SQL: "SQL", Verdict.MQL: "MQL", Verdict.UNQUALIFIED: "not yet an MQL"}


@dataclass
class Fate:
    """How sales had judged a group of leads: its first decision on each, and the deals won."""

    leads: int = 0
    accepted: int = 0
    rejected: int = 0
    won: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def text(self, labels: Mapping[str, str]) -> str:
        """`accepted 1, rejected 2 (No budget 2), won 1`."""
        reasons = ", ".join(
            f"{labels.get(code, code)} {count}"
            for code, count in sorted(self.reasons.items(), key=lambda i: (-i[1], i[0]))[
                :TOP_REASONS
            ]
        )
        rejected = f"rejected {self.rejected}" + (f" ({reasons})" if reasons else "")
        return f"accepted {self.accepted}, {rejected}, won {self.won}"


@dataclass
class Replay:
    """The verdicts of the period's leads under the current model and as they were, and how
    the handed-off ones fared: those still SQLs, and those the model would keep back."""

    leads: int = 0
    would_be: Counter[Verdict] = field(default_factory=Counter)
    were: Counter[Verdict] = field(default_factory=Counter)
    still_sql: Fate = field(default_factory=Fate)
    kept_back: Fate = field(default_factory=Fate)  # SQLs then, not under the current model
    new_sqls: int = 0  # kept for marketing then: sales never saw them


def replay(session: Session, *, period: Period, model: ScoringModel) -> Replay:
    """Score every lead stored in `period` again, as it arrived, under `model`."""
    result = Replay()
    rows = tuning_store.stream_arrivals(
        session, start=period.start, end=period.end, fields=SCORED_FIELDS
    )
    for row in rows:
        lead = {name: getattr(row, name) for name in SCORED_FIELDS}
        lead["activities"] = row.activities
        now = model.score(lead, now=row.created_at).verdict
        was = _was(row.status, row.explanation)
        result.leads += 1
        result.would_be[now] += 1
        result.were[was] += 1
        if was != Verdict.SQL:
            result.new_sqls += now == Verdict.SQL
        else:
            fate = result.still_sql if now == Verdict.SQL else result.kept_back
            _judged(fate, row.first_decision, row.status, row.reason)
    return result


def _was(status: LeadStatus, explanation: object) -> Verdict:
    if status not in _HELD:
        return Verdict.SQL
    stored = Score.from_json(explanation)
    return Verdict.MQL if stored is None else stored.verdict


def _judged(fate: Fate, decision: str | None, status: LeadStatus, reason: str | None) -> None:
    fate.leads += 1
    if decision in CLAIMS:
        fate.accepted += 1
    elif decision == REJECT:
        fate.rejected += 1
        fate.reasons[reason or "unknown"] += 1
    fate.won += status == LeadStatus.WON


def replay_lines(result: Replay, *, period: Period, reasons: Mapping[str, str]) -> list[str]:
    """The replay as `baton score --replay` prints it; `reasons` labels reject reason codes."""
    lines = [
        f"Replay of the {result.leads} leads stored in the {period.label}, "
        "each scored as it arrived by the current model:"
    ]
    for verdict, name in _VERDICT_NAMES.items():
        lines.append(f"would be {name}: {result.would_be[verdict]} (was {result.were[verdict]})")
    lines.append(f"SQL then and now: {result.still_sql.leads}: {result.still_sql.text(reasons)}")
    lines.append(
        f"SQL then, kept back now: {result.kept_back.leads}: {result.kept_back.text(reasons)}"
    )
    lines.append(f"new SQLs (kept for marketing then, never seen by sales): {result.new_sqls}")
    return lines
