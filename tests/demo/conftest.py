"""`baton demo` driven in a real browser: the demo as a user starts it, headless Chromium, and
what the journeys share (finding cards, acting as someone, typing a command, screenshots)."""

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

from tests.conftest import free_port

ROOT = Path(__file__).parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "demo"
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
# The window the issue measures the channel in: a common laptop screen.
VIEWPORT = {"width": 1440, "height": 900}
WAIT_MS = 15_000  # what a step may take on a busy machine before the journey fails


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


@pytest.fixture(scope="module")
def demo_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The journey module's own demo: its `LEADS` sample leads, its clock `SPEED` (default 1)."""
    module = request.module
    directory = tmp_path_factory.mktemp(module.JOURNEY)
    speed = getattr(module, "SPEED", 1.0)
    with running_demo(directory, leads=module.LEADS, speed=speed) as url:
        yield url


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
            viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def page(browser: BrowserContext) -> Iterator[Page]:
    """The module's one tab; a script error on the page fails the journey at its end."""
    expect.set_options(timeout=WAIT_MS)
    tab = browser.pages[0] if browser.pages else browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    assert errors == []


# --------------------------------------------------------------------------- what a user does


def cards(page: Page) -> Locator:
    """Lead cards in the main feed (every card offers Details), not welcome or other messages."""
    return page.locator("#feed .message").filter(
        has=page.locator("button[data-action-id='lead.details']")
    )


def card_with(page: Page, action_id: str) -> Locator:
    """Messages in the feed that still offer the button `action_id`."""
    return page.locator("#feed .message").filter(
        has=page.locator(f"button[data-action-id='{action_id}']")
    )


def card_of(page: Page, lead: str) -> Locator:
    """The card in the feed of lead `#<id>` (its first line names the lead number)."""
    return cards(page).filter(has_text=re.compile(rf"#{lead}(?!\d)"))


def lead_number(card: Locator) -> str:
    """The lead's number, as its card's first line shows it (`… · #12`)."""
    who = card.locator(".blocks .block-section").first.inner_text()
    found = re.search(r"#(\d+)\s*$", who)
    assert found, f"no lead number in {who!r}"
    return found.group(1)


def message_about(page: Page, lead: str, says: str) -> Locator:
    """The newest message in the feed about lead `#<lead>` that says `says`."""
    about = re.compile(rf"#{lead}(?!\d)")
    return page.locator("#feed .message").filter(has_text=about).filter(has_text=says).last


def pinned(page: Page, message: Locator) -> Locator:
    """The message `message` finds now, found by its timestamp from here on: it stays the
    same message when it is redrawn and no longer matches what found it."""
    ts = message.get_attribute("data-ts")
    assert ts, "the message has no timestamp"
    return page.locator(f"#feed .message[data-ts='{ts}']")


def act_as(page: Page, name: str) -> None:
    """Switch the demo's "Signed in as" to `name` (e.g. "alice")."""
    user = page.locator("#user-select option", has_text=f"(@{name})").get_attribute("value")
    assert user, f"no demo user @{name}"
    page.locator("#user-select").select_option(user)
    expect(page.locator("#user-select")).to_have_value(user)
    drawn(page)


def go_to(page: Page, where: str) -> None:
    """Open `sales` (or another channel), `dm` (the app's DMs) or `home` from the sidebar."""
    if where == "dm":
        page.locator("#nav-dm").click()
        expect(page.locator("#pane-subtitle")).to_have_text("Direct messages from the app")
    elif where == "home":
        page.locator("#nav-home").click()
        expect(page.locator("#pane-subtitle")).to_have_text("Home")
    else:
        page.locator("#channel-list a", has_text=where).click()
        expect(page.locator("#pane-title")).to_have_text(f"# {where}")
    drawn(page)


def drawn(page: Page) -> None:
    """Wait until the client has drawn the feed of the conversation just opened (it empties the
    feed on every switch), so what a step counts there is what the user sees."""
    expect(page.locator("#feed[data-drawn='1']")).to_have_count(1)


def reject_in_form(
    page: Page, reason: str | None, *, note: str | None, refused: bool = False
) -> None:
    """Fill the open Reject form and send it: it closes, or stays open when `refused`."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Reject lead")
    if reason is not None:
        dialog.get_by_label("Reason").select_option(reason)
    if note is not None:
        dialog.get_by_label("Note for marketing").fill(note)
    dialog.locator("[data-role='submit']").click()
    if not refused:
        expect(dialog).to_be_hidden()


def type_command(page: Page, text: str) -> Locator:
    """Type `text` in the composer and send it; returns the answer shown to the typist alone."""
    ephemerals = page.locator("#feed .message.ephemeral")
    before = ephemerals.count()
    page.locator("#message-box").fill(text)
    page.locator("#message-box").press("Enter")
    expect(ephemerals).to_have_count(before + 1)
    answer = ephemerals.last
    expect(answer).to_contain_text("Only visible to you")
    answer.scroll_into_view_if_needed()
    return answer


def open_thread(page: Page, card: Locator) -> Locator:
    """Open a message's thread from its replies button; returns the thread pane's feed."""
    card.locator("button.replies").click()
    pane = page.locator("#thread-pane")
    expect(pane).to_be_visible()
    return page.locator("#thread-feed")


def shoot(page: Page, journey: str, name: str) -> Path:
    """A screenshot of the window as it is, kept under test-artifacts/demo/<journey>/."""
    path = ARTIFACTS / journey / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.mouse.move(1, 1)  # no hover highlight on a message
    page.screenshot(path=path)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed journey leaves a screenshot of the window as it was, beside its others."""
    outcome = yield
    report = outcome.get_result()
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        journey = getattr(item.module, "JOURNEY", item.module.__name__.rsplit(".", 1)[-1])
        shoot(page, journey, f"failed-{item.name}")
