"""`baton demo`: the real bot, on the embedded defaults, against the bundled Slack emulator.

Nothing leaves the machine: the emulator plays Slack, sample leads arrive through the intake
API like a marketing automation would send them (a few at once, then one at a time), and a
Slack-like web client on localhost shows #sales, DMs and App Home to whichever demo user is
picked, each welcomed with three things to try (what happens in #sales is printed too). One
clock, running `speed` times faster, times the SLAs and stamps every message.
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
from typing import Any

import httpx
from slack_sdk import WebClient

from bot.rules import Roles, Rules
from handlers.config import Config, load_settings
from handlers.demo_welcome import cast, welcome_text
from handlers.digest_job import send_digest_on_request
from handlers.sample_leads import sample_leads
from handlers.serve import BatonServer
from handlers.services import Services
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    MANAGER,
    MARKETER,
    MARKETING_CHANNEL,
    SALES_CHANNEL,
    FastClock,
    SlackEmulator,
)
from slack_emulator.web import SlackWebClient

DEMO_POST_INTERVAL = 0.3
DEMO_SWEEP_SECONDS = 1.0
FIRST_LEADS = 3  # sent at once, so there is something to click straight away
DEFAULT_LEAD_INTERVAL = 20.0  # real seconds between the leads after those
DIGEST_BUTTON = "Send the digest now"


@dataclass(frozen=True)
class DemoClock:
    """The bot's reading of the demo's one clock (which also stamps the emulator's messages):
    a UTC datetime running `speed` times faster, so SLA reminders and escalations can be
    watched within minutes. Picklable, so a delivery process's copy tells the same time."""

    fast: FastClock

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.fast(), UTC)


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


def feed_leads(
    bot_url: str, token: str, leads: list[dict[str, Any]], *, interval: float, stop: threading.Event
) -> None:
    """Send sample leads through the intake API as an automation would: the first few at once,
    then one every `interval` seconds, so a newcomer meets them (and their deadlines) one by one
    rather than all escalated together."""
    with httpx.Client(base_url=bot_url, timeout=10) as client:
        for number, lead in enumerate(leads):
            if number >= FIRST_LEADS and stop.wait(interval):
                return
            client.post("/api/leads", json=lead, headers={"Authorization": f"Bearer {token}"})


def welcome_everyone(slack: SlackEmulator, config: Config, speed: float) -> None:
    """Each person's welcome, shown to them alone at the top of #sales."""
    people = [person for person in slack.workspace.users if not person.is_bot]
    cast_line = cast(people, config.rules)
    client = WebClient(base_url=slack.api_url, token=DEFAULT_TOKEN)
    for person in people:
        text = welcome_text(person, config.rules, speed=speed, cast_line=cast_line)
        client.chat_postEphemeral(channel=SALES_CHANNEL, user=person.id, text=text)


def digest_button(services: Services) -> str:
    """The demo's button for the weekly digest, which would otherwise wait for Monday 09:00."""
    if send_digest_on_request(services):
        return "The digest is on its way to #marketing."
    return "The digest is switched off."


def arrivals(leads: int, interval: float, speed: float) -> str:
    """What the console says about the sample leads and the clock."""
    if interval and leads > FIRST_LEADS:
        pace = f"{FIRST_LEADS} now, then one every {interval:g} s"
    else:
        pace = f"{leads} now"
    clock = "in real time" if speed == 1 else f"{speed:g}× faster than real time"
    return f"Sample leads: {pace}. The demo clock runs {clock}."


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
    lead_interval: float = DEFAULT_LEAD_INTERVAL,
) -> int:
    clock = FastClock(speed)
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as scratch:
        db_path = database or Path(scratch) / "baton-demo.db"
        with SlackEmulator(message_clock=clock) as slack:
            config = demo_config(slack=slack, database=db_path, port=port)
            bot = BatonServer(
                config,
                clock=DemoClock(clock),
                post_interval=DEMO_POST_INTERVAL,
                sweep_every=DEMO_SWEEP_SECONDS,
            )
            stop = threading.Event()
            controls = {DIGEST_BUTTON: lambda: digest_button(bot.services)}
            try:
                url = bot.start(port=port)
                welcome_everyone(slack, config, speed)
                events = f"{url}/slack/events"
                with SlackWebClient(slack, events, port=ui_port, controls=controls) as web:
                    print(f"Baton demo: the bot serves {url} (Slack emulator at {slack.url})")
                    print(f"Database: {db_path}. Press Ctrl-C to stop.")
                    print(arrivals(leads, lead_interval, speed))
                    print(f"Open the demo workspace: {web.url}", flush=True)
                    if open_browser and has_display():
                        webbrowser.open(web.url)
                    assert config.settings.intake_token is not None
                    threading.Thread(
                        target=feed_leads,
                        args=(url, config.settings.intake_token),
                        kwargs={
                            "leads": sample_leads(leads, now=DemoClock(clock)()),
                            "interval": lead_interval,
                            "stop": stop,
                        },
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
