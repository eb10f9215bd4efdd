"""Routing: which sales channel a lead's card goes to (first matching route, else the default)."""

from __future__ import annotations

from typing import Any

from bot.rules import Rules
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


def channel_for(lead: Lead, rules: Rules) -> str:
    facts = lead_facts(lead)
    for route in rules.routes:
        if route.match.matches(facts):
            return route.channel
    return rules.channels.sales
