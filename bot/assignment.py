"""Routing new leads to reps, one function per route mode (`ROUTERS`): `assign` (here) gives
each lead to the rep the rotation of the route's pool picks (bot.pools), as a manager would
assign it (DM, card showing the owner); `offer` (bot.offers) offers it to them first; `owner`
(here) gives it to the lead's CRM owner as Slack knows them by email, else the route's fallback
decides. A route in `channel` mode, or with nobody picked, leaves the lead to its channel, first
click wins. Every decision is audited with its reasons, which `/leads routing` shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot import offers, rotation
from bot.lifecycle import Lifecycle, record_routing
from bot.pools import ROUTING, Pool
from bot.routing import route_for
from bot.rules import Route
from bot.slack_text import mention
from storage.models import Lead, LeadStatus

# What routes one route's new leads, by the route's mode, in the caller's transaction.
Router = Callable[[Session, Lifecycle, Route, Sequence[Lead], datetime], None]


@dataclass(frozen=True)
class Outcome:
    """Who gets the lead (None: the channel's first click) and why, one step per rep looked at."""

    assignee: str | None
    steps: tuple[str, ...]


def route_new_leads(
    session: Session, lifecycle: Lifecycle, leads: Sequence[Lead], *, now: datetime
) -> list[int]:
    """Route each new lead by its route's mode, in the caller's transaction; the leads of a
    `channel` route are left to their channel. Routes go in the order of the configuration,
    so two transactions lock the pools they share in one order. Returns the ids of the leads
    routed: their rows may have changed (a lead no session tracks is not refreshed)."""
    rules = lifecycle.policies.rules
    if not any(route.mode in ROUTERS for route in rules.routes):
        return []  # every lead is left to its channel: none needs its route found here
    by_route: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        route = route_for(lead, rules) if lead.status == LeadStatus.NEW else None
        if route is not None and route.mode in ROUTERS:
            by_route[rules.routes.index(route)].append(lead)
    for index in sorted(by_route):
        route = rules.routes[index]
        ROUTERS[route.mode](session, lifecycle, route, by_route[index], now)
    return [lead.id for routed in by_route.values() for lead in routed]


def rotate(pool: Pool, lead: Lead) -> Outcome:
    """The pool's next available rep, the rotation moved on."""
    decision = pool.choose(verb="assigned to")
    return Outcome(decision.assignee, decision.steps)


def owner_or_fallback(pool: Pool, lead: Lead) -> Outcome:
    """The lead's CRM owner, when Slack knows their email and they can take it; else the
    route's fallback, the reason first."""
    email = lead.owner_email
    owner = pool.directory.user_by_email(email) if email else None
    if email is None:
        why = "no CRM owner"
    elif owner is None:
        why = f"owner {email}: not found in Slack (no such user, or Slack did not answer)"
    elif (reason := pool.why_unavailable(owner)) is not None:
        why = f"owner {email} is {mention(owner)}: {reason}"
    else:
        return Outcome(owner, (f"assigned to owner {email}, {mention(owner)}",))
    step = f"{why} → fallback {pool.route.fallback}"
    if pool.route.fallback == "assign":
        rotated = rotate(pool, lead)
        return Outcome(rotated.assignee, (step, *rotated.steps))
    return Outcome(None, (step, rotation.TO_CHANNEL))


def _assign(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], now: datetime
) -> None:
    """Each lead to the next available rep of the pool, in order."""
    _give(session, lifecycle, route, leads, now, pick=rotate)


def _owner(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], now: datetime
) -> None:
    """Each lead to its CRM owner, else as the route's fallback says, in order."""
    _give(session, lifecycle, route, leads, now, pick=owner_or_fallback)


def _give(
    session: Session,
    lifecycle: Lifecycle,
    route: Route,
    leads: Sequence[Lead],
    now: datetime,
    *,
    pick: Callable[[Pool, Lead], Outcome],
) -> None:
    """Each lead to the rep `pick` names (None: left to the channel), audited."""
    pool = Pool.for_routing(session, lifecycle, route, now=now)
    for lead in leads:
        outcome = pick(pool, lead)
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
            pool.took(outcome.assignee)
    pool.save()


ROUTERS: dict[str, Router] = {
    "assign": _assign,
    "offer": offers.offer_new_leads,
    "owner": _owner,
}
