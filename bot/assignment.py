"""Routing new leads to reps, one function per route mode: `assign` (here) gives each lead to
the rep the rotation of the route's pool picks (bot.pools), as a manager would assign it (DM,
card showing the owner); `offer` (bot.offers) offers it to them first. A route in `channel`
mode, or with nobody available, leaves the lead to its channel, first click wins. Every
decision is audited with its reasons, which `/leads routing` shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot import offers
from bot.lifecycle import Lifecycle, record_routing
from bot.pools import ROUTING, Pool
from bot.routing import route_for
from bot.rules import Route
from storage.models import Lead, LeadStatus

# What routes one route's new leads, by the route's mode, in the caller's transaction.
Router = Callable[[Session, Lifecycle, Route, Sequence[Lead], datetime], None]


def route_new_leads(
    session: Session, lifecycle: Lifecycle, leads: Sequence[Lead], *, now: datetime
) -> None:
    """Route each new lead by its route's mode, in the caller's transaction; the leads of a
    `channel` route are left to their channel. Routes go in the order of the configuration,
    so two transactions lock the pools they share in one order."""
    rules = lifecycle.policies.rules
    by_route: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        route = route_for(lead, rules) if lead.status == LeadStatus.NEW else None
        if route is not None and route.mode in ROUTERS:
            by_route[rules.routes.index(route)].append(lead)
    for index in sorted(by_route):
        route = rules.routes[index]
        ROUTERS[route.mode](session, lifecycle, route, by_route[index], now)


def _assign(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], now: datetime
) -> None:
    """Each lead to the next available rep of the pool, in order."""
    pool = Pool(session, route, team_timezone=lifecycle.policies.rules.hours.timezone, now=now)
    for lead in leads:
        decision = pool.choose(verb="assigned to")
        record_routing(
            session,
            lead=lead,
            actor=ROUTING,
            details={
                "pool": route.pool_key,
                "assignee": decision.assignee,
                "steps": list(decision.steps),
            },
            now=now,
        )
        if decision.assignee is not None:
            lifecycle.assign(
                session, lead_id=lead.id, actor=ROUTING, assignee=decision.assignee, now=now
            )
            pool.took(decision.assignee)
    pool.save()


ROUTERS: dict[str, Router] = {"assign": _assign, "offer": offers.offer_new_leads}
