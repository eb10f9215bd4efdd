"""Who and what exists in the emulated workspace: team, bot, users, channels, user groups."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SALES_CHANNEL = "C0SALES0001"
MARKETING_CHANNEL = "C0MKTG00001"
REP_1 = "U0REP000001"
REP_2 = "U0REP000002"
MANAGER = "U0MANAGER01"
MARKETER = "U0MARKETER1"
SALES_REPS_GROUP = "S0SALESREPS"


@dataclass(frozen=True)
class Team:
    id: str = "T0BATON0001"
    name: str = "Baton Demo"
    domain: str = "baton-demo"


@dataclass(frozen=True)
class Bot:
    """The app's bot user, answered by auth.test and written as author of bot messages."""

    user_id: str = "U0BATONBOT1"
    name: str = "baton"
    bot_id: str = "B0BATONBOT1"
    app_id: str = "A0BATONAPP1"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    tz: str = "America/New_York"
    is_bot: bool = False
    deleted: bool = False  # deactivated: still known to users.info, no DMs
    status_text: str = ""
    status_emoji: str = ""
    status_expiration: int = 0  # epoch seconds; 0: the status does not expire

    def email(self, team_id: str) -> str:
        return f"{self.name}@{team_id.lower()}.example.com"

    def to_api(self, team_id: str, now: float) -> dict[str, Any]:
        """The user object as users.info and users.list return it."""
        zone = ZoneInfo(self.tz)
        offset = datetime.fromtimestamp(now, zone).utcoffset()
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": datetime.fromtimestamp(now, zone).tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_bot": self.is_bot,
            "is_admin": False,
            "is_app_user": False,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "email": self.email(team_id),
                "team": team_id,
                "status_text": self.status_text,
                "status_emoji": self.status_emoji,
                "status_expiration": self.status_expiration,
            },
        }


@dataclass(frozen=True)
class Channel:
    """A conversation; `user` is set for DMs, `members` None means every human user."""

    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_archived: bool = False
    members: tuple[str, ...] | None = None
    user: str | None = None

    @property
    def is_im(self) -> bool:
        return self.user is not None

    def has_member(self, user_id: str) -> bool:
        if self.is_im:
            return user_id == self.user
        return self.members is None or user_id in self.members

    def to_api(self) -> dict[str, Any]:
        """The channel object as conversations.info returns it."""
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.user, "is_open": True}
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.is_member,
        }


@dataclass(frozen=True)
class Usergroup:
    id: str
    handle: str
    users: tuple[str, ...]


def default_users() -> tuple[User, ...]:
    return (
        User(REP_1, "alice", "Alice Rep"),
        User(REP_2, "bob", "Bob Rep", tz="America/Chicago"),
        User(MANAGER, "maria", "Maria Manager"),
        User(MARKETER, "mark", "Mark Marketer", tz="Europe/London"),
    )


def default_channels() -> tuple[Channel, ...]:
    return (Channel(SALES_CHANNEL, "sales"), Channel(MARKETING_CHANNEL, "marketing"))


def default_usergroups() -> tuple[Usergroup, ...]:
    return (Usergroup(SALES_REPS_GROUP, "sales-reps", (REP_1, REP_2)),)


@dataclass(frozen=True)
class Workspace:
    """The seed of an emulator; the bot user is added to `users` automatically."""

    team: Team = field(default_factory=Team)
    bot: Bot = field(default_factory=Bot)
    users: tuple[User, ...] = field(default_factory=default_users)
    channels: tuple[Channel, ...] = field(default_factory=default_channels)
    usergroups: tuple[Usergroup, ...] = field(default_factory=default_usergroups)

    def bot_user(self) -> User:
        return User(self.bot.user_id, self.bot.name, self.bot.name.title(), is_bot=True)
