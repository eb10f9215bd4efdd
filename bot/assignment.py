"""Routing new leads to reps, one function per route mode: `assign`, the rotation (bot.rotation)
picks an available rep (bot.availability); `owner`, the lead's CRM owner as Slack knows them by
email gets it, else the route's fallback decides. A rep picked gets the lead as a manager's
assignment would give it (DM, card showing the owner); with nobody picked it stays for the
channel, first click wins. Every decision is audited with its reasons, which `/leads routing`
shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import rotation
from bot.availability import Away, unavailable_reason
from bot.lifecycle import Actor, Lifecycle, record_routing
from bot.rep_directory import Directory
from bot.routing import route_for
from bot.rules import Route
from bot.slack_text import mention
from storage import routing as routing_store
from storage.models import Lead, LeadStatus

# Who assigns a routed lead, as its history and the rep's DM name it.
ROUTING = Actor("Baton routing", is_manager=True)


@dataclass(frozen=True)
class Outcome:
    """Who gets the lead (None: the channel's first click) and why, one step per rep looked at."""

    assignee: str | None
    steps: tuple[str, ...]


class RouteState:
    """One route's reps as routing sees them, read once for a batch of its leads and kept up
    to date as leads go to reps: away marks, leads held, Slack's profiles, the rotation."""

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
        """With `lock_rotation` (routing), a rotating route's pointers are locked before
        anything else is read, so a process routing at the same time waits and then reads the
        leads this one handed out; without it (a view) nothing is locked."""
        self.session = session
        self.route = route
        self.now = now
        self.directory = directory
        self.rules = route.rep_rules(team_timezone)
        self.pointers: dict[str, float] | None = None
        if lock_rotation and route.rotates:
            self.pointers = routing_store.pointers(session, pool=route.pool_key)
        self.away: dict[str, Away] = {}
        self.held: dict[str, int] = {}
        self._known: set[str] = set()
        self._learn(route.pool)

    def _learn(self, reps: Sequence[str]) -> None:
        """Read the away marks and held leads of the reps not read yet."""
        new = [rep for rep in reps if rep not in self._known]
        if not new:
            return
        for rep, row in routing_store.away_reps(self.session, new).items():
            self.away[rep] = Away(row.until, row.set_by, row.reason)
        self.held.update(routing_store.held_counts(self.session, new))
        self._known.update(new)

    def why_unavailable(self, rep: str) -> str | None:
        self._learn([rep])
        return unavailable_reason(
            rep,
            away=self.away.get(rep),
            open_leads=self.held.get(rep, 0),
            rules=self.rules,
            now=self.now,
            profile=self.directory.profile(rep),
        )

    def rotate(self) -> Outcome:
        """The pool's next available rep, the rotation moved on."""
        pool = self.route.pool
        unavailable = {
            rep: reason for rep in pool if (reason := self.why_unavailable(rep)) is not None
        }
        if self.pointers is None:
            self.pointers = routing_store.pointers(self.session, pool=self.route.pool_key)
        decision = rotation.choose(
            pool, pointers=self.pointers, weights=self.route.weights, unavailable=unavailable
        )
        self.pointers = decision.pointers
        return Outcome(decision.assignee, decision.steps)

    def took(self, rep: str) -> None:
        self.held[rep] = self.held.get(rep, 0) + 1

    def save(self) -> None:
        if self.pointers is not None:
            routing_store.save_pointers(
                self.session, pool=self.route.pool_key, pointers=self.pointers
            )


def assign_mode(state: RouteState, lead: Lead) -> Outcome:
    return state.rotate()


def owner_mode(state: RouteState, lead: Lead) -> Outcome:
    """The lead's CRM owner, when Slack knows their email and they can take it; else the
    route's fallback, the reason first."""
    email = lead.owner_email
    owner = state.directory.user_by_email(email) if email else None
    if email is None:
        why = "no CRM owner"
    elif owner is None:
        why = f"owner {email}: not found in Slack (no such user, or Slack did not answer)"
    elif (reason := state.why_unavailable(owner)) is not None:
        why = f"owner {email} is {mention(owner)}: {reason}"
    else:
        return Outcome(owner, (f"assigned to owner {email}, {mention(owner)}",))
    step = f"{why} → fallback {state.route.fallback}"
    if state.route.fallback == "assign":
        rotated = state.rotate()
        return Outcome(rotated.assignee, (step, *rotated.steps))
    return Outcome(None, (step, rotation.TO_CHANNEL))


# How each mode but `channel` picks a lead's rep.
MODES: dict[str, Callable[[RouteState, Lead], Outcome]] = {
    "assign": assign_mode,
    "owner": owner_mode,
}


def route_new_leads(
    session: Session, lifecycle: Lifecycle, leads: Sequence[Lead], *, now: datetime
) -> None:
    """Give each new lead of a route that picks reps to its rep, in the caller's transaction;
    the other leads are left to their channel."""
    rules = lifecycle.policies.rules
    by_route: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        route = route_for(lead, rules) if lead.status == LeadStatus.NEW else None
        if route is not None and route.mode in MODES:
            by_route[rules.routes.index(route)].append(lead)
    for index, routed in by_route.items():
        _route(session, lifecycle, rules.routes[index], routed, now=now)


def _route(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], *, now: datetime
) -> None:
    """One route's leads, in order."""
    state = RouteState(
        session,
        route,
        directory=lifecycle.directory,
        team_timezone=lifecycle.policies.rules.hours.timezone,
        now=now,
    )
    pick = MODES[route.mode]
    for lead in leads:
        outcome = pick(state, lead)
        record_routing(
            session,
            lead=lead,
            actor=ROUTING,
            details={
                "pool": route.pool_key,
                "mode": route.mode,
                "assignee": outcome.assignee,
                "steps": list(outcome.steps),
            },
            now=now,
        )
        if outcome.assignee is not None:
            lifecycle.assign(
                session, lead_id=lead.id, actor=ROUTING, assignee=outcome.assignee, now=now
            )
            state.took(outcome.assignee)
    state.save()
