"""A sales manager in `baton demo`, in a real browser: acting on escalations where they arrive,
reassigning, and reading a lead's story in its card's thread.

The demo's clock runs 240 times faster, so a hot lead's 15-minute claim window runs out in
under 4 s and its 1-hour follow-up window in 15 s: escalations come to the manager at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.demo.conftest import (
    act_as,
    card_of,
    go_to,
    lead_number,
    message_about,
    open_thread,
    pinned,
    shoot,
    type_command,
)

LEADS = 6
SPEED = 240
JOURNEY = "manager"
PICKER = "select[data-action-id='lead.assign_to']"
REOPEN = "button[data-action-id='lead.reopen']"
OWNER_BUTTONS = "button[data-action-id='lead.contacted'], button[data-action-id='lead.release']"
ESCALATION = re.compile(r"\(#(\d+)\)")

pytestmark = pytest.mark.slow


def test_a_manager_assigns_from_an_escalation_and_reassigns(demo_url: str, page: Page) -> None:
    page.goto(f"{demo_url}?user=maria&view=dm")
    expect(page.locator("#pane-subtitle")).to_have_text("Direct messages from the app")

    # A claim deadline passes: the escalation is a short message with Assign to… and Reopen.
    expect(escalations(page).first).to_be_visible(timeout=30_000)
    escalation = pinned(page, escalations(page).first)
    expect(escalation).to_contain_text("needs a manager")
    expect(escalation.locator(REOPEN)).to_be_visible()
    expect(escalation.locator("button[data-action-id='lead.accept']")).to_have_count(0)
    lead = lead_in(escalation)
    shoot(page, JOURNEY, "01-escalation-in-dm")

    # One step: picking a rep assigns the lead; the message says so and offers nothing more.
    pick(escalation, "alice")
    expect(escalation).to_contain_text("Assigned to @alice by @maria")
    expect(escalation.locator(f"{PICKER}, {REOPEN}")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    shoot(page, JOURNEY, "02-assigned-from-the-escalation")

    act_as(page, "alice")
    assigned = pinned(page, message_about(page, lead, "was assigned to you by @maria"))
    expect(assigned.locator(OWNER_BUTTONS)).to_have_count(2)
    shoot(page, JOURNEY, "03-alice-told-of-the-assignment")

    # Alice does not follow up in time: the follow-up breach escalates; Maria hands it to Bob.
    act_as(page, "maria")
    breach = escalations(page).filter(has_text=f"(#{lead})").filter(has_text="has not reached")
    expect(breach).to_have_count(1, timeout=45_000)
    breach = pinned(page, breach)
    pick(breach, "bob")
    expect(breach).to_contain_text("Assigned to @bob by @maria")
    expect(breach.locator(f"{PICKER}, {REOPEN}")).to_have_count(0)

    # Stale buttons are gone: Alice's message about the lead offers nothing she can no longer do.
    act_as(page, "alice")
    expect(message_about(page, lead, "no longer yours")).to_contain_text("reassigned to @bob")
    expect(assigned.locator(OWNER_BUTTONS)).to_have_count(0)
    shoot(page, JOURNEY, "04-alice-after-the-reassign")
    act_as(page, "bob")
    bobs = message_about(page, lead, "was assigned to you by @maria")
    expect(bobs.locator(OWNER_BUTTONS)).to_have_count(2)
    shoot(page, JOURNEY, "05-bob-told-of-the-assignment")


def test_the_thread_tells_reject_reopen_assign_release(demo_url: str, page: Page) -> None:
    # Alice rejects a lead waiting for a manager.
    act_as(page, "alice")
    go_to(page, "sales")
    waiting = page.locator("#feed .message").filter(has_text="SLA breached")
    waiting = waiting.filter(has=page.locator("button[data-action-id='lead.reject']"))
    expect(waiting.first).to_be_visible()
    lead = lead_number(waiting.first)
    card_of(page, lead).locator("button[data-action-id='lead.reject']").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Reason").select_option("not_icp")
    dialog.locator("[data-role='submit']").click()
    expect(dialog).to_be_hidden()
    expect(card_of(page, lead)).to_contain_text("Rejected by @alice")

    # Maria reopens it by typing; when it escalates again she assigns it to Alice from her DMs.
    act_as(page, "maria")
    expect(type_command(page, f"/leads reopen {lead}")).to_contain_text(f"#{lead}")
    go_to(page, "dm")
    again = escalations(page).filter(has_text=f"(#{lead})")
    expect(again).to_have_count(1, timeout=30_000)
    again = pinned(page, again)
    pick(again, "alice")
    expect(again).to_contain_text("Assigned to @alice by @maria")

    # Alice gives it back from her DM.
    act_as(page, "alice")
    release = pinned(page, message_about(page, lead, "was assigned to you by @maria"))
    release.locator("button[data-action-id='lead.release']").click()
    expect(release.locator(OWNER_BUTTONS)).to_have_count(0)

    # The card's thread holds each move, in order.
    go_to(page, "sales")
    thread = open_thread(page, card_of(page, lead))
    story = [
        "rejected by @alice",
        "reopened by @maria",
        "nobody claimed it in time",
        "assigned to @alice by @maria",
        "released by @alice",
    ]
    expect(thread).to_contain_text(re.compile(".*".join(map(re.escape, story)), re.DOTALL))
    shoot(page, JOURNEY, "06-thread-after-reject-reopen-assign-release")


def escalations(page: Page) -> Locator:
    """Escalation messages in the feed that still offer Assign to…"""
    return page.locator("#feed .message").filter(has=page.locator(PICKER))


def lead_in(message: Locator) -> str:
    found = ESCALATION.search(message.inner_text())
    assert found, "the escalation names no lead"
    return found.group(1)


def pick(message: Locator, name: str) -> None:
    """Choose `name` in the message's Assign to… picker, as a manager would."""
    picker = message.locator(PICKER)
    option = picker.locator("option", has_text=f"(@{name})")
    picker.select_option(option.get_attribute("value"))
