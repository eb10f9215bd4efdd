"""Routing new leads to reps: for a route in `assign` mode, the rotation (bot.rotation) picks
an available rep (bot.availability) and the lead is assigned to them as a manager would assign
it (DM, card showing the owner); with nobody available it stays for the channel, first click
wins. Every decision is audited with its reasons, which `/leads routing` shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot import rotation
from bot.availability import Away, unavailable_reason
from bot.lifecycle import Actor, Lifecycle, record_routing
from bot.routing import route_for
from bot.rules import Route
from storage import routing as routing_store
from storage.models import Lead, LeadStatus

# Who assigns a routed lead, as its history and the rep's DM name it.
ROUTING = Actor("Baton routing", is_manager=True)


def route_new_leads(
    session: Session, lifecycle: Lifecycle, leads: Sequence[Lead], *, now: datetime
) -> None:
    """Assign each new lead of an `assign` route to the next available rep of its pool, in the
    caller's transaction; the other leads are left to their channel."""
    rules = lifecycle.policies.rules
    by_route: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        route = route_for(lead, rules) if lead.status == LeadStatus.NEW else None
        if route is not None and route.assigns:
            by_route[rules.routes.index(route)].append(lead)
    for index, routed in by_route.items():
        _route_through_pool(session, lifecycle, rules.routes[index], routed, now=now)


def _route_through_pool(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], *, now: datetime
) -> None:
    """One pool's leads, in order: its state is read once and kept up to date as they go."""
    pool, key = route.pool, route.pool_key
    pointers = routing_store.pointers(session, pool=key)
    away = {
        rep: Away(row.until, row.set_by)
        for rep, row in routing_store.away_reps(session, pool).items()
    }
    held = routing_store.held_counts(session, pool)
    rep_rules = route.rep_rules(lifecycle.policies.rules.hours.timezone)
    for lead in leads:
        unavailable = {
            rep: reason
            for rep in pool
            if (
                reason := unavailable_reason(
                    rep, away=away.get(rep), open_leads=held.get(rep, 0), rules=rep_rules, now=now
                )
            )
            is not None
        }
        decision = rotation.choose(
            pool, pointers=pointers, weights=route.weights, unavailable=unavailable
        )
        pointers = decision.pointers
        record_routing(
            session,
            lead=lead,
            actor=ROUTING,
            details={"pool": key, "assignee": decision.assignee, "steps": list(decision.steps)},
            now=now,
        )
        if decision.assignee is not None:
            lifecycle.assign(
                session, lead_id=lead.id, actor=ROUTING, assignee=decision.assignee, now=now
            )
            held[decision.assignee] = held.get(decision.assignee, 0) + 1
    routing_store.save_pointers(session, pool=key, pointers=pointers)
