"""App Home per role and the weekly digest, through the emulator: right content, sent once."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bot.charts import CHART_HEIGHT, CHART_WIDTH
from handlers.digest_job import DIGEST_JOB_ID, send_digest_now, send_digest_on_request
from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, MARKETER, MARKETING_CHANNEL, REP_1, SlackEmulator
from tests.e2e.conftest import card_text, eventually, send_lead, settled, wait_for_card

As = Callable[[str], SlackUser]


def open_home(slack: SlackEmulator, user: As, who: str) -> dict:
    before = len([c for c in slack.calls("views.publish") if c.args.get("user_id") == who])
    assert user(who).open_app_home().status_code == 200
    eventually(
        lambda: (
            len([c for c in slack.calls("views.publish") if c.args.get("user_id") == who]) > before
        )
    )
    home = slack.home(who)
    assert home is not None
    return home


def test_a_rep_sees_their_leads_and_can_claim_from_home(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead = send_lead(bot)
    wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))

    home = open_home(slack, user, REP_1)
    text = card_text(home)
    assert "Your open leads* (0)" in text and "Waiting for a rep* (1)" in text
    assert "Dana Whitfield" in text

    user(REP_1).click_in_view(home["id"], "lead.accept", value=str(lead["id"]))
    eventually(lambda: "Your open leads* (1)" in card_text(slack.home(REP_1)))
    wait_for_card(slack, lead["id"], lambda c: f"<@{REP_1}>" in card_text(c))


def test_a_replayed_home_event_is_handled_once(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    alice = user(REP_1)
    alice.open_app_home()
    alice.replay()
    settled(bot)
    assert len(slack.calls("views.publish")) == 1


def test_managers_see_sla_health_and_the_weeks_numbers(
    seeded: list[int],
    slack: SlackEmulator,
    user: As,
) -> None:
    text = card_text(open_home(slack, user, MANAGER))
    assert "SLA health" in text and "Waiting for a rep:* 2" in text
    assert "Handoff numbers, this week*" in text and "Handed off*\n4" in text


def test_marketers_see_rejection_reasons_by_source(
    seeded: list[int],
    slack: SlackEmulator,
    user: As,
) -> None:
    text = card_text(open_home(slack, user, MARKETER))
    assert "webinar" in text and "No budget: 1 (100%)" in text
    assert "Rejections per week" in text and text.rstrip().endswith("1")


def test_the_digest_reaches_marketing_once_per_period(
    seeded: list[int],
    start_bot: Callable[..., BatonServer],
    bot: BatonServer,
    slack: SlackEmulator,
) -> None:
    other = start_bot()
    assert send_digest_now(bot.services) is True
    assert send_digest_now(other.services) is False  # a second process, same period
    assert send_digest_now(bot.services) is False
    settled(bot)

    digest, chart = slack.messages(MARKETING_CHANNEL)
    assert [file["name"][-4:] for file in chart["files"]] == [".png"]
    text = card_text(digest)
    assert "Lead handoff digest" in text and "Handed off*\n4" in text
    assert "Acceptance rate*\n50%" in text
    assert "No budget: 1 (100%)" in text and "Freeze until May" in text


def test_a_digest_asked_for_goes_out_though_todays_has(
    seeded: list[int], bot: BatonServer, slack: SlackEmulator
) -> None:
    assert send_digest_now(bot.services) is True
    assert send_digest_on_request(bot.services) is True  # the demo's "Send the digest now"
    settled(bot)

    digests = [message for message in slack.messages(MARKETING_CHANNEL) if "files" not in message]
    assert len(digests) == 2
    assert card_text(digests[0]) == card_text(digests[1])


def test_the_digest_is_followed_by_its_chart_as_a_png(
    seeded: list[int], bot: BatonServer, slack: SlackEmulator
) -> None:
    """Weekly acceptance by source, uploaded as a file into the digest's channel after it."""
    assert send_digest_now(bot.services) is True
    settled(bot)

    digest, chart = slack.messages(MARKETING_CHANNEL)
    assert "Lead handoff digest" in card_text(digest)
    assert chart["text"].startswith("Acceptance rate by source, week by week over the last 8")
    (file,) = chart["files"]
    assert file["title"] == "Acceptance rate by source, last 8 weeks"
    assert file["name"].startswith("baton-acceptance-") and file["name"].endswith(".png")
    image = Image.open(io.BytesIO(slack.file_content(file["id"])))
    assert (image.format, image.size) == ("PNG", (CHART_WIDTH, CHART_HEIGHT))
    (upload,) = slack.calls("files.completeUploadExternal")
    assert upload.args["channel_id"] == MARKETING_CHANNEL


def test_a_chart_slack_shared_before_the_connection_dropped_is_not_shared_again(
    seeded: list[int], bot: BatonServer, slack: SlackEmulator
) -> None:
    dropped = slack.faults.add("files.completeUploadExternal", apply=True, drop=True, times=1)
    assert send_digest_now(bot.services) is True
    slack.wait_for(lambda: slack.calls("conversations.history"), timeout=30)
    settled(bot)

    assert dropped.hits == 1
    assert [len(message.get("files", [])) for message in slack.messages(MARKETING_CHANNEL)] == [
        0,
        1,
    ]


def test_a_digest_without_decided_leads_goes_without_a_chart(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    """Its numbers already say nothing was handed off; a blank chart would add nothing."""
    assert send_digest_now(bot.services) is True
    settled(bot)

    (digest,) = slack.messages(MARKETING_CHANNEL)
    assert "Lead handoff digest" in card_text(digest)
    assert slack.calls("files.getUploadURLExternal") == []


def test_the_digest_runs_on_the_configured_cron(bot: BatonServer) -> None:
    assert bot.services.scheduler is not None
    job = bot.services.scheduler.get_job(DIGEST_JOB_ID)
    trigger = str(job.trigger)
    assert "day_of_week='mon'" in trigger and "hour='9'" in trigger
    assert "America/New_York" in str(job.trigger.timezone)


def test_stats_home_digest_and_export_agree(
    seeded: list[int], bot: BatonServer, slack: SlackEmulator, user: As, tmp_path: Path
) -> None:
    """The same seeded week, read four ways, gives the same numbers."""
    before = len(slack.ephemerals(MANAGER))
    user(MANAGER).slash_command("/leads", "stats 7d")
    # In the acknowledgement, or through response_url after it on a loaded machine.
    stats = eventually(
        lambda: "".join(card_text(reply) for reply in slack.ephemerals(MANAGER)[before:]),
        timeout=30,
    )
    home = card_text(open_home(slack, user, MANAGER))
    send_digest_now(bot.services)
    settled(bot)
    digest = card_text(slack.messages(MARKETING_CHANNEL)[0])
    for view in (stats, home, digest):
        assert "Handed off*\n4" in view and "Accepted / rejected*\n1 / 1" in view
        assert "Acceptance rate*\n50%" in view

    exported = subprocess.run(
        [sys.executable, "-m", "bot", "report", "feedback", "--since", "7d", "--format", "json"],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": bot.services.config.settings.database_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(exported.stdout)
    assert [(row["source"], row["reason"], row["note"]) for row in rows] == [
        ("webinar", "no_budget", "Freeze until May")
    ]
    assert "No budget: 1 (100%)" in digest
