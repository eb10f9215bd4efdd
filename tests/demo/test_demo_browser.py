"""`baton demo` in a real browser: headless Chromium accepts, rejects and types `/leads`."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect, sync_playwright

from slack_emulator import REP_2
from tests.conftest import free_port

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "demo"
DOCS_SCREENSHOT = ROOT / "docs" / "demo.png"
# The README's screenshot is committed: a run refreshes it only when asked, or when it is missing.
UPDATE_DOCS = "UPDATE_DOCS_SCREENSHOT"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
URL_LINE = re.compile(r"Open the demo workspace: (http://\S+)")
STARTUP_SECONDS = 60
LEADS = 4

pytestmark = pytest.mark.slow


def restore_ctrl_c() -> None:
    """A shell's background job inherits SIGINT ignored; the demo must hear Ctrl-C as a user's."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running_demo(directory: Path, *, leads: int, speed: float = 1.0) -> Iterator[str]:
    """`baton demo` as a user starts it, in an empty `directory` with no Slack settings, its
    `leads` sent all at once; yields the web workspace's URL and keeps the demo's output as an
    artifact named after `directory`."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "BATON_", "DATABASE_"))
    }
    environ["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "bot", "demo", "--no-browser", "--port", str(free_port())]
    command += ["--leads", str(leads), "--lead-interval", "0", "--speed", str(speed)]
    process = subprocess.Popen(
        command,
        cwd=directory,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=restore_ctrl_c,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:  # keeps draining, so the demo never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield _wait_for_url(lines, process, output)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        (ARTIFACTS / f"demo-output-{directory.name}.txt").write_text("".join(output))


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    with running_demo(tmp_path, leads=LEADS) as url:
        yield url


def _wait_for_url(
    lines: queue.Queue[str], process: subprocess.Popen[str], output: list[str]
) -> str:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            found = URL_LINE.search(lines.get(timeout=0.2))
        except queue.Empty:
            if process.poll() is not None:
                pytest.fail(f"baton demo exited with {process.returncode}:\n{''.join(output)}")
            continue
        if found:
            return found.group(1)
    pytest.fail(f"baton demo printed no URL in {STARTUP_SECONDS} s:\n{''.join(output)}")


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile; missing Chromium fails the test."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with chromium(tmp_path / "chromium-profile") as context:
        yield context


def card_with(page: Page, action_id: str) -> Locator:
    """Messages in the feed that still offer the button `action_id`."""
    return page.locator("#feed .message").filter(
        has=page.locator(f"button[data-action-id='{action_id}']")
    )


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def test_accept_reject_and_slash_command_in_the_browser(
    demo_url: str, browser: BrowserContext
) -> None:
    expect.set_options(timeout=15_000)
    page = browser.pages[0] if browser.pages else browser.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))

    page.goto(f"{demo_url}?user=alice")
    expect(page.locator("#pane-title")).to_have_text("# sales")
    expect(card_with(page, "lead.accept")).to_have_count(LEADS, timeout=30_000)
    shoot(page, "01-cards-as-alice")

    # Alice accepts the first lead: the card is redrawn with her claim, and Accept is gone.
    first = card_with(page, "lead.accept").first
    first_ts = first.get_attribute("data-ts")
    first.locator("button[data-action-id='lead.accept']").click()
    claimed = page.locator(f"#feed .message[data-ts='{first_ts}']")
    expect(claimed).to_contain_text("Claimed by @alice")
    expect(claimed).to_contain_text("(edited)")
    expect(claimed.locator("button[data-action-id='lead.accept']")).to_have_count(0)
    expect(claimed.locator("button[data-action-id='lead.contacted']")).to_be_visible()
    expect(page.locator("#dm-badge")).to_be_visible()
    shoot(page, "02-accepted-by-alice")

    page.locator("#nav-dm").click()
    expect(page.locator("#feed")).to_contain_text("You claimed")
    shoot(page, "03-alice-dm")
    page.locator("#channel-list a", has_text="sales").click()

    # Bob rejects another lead: "Other" without a note is refused inside the modal.
    page.locator("#user-select").select_option(REP_2)
    expect(card_with(page, "lead.reject")).to_have_count(LEADS - 1)
    second = card_with(page, "lead.reject").first
    second_ts = second.get_attribute("data-ts")
    assert second_ts != first_ts
    second.locator("button[data-action-id='lead.reject']").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Reject lead")
    dialog.get_by_label("Reason").select_option("other")
    dialog.locator("[data-role='submit']").click()
    note_error = dialog.locator(".field[data-block-id='note'] .field-error")
    expect(note_error).to_contain_text("Note")
    expect(dialog).to_be_visible()
    shoot(page, "04-reject-validation-error")

    dialog.get_by_label("Note for marketing").fill("Bought a competitor's tool last month.")
    dialog.locator("[data-role='submit']").click()
    expect(dialog).to_be_hidden()
    rejected = page.locator(f"#feed .message[data-ts='{second_ts}']")
    expect(rejected).to_contain_text("Rejected by @bob")
    expect(rejected).to_contain_text("Bought a competitor's tool last month.")
    # Decided: nothing left to press but Details (and the thread's replies, which tell its story).
    expect(rejected.locator("button[data-action-id='lead.details']")).to_be_visible()
    expect(
        rejected.locator("button[data-action-id^='lead.']:not([data-action-id='lead.details'])")
    ).to_have_count(0)
    shoot(page, "05-rejected-by-bob")
    _docs_screenshot(page, second_ts)

    # `/leads queue` goes to the bot as a signed slash command. Whatever the answer is (the bot's
    # ephemeral reply, or Slackbot's "failed with the error" when the bot does not handle the
    # command), Slack shows it to the typist alone; the test checks one such message arrives.
    ephemerals = page.locator("#feed .message.ephemeral")
    before = ephemerals.count()
    page.locator("#message-box").fill("/leads queue")
    page.locator("#message-box").press("Enter")
    expect(ephemerals).to_have_count(before + 1)
    answer = ephemerals.last
    expect(answer).to_contain_text("Only visible to you")
    assert answer.locator(".message-body").inner_text().strip()
    answer.scroll_into_view_if_needed()
    shoot(page, "06-slash-command")

    assert page_errors == []


def _docs_screenshot(page: Page, bottom_ts: str | None) -> None:
    """The README's picture: #sales with the claimed card's status, then the rejected card."""
    page.set_viewport_size({"width": 1280, "height": 1320})
    page.mouse.move(1, 1)  # no hover highlight on a message
    page.locator(f"#feed .message[data-ts='{bottom_ts}']").evaluate(
        "node => node.scrollIntoView({block: 'end'})"
    )
    page.screenshot(path=ARTIFACTS / "readme.png")
    if os.environ.get(UPDATE_DOCS) or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.write_bytes((ARTIFACTS / "readme.png").read_bytes())
    page.set_viewport_size({"width": 1280, "height": 900})
