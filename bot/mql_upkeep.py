"""The daily upkeep of MQLs: their engagement decays as their activities age, so each is scored
again once a day (by the path new data takes: bot.lifecycle.rescore_aged), and one with no new
activity for the model's `recycle_after` is recycled (back to nurture until it acts again).

Run in batches by a periodic job (handlers.mql_job); each lead is rescored and recycled once,
however many processes run the job, since each move re-checks its lead on its locked row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import lifecycle
from bot.scoring import ScoringModel
from storage import leads as lead_store

UPKEEP_BATCH = 200


@dataclass(frozen=True)
class Upkept:
    """What one batch did: leads recycled, leads scored again; both 0 when nothing was due."""

    recycled: int
    rescored: int


def upkeep(session: Session, *, model: ScoringModel, now: datetime) -> Upkept:
    """Recycle the MQLs gone cold, then rescore the held leads not scored for a day: one batch
    of each. The caller commits, and calls again until a batch finds nothing due."""
    recycled = 0
    if model.recycle_after is not None:
        cold = lead_store.mqls_cold_since(session, now - model.recycle_after, limit=UPKEEP_BATCH)
        recycled = sum(
            lifecycle.recycle(session, lead_id=lead_id, after=model.recycle_after, now=now)
            for lead_id in cold
        )
    due = lead_store.held_scored_before(session, now - lifecycle.RESCORE_EVERY, limit=UPKEEP_BATCH)
    rescored = sum(
        lifecycle.rescore_aged(session, lead_id=lead_id, model=model, now=now) for lead_id in due
    )
    return Upkept(recycled=recycled, rescored=rescored)
