"""A score and its reasons, as the scoring model (bot.scoring) gives them: stored with the lead as
JSON, read back for the card, the Details modal and `baton score`, and worded here once for all
three (as plain text: Slack escapes it where it draws it)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Verdict(enum.StrEnum):
    """What the score makes of the lead: ready for sales, for marketing to nurture, or neither."""

    SQL = "sql"
    MQL = "mql"
    UNQUALIFIED = "unqualified"


class Part(enum.StrEnum):
    FIT = "fit"  # who the lead is
    ENGAGEMENT = "engagement"  # what it did


@dataclass(frozen=True)
class Contribution:
    """The points one rule gave: a fit rule that holds, or an engagement rule's activities
    (`count` of them, worth less with age, `capped` when the rule's cap cut them)."""

    part: Part
    label: str
    points: int
    count: int = 1
    capped: bool = False

    def text(self) -> str:
        """`pricing page 3× +12 (capped)`, `title contains Intern -30`."""
        times = f" {self.count}×" if self.part == Part.ENGAGEMENT else ""
        capped = " (capped)" if self.capped else ""
        return f"{self.label}{times} {self.points:+d}{capped}"


@dataclass(frozen=True)
class Criterion:
    """A lead field the model requires known before a score makes an SQL."""

    field: str
    met: bool

    def text(self) -> str:
        return f"{self.field} {'✓' if self.met else '✗'}"


@dataclass(frozen=True)
class Score:
    total: int  # 0-100
    verdict: Verdict
    mql: int  # the thresholds it was judged by
    sql: int
    contributions: tuple[Contribution, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    fast_lane: str | None = None  # the fast lane that made it an SQL whatever the score
    sender_score: int | None = None  # what the sender said, replaced by the total

    def part_total(self, part: Part) -> int:
        return sum(c.points for c in self.contributions if c.part == part)

    def leading(self) -> list[Contribution]:
        """The fit contribution and the engagement contribution that moved the score most
        (either way), the larger first; a part none of whose rules gave points has none."""
        leaders = []
        for part in Part:
            mine = [c for c in self.contributions if c.part == part and c.points]
            if mine:
                leaders.append(max(mine, key=lambda c: abs(c.points)))
        return sorted(leaders, key=lambda c: abs(c.points), reverse=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "verdict": self.verdict.value,
            "mql": self.mql,
            "sql": self.sql,
            "contributions": [
                {
                    "part": c.part.value,
                    "label": c.label,
                    "points": c.points,
                    "count": c.count,
                    "capped": c.capped,
                }
                for c in self.contributions
            ],
            "criteria": [{"field": c.field, "met": c.met} for c in self.criteria],
            "fast_lane": self.fast_lane,
            "sender_score": self.sender_score,
        }

    @classmethod
    def from_json(cls, data: Any) -> Score | None:
        """The score stored with a lead; None when there is none or it cannot be read (a lead
        is drawn without its reasons rather than not at all)."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(
                total=int(data["total"]),
                verdict=Verdict(data["verdict"]),
                mql=int(data["mql"]),
                sql=int(data["sql"]),
                contributions=tuple(
                    Contribution(
                        Part(c["part"]),
                        str(c["label"]),
                        int(c["points"]),
                        int(c.get("count", 1)),
                        bool(c.get("capped", False)),
                    )
                    for c in data.get("contributions", ())
                ),
                criteria=tuple(
                    Criterion(str(c["field"]), bool(c["met"])) for c in data.get("criteria", ())
                ),
                fast_lane=_optional_text(data.get("fast_lane")),
                sender_score=_optional_int(data.get("sender_score")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def verdict_text(score: Score) -> str:
    """`SQL (from 70)`, `MQL (SQL from 70)`, `SQL by fast lane demo request`."""
    if score.fast_lane is not None:
        return f"SQL by fast lane {score.fast_lane}"
    if score.verdict == Verdict.SQL:
        return f"SQL (from {score.sql})"
    missing = [c.field for c in score.criteria if not c.met]
    if score.total >= score.sql and missing:
        return f"MQL (needs {', '.join(missing)} known for an SQL)"
    if score.verdict == Verdict.MQL:
        return f"MQL (SQL from {score.sql})"
    return f"not yet an MQL (MQL from {score.mql})"


def why_line(score: Score) -> str:
    """A few words for the card, after the total: the verdict, the largest contributions of fit
    and of engagement, and the criteria, e.g.
    `SQL (from 70): decision maker +25, pricing page 3× +12 · need ✓`."""
    line = verdict_text(score)
    contributions = score.leading()
    if contributions:
        line += ": " + ", ".join(c.text() for c in contributions)
    if score.criteria:
        line += " · " + " ".join(c.text() for c in score.criteria)
    return line


def breakdown(score: Score, *, bullet: str = "  ") -> list[str]:
    """Every line of the explanation, for Details and `baton score`: the total and verdict, the
    thresholds, each part with its rules (after `bullet`), the criteria, and the sender's score
    the total replaced."""
    lines = [
        f"Score {score.total} of 100: {verdict_text(score)}",
        f"Thresholds: MQL from {score.mql}, SQL from {score.sql}",
    ]
    for part, title in ((Part.FIT, "Fit"), (Part.ENGAGEMENT, "Engagement")):
        mine = [c for c in score.contributions if c.part == part]
        lines.append(f"{title} {score.part_total(part):+d}" + ("" if mine else " (no rule holds)"))
        lines += [f"{bullet}{c.text()}" for c in mine]
    if score.criteria:
        lines.append("Required: " + ", ".join(c.text() for c in score.criteria))
    sender = "none" if score.sender_score is None else str(score.sender_score)
    lines.append(f"Sender's score: {sender} (the model's total replaces it)")
    return lines
