"""Routing that reads Slack, through the real interfaces: leads over HTTP, `/leads` as signed
slash commands, `user_change` as a signed event, users and their profiles in the emulator.

`owner` mode finds the lead's CRM owner by email and falls back to the rotation when the owner
is unknown or away; a rep whose Slack status is an away one is skipped until it expires; the
route's working hours are read in each rep's own Slack time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.serve import BatonServer
from slack_driver import SlackUser
from slack_emulator import MANAGER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.conftest import EXAMPLE_RULES, EXTRA_REPS, NOW
from tests.e2e.conftest import card_text, eventually, send_lead, slack_user
from tests.e2e.test_leads_command import ask
from tests.e2e.test_sla_flow import Clock

As = Callable[[str], SlackUser]
REP_3 = EXTRA_REPS[0].id
OWNER_ROUTE = f"""
[[routes]]
name = "owned"
channel = "{SALES_CHANNEL}"
mode = "owner"
fallback = "assign"
pool = ["{REP_1}", "{REP_2}", "{REP_3}"]
working_hours = {{ start = "09:00", end = "17:00" }}
away_statuses = [":palm_tree:", "Out sick"]
pause_after_missed = 2
"""


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules, every lead routed to its owner, else through a pool of three."""
    path = tmp_path / "baton.toml"
    path.write_text(EXAMPLE_RULES.read_text() + OWNER_ROUTE)
    return {**config_env, "BATON_CONFIG": str(path)}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)  # a Tuesday, 10:00 in New York


@pytest.fixture
def bot(start_bot: Callable[..., BatonServer], clock: Clock) -> Iterator[BatonServer]:
    yield start_bot(clock=clock)


def email_of(slack: SlackEmulator, user_id: str) -> str:
    return slack.member(user_id).email(slack.workspace.team.id)


def owner_of(bot: BatonServer, **lead: object) -> str | None:
    """Send a lead and return who routing gave it to (None: the channel)."""
    lead_id = send_lead(bot, **lead)["id"]
    with bot.services.db.read() as session:
        return lead_store.get_lead(session, lead_id).owner_id


def test_owner_mode_finds_the_owner_by_email_and_falls_back_when_it_cannot(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    bob = email_of(slack, REP_2)
    assert owner_of(bot, external_id="hs-1", owner_email=bob.upper()) == REP_2
    explained = ask(user, slack, REP_1, "routing 1")
    assert f"assigned to owner {bob.upper()}, <@{REP_2}>" in explained
    eventually(
        lambda: any("was assigned to you by Baton routing" in dm["text"] for dm in slack.dms(REP_2))
    )

    assert owner_of(bot, external_id="hs-2", owner_email="nobody@elsewhere.example") == REP_1
    explained = ask(user, slack, REP_1, "routing 2")
    unknown = "owner nobody@elsewhere.example: not found in Slack (no such user, or Slack did"
    assert f"{unknown} not answer) → fallback assign" in explained
    assert f"assigned to <@{REP_1}>: lowest pointer" in explained

    assert owner_of(bot, external_id="hs-3") is not None
    assert "no CRM owner → fallback assign" in ask(user, slack, REP_1, "routing 3")

    assert "You are away" in ask(user, slack, REP_2, "away")
    assert owner_of(bot, external_id="hs-4", owner_email=bob) not in (REP_2, None)
    assert f"owner {bob} is <@{REP_2}>: away until `/leads back` → fallback assign" in ask(
        user, slack, REP_1, "routing 4"
    )


def test_slack_status_and_time_zone_decide_who_is_available(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, clock: Clock
) -> None:
    slack.set_profile(REP_3, tz="Asia/Tokyo")  # midnight there: off shift
    bot = start_bot(clock=clock)
    user = lambda user_id: slack_user(slack, bot, user_id)  # noqa: E731
    expires = NOW + timedelta(hours=2)
    changed = slack.set_profile(
        REP_2,
        status_emoji=":palm_tree:",
        status_text="Vacationing",
        status_expiration=int(expires.timestamp()),
    )
    assert user(REP_2).send_event({"type": "user_change", "user": changed}).status_code == 200

    bob = email_of(slack, REP_2)
    assert owner_of(bot, external_id="hs-1", owner_email=bob) == REP_1
    explained = ask(user, slack, REP_1, "routing 1")
    assert (
        f"owner {bob} is <@{REP_2}>: Slack status :palm_tree: Vacationing until Tue 24 Nov 11:00"
        in explained
    )  # the expiry, in Bob's own time zone (Chicago)
    assert f"skipped <@{REP_3}>: off shift (works 09:00-17:00 Asia/Tokyo, Wed 00:00" in explained

    # The manager's App Home says the same of each rep of the pool.
    assert "You are away" in ask(user, slack, REP_1, "away until tomorrow")
    user(MANAGER).open_app_home()
    home = eventually(lambda: card_text(slack.home(MANAGER) or {}))
    assert "*Who routing can give leads to*" in home
    assert "*owned* (`owner` mode) · next up: nobody available" in home  # its fallback rotation
    assert f"<@{REP_1}>: away until Wed 25 Nov" in home
    assert f"<@{REP_2}>: Slack status :palm_tree: Vacationing until Tue 24 Nov 11:00" in home
    assert f"<@{REP_3}>: off shift (works 09:00-17:00 Asia/Tokyo" in home
    user(REP_2).open_app_home()  # a rep's own home has no such section
    assert "Who routing" not in card_text(eventually(lambda: slack.home(REP_2)))
    assert "You are back" in ask(user, slack, REP_1, "back")

    clock.advance(hours=2)  # the status has expired
    assert owner_of(bot, external_id="hs-2", owner_email=bob) == REP_2
    assert owner_of(bot, external_id="hs-3") == REP_1  # Tokyo is still asleep


def test_a_rep_who_misses_slas_in_a_row_is_paused_until_back(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, clock: Clock
) -> None:
    bot = start_bot(clock=clock, sweep_every=0.05)
    user = lambda user_id: slack_user(slack, bot, user_id)  # noqa: E731
    for rep in (REP_2, REP_3):
        assert "is away" in ask(user, slack, MANAGER, f"away <@{rep}>")
    assert [owner_of(bot, external_id=f"hs-{n}") for n in (1, 2)] == [REP_1, REP_1]

    clock.advance(hours=2)  # both hot leads' one-hour follow-up windows breach
    (told,) = eventually(lambda: [dm for dm in slack.dms(MANAGER) if "SLAs in a row" in dm["text"]])
    assert f"<@{REP_1}> missed 2 SLAs in a row" in told["text"]
    assert f"`/leads back <@{REP_1}>`" in told["text"]

    for rep in (REP_2, REP_3):
        assert "is back" in ask(user, slack, MANAGER, f"back <@{rep}>")
    assert owner_of(bot, external_id="hs-3") == REP_2
    assert f"skipped <@{REP_1}>: paused after 2 missed SLAs in a row, until `/leads back`" in ask(
        user, slack, MANAGER, "routing 3"
    )

    assert "You are back" in ask(user, slack, REP_1, "back")
    assert [owner_of(bot, external_id=f"hs-{n}") for n in (4, 5)] == [REP_1, REP_3]
