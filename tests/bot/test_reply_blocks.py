"""Lists of leads in replies: the most urgent shown, the rest counted, within Slack's limits."""

from __future__ import annotations

from datetime import timedelta

from bot.reply_blocks import LIST_LIMIT, lead_list, permalink
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
