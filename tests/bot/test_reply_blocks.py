"""Lists of leads in replies: the most urgent shown, the rest counted, within Slack's limits;
report times with the way they are counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.reply_blocks import LIST_LIMIT, duration, lead_list, permalink, times_counted
from bot.rules import Rules, parse_rules
from storage.models import Lead
from tests.conftest import NOW


def lead(number: int) -> Lead:
    return Lead(
        id=number,
        name=f"Lead {number}",
        company="Northwind",
        status="open",
        claim_due_at=NOW + timedelta(minutes=number),
        slack_channel="C0SALES0001",
        slack_ts=f"1700000000.{number:06d}",
    )


def test_a_long_list_shows_the_first_ones_and_counts_the_rest() -> None:
    total = LIST_LIMIT + 25
    blocks = lead_list("Waiting", [lead(n) for n in range(1, LIST_LIMIT + 1)], total, "acme", "-")
    text = blocks[0]["text"]["text"]
    assert text.startswith(f"*Waiting* ({total})")
    assert text.count("\n• ") == LIST_LIMIT and len(text) <= 3000
    assert blocks[-1]["elements"][0]["text"] == "…and 25 more."


def test_an_empty_list_says_so() -> None:
    blocks = lead_list("Waiting", [], 0, "acme", "Every lead has an owner.")
    assert blocks[0]["text"]["text"] == "*Waiting*\nEvery lead has an owner."


def test_permalinks_point_at_the_card() -> None:
    assert permalink(lead(7), "acme") == (
        "https://acme.slack.com/archives/C0SALES0001/p1700000000000007"
    )
    assert permalink(lead(7), None) is None


def policies(*business_hours: bool, days: list[str] | None = None) -> Rules:
    """Rules whose SLA policies count time as `business_hours` says, the last the default."""
    sla = [
        {"name": f"p{n}", "claim": "1h", "follow_up": "1d", "business_hours": counts}
        for n, counts in enumerate(business_hours)
    ]
    for policy in sla[:-1]:
        policy["match"] = {"intent": ["demo_request"]}
    hours = {"days": days} if days else {}
    return parse_rules({"sla": sla, "hours": hours}, source="test")


@pytest.mark.parametrize(
    ("rules", "unit", "note"),
    [
        (
            policies(True, True),
            "business hours",
            "Times count business hours (Mon–Fri 09:00–17:00 America/New_York).",
        ),
        (policies(False), "wall-clock", "Times count wall-clock time."),
        (
            policies(False, True, days=["mon", "wed", "fri"]),
            "by SLA policy",
            "Times count business hours (Mon, Wed, Fri 09:00–17:00 America/New_York) for p1 "
            "leads and wall-clock time for p0 leads.",
        ),
    ],
)
def test_report_times_say_how_they_count(rules: Rules, unit: str, note: str) -> None:
    counted = times_counted(rules)
    assert (counted.unit, counted.note) == (unit, note)


def test_business_hours_are_never_shown_as_days() -> None:
    """Fifty working hours are six working days: "2.1 days" would read as calendar days."""
    fifty = timedelta(hours=50)
    assert duration(fifty, in_days=True) == "2.1 days"
    assert duration(fifty, in_days=False) == "50 h 00 min"
    assert times_counted(policies(True)).in_days is False
    assert times_counted(policies(False)).in_days is True
