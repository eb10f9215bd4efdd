"""Fair rotation: which rep of a pool gets the next lead, and why (pure: no database, no Slack).

A pointer per rep, in the style LeanData documents: the available rep with the lowest pointer
gets the lead (ties go to the first in the pool), and their pointer moves on by 1 / weight, so a
rep of weight 2 takes twice the leads of a rep of weight 1. A rep skipped because they are away,
off shift or at capacity is raised to the lowest pointer of the reps available, so on return
they stand level with the others instead of being owed a flood of catch-up leads. A rep new to
the pool starts at the pool's lowest pointer; reps leaving it keep theirs; nothing resets when
the roster changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.slack_text import mention

# Steps of an explanation, in the words `/leads routing` shows.
TO_CHANNEL = "posted to the channel for anyone to claim"
NOBODY_AVAILABLE = f"nobody in the pool is available: {TO_CHANNEL}"


@dataclass(frozen=True)
class Decision:
    """Who gets the lead (None: nobody is available), every rep's pointer afterwards, and the
    reasons, one line per rep looked at, in order."""

    assignee: str | None
    pointers: dict[str, float]
    steps: tuple[str, ...]

    @property
    def explanation(self) -> str:
        return "; ".join(self.steps)


def choose(
    pool: Sequence[str],
    *,
    pointers: Mapping[str, float],
    weights: Mapping[str, float],
    unavailable: Mapping[str, str],
    verb: str = "assigned to",
) -> Decision:
    """The next rep of `pool` for one lead. `pointers` are the stored ones (reps missing from it
    are new to the pool), `weights` default to 1, and `unavailable` maps a rep to why they
    cannot take a lead now ("away until Fri 4 Dec"); `verb` says what the chosen rep gets
    ("offered to")."""
    pointers = _with_newcomers(pool, pointers, unavailable)
    available = [rep for rep in pool if rep not in unavailable]
    steps = [f"skipped {mention(rep)}: {unavailable[rep]}" for rep in pool if rep in unavailable]
    if not available:
        return Decision(None, pointers, (*steps, NOBODY_AVAILABLE))
    chosen = min(available, key=lambda rep: pointers[rep])  # min keeps the first of a tie
    level = pointers[chosen]
    moved = {**pointers, chosen: level + 1 / weights.get(chosen, 1.0)}
    floor = min(moved[rep] for rep in available)
    for rep in unavailable:
        moved[rep] = max(moved[rep], floor)
    tie = sum(1 for rep in available if pointers[rep] == level) > 1
    why = "lowest pointer, first in the pool of those level" if tie else "lowest pointer"
    return Decision(chosen, moved, (*steps, f"{verb} {mention(chosen)}: {why}"))


def next_up(
    pool: Sequence[str],
    *,
    pointers: Mapping[str, float],
    weights: Mapping[str, float],
    unavailable: Mapping[str, str],
    count: int,
) -> list[str]:
    """Who would get the pool's next `count` leads if nobody's availability changed meanwhile:
    the rotation as `choose` will run it, for a manager to inspect."""
    upcoming: list[str] = []
    for _ in range(count):
        decision = choose(pool, pointers=pointers, weights=weights, unavailable=unavailable)
        if decision.assignee is None:
            break
        upcoming.append(decision.assignee)
        pointers = decision.pointers
    return upcoming


def _with_newcomers(
    pool: Sequence[str], pointers: Mapping[str, float], unavailable: Mapping[str, str]
) -> dict[str, float]:
    """Every stored pointer, plus the pool's lowest (of the reps available, else of all) for a
    rep who has none yet, so joining the pool earns no backlog either."""
    known = {rep: pointers[rep] for rep in pool if rep in pointers}
    levels = [pointer for rep, pointer in known.items() if rep not in unavailable] or list(
        known.values()
    )
    start = min(levels, default=0.0)
    return {**pointers, **{rep: start for rep in pool if rep not in pointers}}
