"""The demo teaches a newcomer: a welcome per role, the demo clock, emoji that render without an
emoji font, `@name` mentions, the digest on demand with its chart, a CSV to download, and a feed
that shows the answer to what was typed though it was scrolled up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.charts import CHART_WIDTH
from slack_emulator import MANAGER, MARKETER
from tests.demo.conftest import ARTIFACTS, chromium, running_demo

LEADS = 3

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Page]:
    """`baton demo` with every sample lead at once, and a headless Chromium tab on it."""
    with (
        running_demo(tmp_path, leads=LEADS) as url,
        chromium(tmp_path / "chromium-profile") as browser,
    ):
        page = browser.pages[0] if browser.pages else browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{url}?user=alice")
        yield page
        assert errors == []


def type_command(page: Page, text: str) -> None:
    page.locator("#message-box").fill(text)
    page.locator("#message-box").press("Enter")


def sign_in_as(page: Page, user: str) -> None:
    page.locator("#user-select").select_option(user)


def go_to(page: Page, channel: str) -> None:
    """Open a channel from the sidebar, and wait until the pane shows it."""
    page.locator("#channel-list a", has_text=channel).click()
    expect(page.locator("#pane-title")).to_have_text(f"# {channel}")


def test_the_demo_teaches_each_role(demo: Page) -> None:
    page = demo
    expect.set_options(timeout=15_000)
    cards = page.locator("#feed .message").filter(has=page.locator("[data-action-id^='lead.']"))
    expect(cards).to_have_count(LEADS, timeout=30_000)

    # Alice's welcome opens #sales: her role and three things to try; the demo clock beside.
    welcome = page.locator("#feed .message.ephemeral").first
    expect(welcome).to_contain_text("Welcome to the Baton demo, Alice! You are a sales rep")
    for step in ("1. Press Accept", "2. Press Reject", "3. Type /leads mine"):
        expect(welcome).to_contain_text(step)
    expect(page.locator("#clock-time")).to_have_text(re.compile(r"\d{1,2}:\d\d"))
    expect(page.locator("#clock-speed")).to_have_text("real time")

    # Emoji come from bundled images: the machine has no emoji font.
    emoji = page.locator("#feed img.emoji")
    expect(emoji.first).to_be_visible()
    assert page.evaluate(
        "[...document.querySelectorAll('#feed img.emoji')]"
        ".every(image => image.complete && image.naturalWidth > 0)"
    )
    page.screenshot(path=ARTIFACTS / "teaches-01-welcome.png")

    # Scrolled up, a typed command's answer is still brought into view.
    page.set_viewport_size({"width": 1280, "height": 480})
    page.locator("#feed").evaluate("feed => { feed.scrollTop = 0; }")
    answers = page.locator("#feed .message.ephemeral")
    before = answers.count()
    type_command(page, "/leads queue")
    expect(answers).to_have_count(before + 1)
    expect(answers.last).to_be_in_viewport()
    page.screenshot(path=ARTIFACTS / "teaches-02-answer-in-view.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Maria mentions Bob as people do: @bob.
    sign_in_as(page, MANAGER)
    expect(page.locator("#feed .message.ephemeral").first).to_contain_text(
        "You are the sales manager"
    )
    expect(cards.filter(has_text="@bob")).to_have_count(0)
    type_command(page, "/leads assign 1 @bob")
    expect(cards.filter(has_text="@bob")).to_have_count(1)
    expect(page.locator("#feed")).not_to_contain_text("failed with the error")

    # Mark sends the digest now and reads it in #marketing.
    sign_in_as(page, MARKETER)
    page.locator("button.control", has_text="Send the digest now").click()
    expect(page.locator(".control-said")).to_have_text("The digest is on its way to #marketing.")
    go_to(page, "marketing")
    expect(page.locator("#feed .message", has_text="Lead handoff digest")).to_have_count(1)
    # Its chart follows as an image (the lead Bob was assigned is a decided one).
    chart = page.locator("#feed img.file-preview")
    expect(chart).to_be_visible()
    # Visible may come before loaded on a busy machine: decode() waits for the picture itself.
    assert chart.evaluate("image => image.decode().then(() => image.naturalWidth)") == CHART_WIDTH
    page.screenshot(path=ARTIFACTS / "teaches-03-digest.png")

    # …and asks for the feedback as CSV: the file shows in his DMs and downloads.
    go_to(page, "sales")
    type_command(page, "/leads feedback 30d csv")
    page.locator("#nav-dm").click()
    expect(page.locator("#pane-title")).to_have_text("Baton")
    file = page.locator("#feed .file")
    expect(file).to_contain_text("Rejection feedback")
    with page.expect_download() as download:
        file.locator("a.file-download").click()
    saved = Path(download.value.path())
    assert download.value.suggested_filename.endswith(".csv")
    assert saved.read_text(encoding="utf-8-sig").startswith("lead_id,")
    page.screenshot(path=ARTIFACTS / "teaches-04-csv-in-dm.png")
