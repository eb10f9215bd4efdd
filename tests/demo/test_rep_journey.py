"""A sales rep's day in `baton demo`, in a real browser: scanning the compact cards, claiming,
rejecting with a reason, undoing a mistake, and looking leads up with `/leads show` and `find`.

The demo's clock runs 30 times faster, so Undo's 5-minute window lasts 10 s and a hot lead's
15-minute claim window 30 s: long enough to act in, short enough to watch run out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.demo.conftest import (
    ROOT,
    act_as,
    card_of,
    card_with,
    cards,
    go_to,
    lead_number,
    message_about,
    open_thread,
    reject_in_form,
    shoot,
    type_command,
)

LEADS = 6
SPEED = 30
JOURNEY = "rep"
DOCS_SCREENSHOT = ROOT / "docs" / "demo.png"
# The README's screenshot is committed: a run refreshes it only when asked, or when it is missing.
UPDATE_DOCS = "UPDATE_DOCS_SCREENSHOT"
NOTE = "Bought a competitor's tool last month."

pytestmark = pytest.mark.slow


def test_a_rep_claims_rejects_undoes_and_looks_leads_up(demo_url: str, page: Page) -> None:
    page.goto(f"{demo_url}?user=alice")
    expect(page.locator("#pane-title")).to_have_text("# sales")
    expect(cards(page)).to_have_count(LEADS, timeout=30_000)
    shoot(page, JOURNEY, "01-channel-at-1440x900")
    assert cards_in_view(page) >= 4, "fewer than four cards fit in a 1440×900 window"

    # Alice claims a lead: the card names her, Accept is gone, her DM offers Undo.
    claimed = card_with(page, "lead.accept").first
    claimed_lead = lead_number(claimed)
    claimed.locator("button[data-action-id='lead.accept']").click()
    claimed = card_of(page, claimed_lead)
    expect(claimed).to_contain_text("Claimed by @alice")
    expect(claimed.locator("button[data-action-id='lead.accept']")).to_have_count(0)
    expect(claimed.locator("button[data-action-id='lead.contacted']")).to_be_visible()
    expect(page.locator("#dm-badge")).to_be_visible()

    # She rejects a hot lead: "Other" without a note is refused inside the form.
    # (A hot one still open: when its claim window runs out below, so has the claim's Undo.)
    still_open = card_with(page, "lead.reject").filter(has_text="hot")
    rejected_lead = lead_number(still_open.filter(has_text="Open: waiting for a rep").first)
    card_of(page, rejected_lead).locator("button[data-action-id='lead.reject']").click()
    reject_in_form(page, "other", note=None, refused=True)
    note_error = page.get_by_role("dialog").locator(".field[data-block-id='note'] .field-error")
    expect(note_error).to_contain_text("Note")
    shoot(page, JOURNEY, "02-reject-needs-a-note")
    reject_in_form(page, None, note=NOTE)
    rejected = card_of(page, rejected_lead)
    expect(rejected).to_contain_text("Rejected by @alice")
    expect(rejected).to_contain_text(NOTE)
    expect(rejected.locator("button[data-action-id^='lead.']")).to_have_count(1)  # Details
    expect(rejected.locator("button[data-action-id='lead.undo']")).to_have_count(0)
    shoot(page, JOURNEY, "03-claimed-and-rejected")
    docs_screenshot(page, top=card_of(page, claimed_lead))

    # Undo is offered to its author alone: not on the channel card, not in anyone else's DMs.
    act_as(page, "bob")
    go_to(page, "dm")
    expect(page.locator("#feed button[data-action-id='lead.undo']")).to_have_count(0)
    act_as(page, "alice")
    expect(page.locator("#feed")).to_contain_text("You claimed")
    undo_reject = message_about(page, rejected_lead, "You rejected")
    expect(undo_reject).to_contain_text("You can undo it until")
    shoot(page, JOURNEY, "04-dm-with-undo")

    # Within the window it works, once: the DM loses its Undo and says what happened.
    undo_reject.locator("button[data-action-id='lead.undo']").click()
    expect(undo_reject).to_contain_text("Undone by @alice")
    expect(undo_reject.locator("button[data-action-id='lead.undo']")).to_have_count(0)
    shoot(page, JOURNEY, "05-undone")
    go_to(page, "sales")
    reopened = card_of(page, rejected_lead)
    expect(reopened.locator("button[data-action-id='lead.accept']")).to_be_visible()
    thread = open_thread(page, reopened)
    expect(thread).to_contain_text("rejected by @alice")
    expect(thread).to_contain_text("reject undone by @alice")
    shoot(page, JOURNEY, "06-thread-after-undo")
    page.locator("#thread-close").click()

    # Looking leads up: by number with its history, and by a word of a company's name.
    shown = type_command(page, f"/leads show {claimed_lead}")
    expect(shown).to_contain_text(f"#{claimed_lead}")
    expect(shown).to_contain_text("claimed by @alice")
    shoot(page, JOURNEY, "07-leads-show")
    company = claimed.locator(".blocks .block-section").first.inner_text().split(" · ")[-2]
    found = type_command(page, f"/leads find {company.split()[0]}")
    expect(found).to_contain_text("Leads matching")
    expect(found).to_contain_text(f"#{claimed_lead}")
    shoot(page, JOURNEY, "08-leads-find")

    # The reopened lead's claim window restarted after the claim above was made: once it has
    # run out, so has the claim's 5-minute Undo window, and the DM no longer offers Undo (a
    # click on a stale copy is refused: tests/e2e/test_escalations_and_undo.py).
    expect(card_of(page, rejected_lead)).to_contain_text("SLA breached", timeout=60_000)
    go_to(page, "dm")
    undo_claim = message_about(page, claimed_lead, "You claimed")
    expect(undo_claim.locator("button[data-action-id='lead.undo']")).to_have_count(0)
    expect(undo_claim).not_to_contain_text("You can undo it until")
    shoot(page, JOURNEY, "09-undo-window-closed")
    go_to(page, "sales")
    expect(card_of(page, claimed_lead)).to_contain_text("Claimed by @alice")


def cards_in_view(page: Page) -> int:
    """How many cards the feed shows whole, as it is scrolled now."""
    feed = page.locator("#feed").bounding_box()
    assert feed is not None
    whole = 0
    for index in range(cards(page).count()):
        box = cards(page).nth(index).bounding_box()
        if box and box["y"] >= feed["y"] and box["y"] + box["height"] <= feed["y"] + feed["height"]:
            whole += 1
    return whole


def docs_screenshot(page: Page, *, top: Locator) -> None:
    """The README's picture: #sales at 1440×900 from the card `top` down, a claimed card and a
    rejected one among the four that fit."""
    top.evaluate("card => card.scrollIntoView({block: 'start'})")
    path = shoot(page, JOURNEY, "readme")
    if os.environ.get(UPDATE_DOCS) or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.write_bytes(Path(path).read_bytes())
