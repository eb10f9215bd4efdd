"""A route's pool of reps as routing sees it within one transaction: the rotation's pointers
(locked, bot.rotation), who is away or paused, how many leads each holds and what Slack says of
them (bot.rep_directory), kept up to date as the pool's leads are routed one after another
(bot.assignment, bot.offers). The manager's App Home reads it too (bot.roster), locking
nothing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot import rotation
from bot.availability import Away, RepRules, unavailable_reason
from bot.lifecycle import Actor, Lifecycle
from bot.rep_directory import Directory
from bot.rules import Route
from storage import routing as routing_store

# Who routes a lead, as its history and the rep's DM name it.
ROUTING = Actor("Baton routing", is_manager=True)


class Pool:
    """One route's reps, read once for a batch of its leads; `save` writes the pointers back."""

    def __init__(
        self,
        session: Session,
        route: Route,
        *,
        directory: Directory,
        team_timezone: str,
        now: datetime,
        lock_rotation: bool = True,
    ) -> None:
        """With `lock_rotation` (routing), a route that uses its pool's rotation locks the
        pointers before anything else is read, so a process routing at the same time waits and
        then reads the leads this one handed out; without it (a view) nothing is locked."""
        self.session, self.route, self.now = session, route, now
        self.directory = directory
        self.rules: RepRules = route.rep_rules(team_timezone)
        self.pointers: dict[str, float] | None = None
        if lock_rotation and route.uses_pool:
            self.pointers = self._locked_pointers()
        self.away: dict[str, Away] = {}
        self.held: dict[str, int] = {}
        self._known: set[str] = set()
        self._learn(route.pool)

    @classmethod
    def for_routing(
        cls, session: Session, lifecycle: Lifecycle, route: Route, *, now: datetime
    ) -> Pool:
        """The pool as routing reads it, locked: what Slack says of reps comes from the
        lifecycle's directory, shifts default to the team's time zone."""
        return cls(
            session,
            route,
            directory=lifecycle.directory,
            team_timezone=lifecycle.policies.rules.hours.timezone,
            now=now,
        )

    def _locked_pointers(self) -> dict[str, float]:
        return routing_store.pointers(self.session, pool=self.route.pool_key, reps=self.route.pool)

    def _learn(self, reps: Sequence[str]) -> None:
        """Read the away marks and held leads of the reps not read yet (a CRM owner may be
        outside the pool)."""
        new = [rep for rep in reps if rep not in self._known]
        if not new:
            return
        for rep, row in routing_store.away_reps(self.session, new).items():
            self.away[rep] = Away(row.until, row.set_by, row.reason)
        self.held.update(routing_store.held_counts(self.session, new))
        self._known.update(new)

    def why_unavailable(self, rep: str) -> str | None:
        """Why `rep` cannot take a lead now (None: they can), as routing says it."""
        self._learn([rep])
        return unavailable_reason(
            rep,
            away=self.away.get(rep),
            open_leads=self.held.get(rep, 0),
            rules=self.rules,
            now=self.now,
            profile=self.directory.profile(rep),
        )

    def choose(self, *, verb: str, excluded: Collection[str] = ()) -> rotation.Decision:
        """The rep the rotation picks among the pool's available reps (skipping `excluded`,
        e.g. those already offered the lead), moving the pointers on."""
        reps = [rep for rep in self.route.pool if rep not in excluded]
        unavailable = {
            rep: reason for rep in reps if (reason := self.why_unavailable(rep)) is not None
        }
        if self.pointers is None:
            self.pointers = self._locked_pointers()
        decision = rotation.choose(
            reps,
            pointers=self.pointers,
            weights=self.route.weights,
            unavailable=unavailable,
            verb=verb,
        )
        self.pointers = decision.pointers
        return decision

    def next_up(self, count: int) -> list[str]:
        """Who the rotation would give the next `count` leads to (pointers read, not locked:
        a view, e.g. the manager's App Home)."""
        unavailable = {
            rep: reason
            for rep in self.route.pool
            if (reason := self.why_unavailable(rep)) is not None
        }
        pointers = self.pointers
        if pointers is None:
            pointers = routing_store.read_pointers(self.session, pool=self.route.pool_key)
        return rotation.next_up(
            self.route.pool,
            pointers=pointers,
            weights=self.route.weights,
            unavailable=unavailable,
            count=count,
        )

    def took(self, rep: str) -> None:
        """`rep` now holds one more claimed lead (capacity counts it)."""
        self.held[rep] = self.held.get(rep, 0) + 1

    def save(self) -> None:
        if self.pointers is not None:
            routing_store.save_pointers(
                self.session, pool=self.route.pool_key, pointers=self.pointers
            )
