"""Routing: the first matching route picks the channel; everything else goes to sales."""

from __future__ import annotations

from bot.routing import channel_for, lead_facts
from bot.rules import parse_rules
from storage.models import Lead

RULES = parse_rules(
    {
        "channels": {"sales": "C0SALES0001"},
        "routes": [
            {"match": {"country": ["DE", "FR"]}, "channel": "C0SALESEU01"},
            {"match": {"segment": "enterprise", "score_min": 80}, "channel": "C0ENTERPRS1"},
        ],
    },
    source="test",
)


def channel_of(lead: Lead) -> str:
    return channel_for(lead_facts(lead), RULES)


def test_first_matching_route_wins() -> None:
    assert channel_of(Lead(country="de", segment="enterprise", score=95)) == "C0SALESEU01"
    assert channel_of(Lead(country="US", segment="Enterprise", score=95)) == "C0ENTERPRS1"


def test_leads_matching_no_route_go_to_the_sales_channel() -> None:
    assert channel_of(Lead(country="US", segment="enterprise", score=60)) == "C0SALES0001"
    assert channel_of(Lead()) == "C0SALES0001"
