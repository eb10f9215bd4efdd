"""MQLs: a lead the team's scoring model finds under its SQL threshold is kept for marketing
(not posted, no SLA) until new data makes it an SQL, and then handed off saying why now.

Without a model every lead is handed off, as before: only a stored explanation whose verdict is
not SQL holds a lead back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.score_explanation import Contribution, Score, Verdict

WHY_NOW_LIMIT = 500  # the promoted_why column
WHY_NOW_SHOWN = 2  # contributions the reason names: the largest rises


def held_back(fields: Mapping[str, Any]) -> bool:
    """Whether a lead scored as bot.scoring.scored_fields stores it is an MQL, not an SQL."""
    score = Score.from_json(fields.get("score_explanation"))
    return score is not None and score.verdict != Verdict.SQL


def promoted(before: Any, after: Any) -> bool:
    """Whether a rescore (stored explanations, before and after) makes an MQL an SQL."""
    return held_back({"score_explanation": before}) and not held_back({"score_explanation": after})


def why_now(before: Any, after: Any) -> str:
    """What made the SQL: the fast lane that took it, or the contributions that rose most,
    e.g. `pricing page 3× +12, webinar 1× +5 (score 58 → 75)`; plain text."""
    old, new = Score.from_json(before), Score.from_json(after)
    if new is None:
        return "new data"
    if new.fast_lane is not None:
        return f"fast lane {new.fast_lane}"
    was = {c.label: c.points for c in old.contributions} if old else {}
    risen = sorted(
        (
            (c.points - was.get(c.label, 0), c)
            for c in new.contributions
            if c.points > was.get(c.label, 0)
        ),
        key=lambda pair: pair[0],
        reverse=True,
    )
    # Each as the card names a rule, with the points it added: `pricing page 3× +12`.
    why = ", ".join(
        Contribution(c.part, c.label, rise, c.count).text() for rise, c in risen[:WHY_NOW_SHOWN]
    )
    why = why or "required fields now known"
    if old is not None:
        why += f" (score {old.total} → {new.total})"
    return why[:WHY_NOW_LIMIT]  # plain text: escaped where it is drawn
