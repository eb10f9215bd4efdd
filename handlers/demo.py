"""`baton demo`: the real bot, on the embedded defaults, against the bundled Slack emulator.

Nothing leaves the machine: the emulator plays Slack, sample leads arrive through the intake
API like a marketing automation would send them, and a Slack-like web client on localhost shows
#sales, DMs and App Home to whichever demo user is picked (what happens in #sales is printed too).
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import threading
import time
import webbrowser
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bot.rules import Roles, Rules
from handlers.config import Config, load_settings
from handlers.sample_leads import sample_leads
from handlers.serve import BatonServer
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    MANAGER,
    MARKETER,
    MARKETING_CHANNEL,
    SALES_CHANNEL,
    SlackEmulator,
)
from slack_emulator.web import SlackWebClient

DEMO_POST_INTERVAL = 0.3
DEMO_SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class AcceleratedClock:
    """A clock that runs `speed` times faster than real time from `start`, so SLA reminders
    and escalations can be watched within minutes (e.g. at 60, a 15-minute window takes 15 s).
    Read off the wall clock, so the delivery process's copy tells the same time."""

    start: datetime
    speed: float

    def __call__(self) -> datetime:
        return self.start + (datetime.now(UTC) - self.start) * self.speed


def accelerated_clock(speed: float) -> AcceleratedClock:
    return AcceleratedClock(datetime.now(UTC), speed)


def demo_config(*, slack: SlackEmulator, database: Path, port: int) -> Config:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": f"sqlite:///{database}",
            "BATON_INTAKE_TOKEN": secrets.token_urlsafe(16),
            "BATON_PORT": str(port),
        }
    )
    rules = Rules(roles=Roles(managers=[MANAGER], marketers=[MARKETER]))
    rules = rules.model_copy(
        update={"channels": rules.channels.model_copy(update={"marketing": MARKETING_CHANNEL})}
    )
    return Config(settings.model_copy(update={"config_file": Path("(demo)")}), rules)


def feed_leads(bot_url: str, token: str, count: int, *, spread_seconds: float) -> None:
    """Send sample leads through the intake API, a few seconds apart, as an automation would."""
    leads = sample_leads(count, now=datetime.now(UTC))
    with httpx.Client(base_url=bot_url, timeout=10) as client:
        for lead in leads:
            client.post("/api/leads", json=lead, headers={"Authorization": f"Bearer {token}"})
            time.sleep(spread_seconds / max(count, 1))


def print_channel(slack: SlackEmulator, stop: threading.Event) -> None:
    """Print each new or edited message in #sales, so the console shows the handoff happen."""
    seen: dict[str, str] = {}
    while not stop.wait(0.5):
        for message in slack.messages(SALES_CHANNEL):
            text = message.get("text", "")
            if seen.get(message["ts"]) != text:
                verb = "edited" if message["ts"] in seen else "posted"
                print(f"#sales {verb}: {text}", flush=True)
                seen[message["ts"]] = text


def has_display() -> bool:
    """A graphical browser can open here; on a headless Linux box `webbrowser` would start a
    text browser in this terminal instead."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_demo(
    *,
    port: int,
    leads: int,
    database: Path | None,
    ui_port: int = 0,
    open_browser: bool = True,
    speed: float = 1.0,
) -> int:
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as scratch:
        db_path = database or Path(scratch) / "baton-demo.db"
        with SlackEmulator() as slack:
            config = demo_config(slack=slack, database=db_path, port=port)
            bot = BatonServer(
                config,
                clock=accelerated_clock(speed),
                post_interval=DEMO_POST_INTERVAL,
                sweep_every=DEMO_SWEEP_SECONDS,
            )
            stop = threading.Event()
            try:
                url = bot.start(port=port)
                with SlackWebClient(slack, f"{url}/slack/events", port=ui_port) as web:
                    print(f"Baton demo: the bot serves {url} (Slack emulator at {slack.url})")
                    print(f"Database: {db_path}. Press Ctrl-C to stop.")
                    print(f"Open the demo workspace: {web.url}", flush=True)
                    if open_browser and has_display():
                        webbrowser.open(web.url)
                    assert config.settings.intake_token is not None
                    threading.Thread(
                        target=feed_leads,
                        args=(url, config.settings.intake_token, leads),
                        kwargs={"spread_seconds": 5.0},
                        daemon=True,
                    ).start()
                    threading.Thread(target=print_channel, args=(slack, stop), daemon=True).start()
                    while True:
                        time.sleep(1)
            except KeyboardInterrupt:
                print("\nStopping the demo.")
            finally:
                stop.set()
                bot.stop()
    return 0
