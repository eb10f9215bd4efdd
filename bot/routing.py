"""Routing: which sales channel a lead's card goes to (first matching route, else the default)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.rules import Route, Rules
from storage.models import Lead

MATCHED_FIELDS = (
    "source",
    "campaign",
    "intent",
    "segment",
    "country",
    "industry",
    "company_size",
    "score",
)


def lead_facts(lead: Lead) -> dict[str, Any]:
    """The fields that routes and SLA policies may match on."""
    return {name: getattr(lead, name) for name in MATCHED_FIELDS}


def route_for(lead: Lead, rules: Rules) -> Route | None:
    """The first route that matches the lead (a route without `match` takes every lead)."""
    return route_matching(lead_facts(lead), rules)


def route_matching(facts: Mapping[str, Any], rules: Rules) -> Route | None:
    """The first route that matches a lead of these `facts` (lead_facts)."""
    for route in rules.routes:
        if route.match is None or route.match.matches(facts):
            return route
    return None


def channel_for(facts: Mapping[str, Any], rules: Rules) -> str:
    """The channel of a lead of these `facts` (lead_facts): its route's, else sales."""
    route = route_matching(facts, rules)
    return rules.channels.sales if route is None else route.channel
