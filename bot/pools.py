"""A route's pool of reps as routing sees it within one transaction: the rotation's pointers
(locked, bot.rotation), who is away, and how many leads each holds, kept up to date as the
pool's leads are routed one after another (bot.assignment, bot.offers)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy.orm import Session

from bot import rotation
from bot.availability import Away, RepRules, unavailable_reason
from bot.lifecycle import Actor
from bot.rules import Route
from storage import routing as routing_store

# Who routes a lead, as its history and the rep's DM name it.
ROUTING = Actor("Baton routing", is_manager=True)


class Pool:
    """One route's reps, read once with the pool's pointers locked until the transaction ends;
    `save` writes the pointers back."""

    def __init__(
        self, session: Session, route: Route, *, team_timezone: str, now: datetime
    ) -> None:
        self.session, self.route, self.now = session, route, now
        self.pointers = routing_store.pointers(session, pool=route.pool_key, reps=route.pool)
        self.away = {
            rep: Away(row.until, row.set_by)
            for rep, row in routing_store.away_reps(session, route.pool).items()
        }
        self.held = routing_store.held_counts(session, route.pool)
        self.rules: RepRules = route.rep_rules(team_timezone)

    def choose(self, *, verb: str, excluded: Collection[str] = ()) -> rotation.Decision:
        """The rep the rotation picks among the pool's available reps (skipping `excluded`,
        e.g. those already offered the lead), moving the pointers on."""
        reps = [rep for rep in self.route.pool if rep not in excluded]
        unavailable = {
            rep: reason
            for rep in reps
            if (
                reason := unavailable_reason(
                    rep,
                    away=self.away.get(rep),
                    open_leads=self.held.get(rep, 0),
                    rules=self.rules,
                    now=self.now,
                )
            )
            is not None
        }
        decision = rotation.choose(
            reps,
            pointers=self.pointers,
            weights=self.route.weights,
            unavailable=unavailable,
            verb=verb,
        )
        self.pointers = decision.pointers
        return decision

    def took(self, rep: str) -> None:
        """`rep` now holds one more claimed lead (capacity counts it)."""
        self.held[rep] = self.held.get(rep, 0) + 1

    def save(self) -> None:
        routing_store.save_pointers(self.session, pool=self.route.pool_key, pointers=self.pointers)
