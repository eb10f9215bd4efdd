"""A local Slack Web API emulator over real HTTP, and a driver that plays Slack users."""

from slack_emulator.clock import ManualClock
from slack_emulator.driver import SlackUser
from slack_emulator.emulator import (
    DEFAULT_APP_TOKEN,
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    DEFAULT_VERIFICATION_TOKEN,
    SlackEmulator,
)
from slack_emulator.errors import SlackError
from slack_emulator.faults import Fault
from slack_emulator.signing import Delivery
from slack_emulator.store import Call
from slack_emulator.workspace import (
    MANAGER,
    MARKETER,
    MARKETING_CHANNEL,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SALES_REPS_GROUP,
    Bot,
    Channel,
    Team,
    User,
    Usergroup,
    Workspace,
)

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_SIGNING_SECRET",
    "DEFAULT_TOKEN",
    "DEFAULT_VERIFICATION_TOKEN",
    "MANAGER",
    "MARKETER",
    "MARKETING_CHANNEL",
    "REP_1",
    "REP_2",
    "SALES_CHANNEL",
    "SALES_REPS_GROUP",
    "Bot",
    "Call",
    "Channel",
    "Delivery",
    "Fault",
    "ManualClock",
    "SlackEmulator",
    "SlackError",
    "SlackUser",
    "Team",
    "User",
    "Usergroup",
    "Workspace",
]
