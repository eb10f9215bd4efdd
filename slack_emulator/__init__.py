"""A local Slack Web API emulator over real HTTP (its users are played by `slack_driver`)."""

from slack_emulator.clock import FastClock, ManualClock
from slack_emulator.emulator import (
    DEFAULT_APP_TOKEN,
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    DEFAULT_VERIFICATION_TOKEN,
    SlackEmulator,
)
from slack_emulator.errors import SlackError
from slack_emulator.faults import Fault
from slack_emulator.ratelimits import Rate, RateLimits
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
    "FastClock",
    "Fault",
    "ManualClock",
    "Rate",
    "RateLimits",
    "SlackEmulator",
    "SlackError",
    "Team",
    "User",
    "Usergroup",
    "Workspace",
]
