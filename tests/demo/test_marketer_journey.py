"""A marketer in `baton demo`, in a real browser: after reps reject leads with reasons, the
marketer reads why by source in App Home, asks `/leads feedback`, and looks a lead up."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.demo.conftest import (
    act_as,
    card_of,
    card_with,
    cards,
    go_to,
    lead_number,
    reject_in_form,
    shoot,
    type_command,
)

LEADS = 6
JOURNEY = "marketer"
NOTE = "Two-person agency; we sell to teams of fifty and up."

pytestmark = pytest.mark.slow


def test_a_marketer_reads_why_sales_rejected_leads(demo_url: str, page: Page) -> None:
    # Bob turns down two leads, each with a reason from the list.
    page.goto(f"{demo_url}?user=bob")
    expect(cards(page)).to_have_count(LEADS, timeout=30_000)
    rejected = []
    for reason, note in (("not_icp", NOTE), ("bad_timing", None)):
        lead = lead_number(card_with(page, "lead.reject").first)
        card_of(page, lead).locator("button[data-action-id='lead.reject']").click()
        reject_in_form(page, reason, note=note)
        expect(card_of(page, lead)).to_contain_text("Rejected by @bob")
        rejected.append(lead)

    # Mark's App Home counts the reasons, by source.
    act_as(page, "mark")
    go_to(page, "home")
    home = page.locator("#feed")
    expect(home).to_contain_text("Why sales rejected leads, last 30 days")
    expect(home).to_contain_text("Not our ideal customer")
    expect(home).to_contain_text("Bad timing")
    shoot(page, JOURNEY, "01-app-home")

    # In #marketing he asks for the feedback, then looks the first lead up, by number and name.
    go_to(page, "marketing")
    feedback = type_command(page, "/leads feedback 30d")
    expect(feedback).to_contain_text("Not our ideal customer")
    expect(feedback).to_contain_text(NOTE)
    shoot(page, JOURNEY, "02-leads-feedback")

    shown = type_command(page, f"/leads show {rejected[0]}")
    expect(shown).to_contain_text(f"#{rejected[0]}")
    expect(shown).to_contain_text("rejected by @bob: Not our ideal customer")
    shoot(page, JOURNEY, "03-leads-show")

    name = shown.locator(".blocks").inner_text().split("·")[1].split("(#")[0].strip()
    found = type_command(page, f"/leads find {name.split()[-1]}")
    expect(found).to_contain_text("Leads matching")
    expect(found).to_contain_text(f"#{rejected[0]}")
    shoot(page, JOURNEY, "04-leads-find")
