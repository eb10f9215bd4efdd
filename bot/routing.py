"""Routing: which sales channel a lead's card goes to (first matching route, else the default)."""

from __future__ import annotations

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
    facts = lead_facts(lead)
    for route in rules.routes:
        if route.match is None or route.match.matches(facts):
            return route
    return None


def channel_for(lead: Lead, rules: Rules) -> str:
    route = route_for(lead, rules)
    return rules.channels.sales if route is None else route.channel
