"""Configuration: settings from the environment (and .env), business rules from one TOML file.

Anything wrong stops start-up with a ConfigError whose message is one line naming the setting.
"""

from __future__ import annotations

import io
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from dotenv import load_dotenv
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url

from bot.slack_text import OPTIONS_LIMIT
from bot.text_files import UnreadableFile, decode_utf8

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DATABASE_URL = "sqlite:///baton.db"
DEFAULT_CONFIG_PATH = "baton.toml"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True)
class Settings:
    """Deployment settings: secrets and addresses, from environment variables."""

    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    database_url: str
    config_path: Path
    config_path_explicit: bool
    intake_token: str | None
    host: str
    port: int

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def require_serving(self) -> None:
        """Check what `baton serve` cannot run without."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is required to serve (the bot token, xoxb-...)")
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information page of the "
                "Slack app); or set SLACK_APP_TOKEN for Socket Mode"
            )
        if not self.intake_token:
            raise ConfigError(
                "BATON_INTAKE_TOKEN is required to serve (the bearer token of POST /api/leads)"
            )

    def __repr__(self) -> str:  # secrets never reach a log line through repr()
        return (
            f"Settings(database_url={redact_url(self.database_url)!r}, "
            f"slack_api_url={self.slack_api_url!r}, config_path={str(self.config_path)!r}, "
            f"socket_mode={self.socket_mode}, host={self.host!r}, port={self.port})"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment (after python-dotenv has loaded .env, see `load_dotenv_file`)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    bot_token = get("SLACK_BOT_TOKEN")
    if bot_token is not None and not bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    app_token = get("SLACK_APP_TOKEN")
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not re.match(r"^https?://[^/\s]+", api_url):
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL, got {api_url!r}")
    if not api_url.endswith("/"):
        api_url += "/"
    port_text = get("BATON_PORT") or str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"BATON_PORT must be a port number 1-65535, got {port_text!r}")
    database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    _check_database_url(database_url)
    config_path = get("BATON_CONFIG")
    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=get("SLACK_SIGNING_SECRET"),
        slack_app_token=app_token,
        slack_api_url=api_url,
        database_url=database_url,
        config_path=Path(config_path or DEFAULT_CONFIG_PATH),
        config_path_explicit=config_path is not None,
        intake_token=get("BATON_INTAKE_TOKEN"),
        host=get("BATON_HOST") or DEFAULT_HOST,
        port=int(port_text),
    )


def _check_database_url(url: str) -> None:
    """Refuse, before any connection is tried, a URL no installed driver can use."""
    problem = None
    if not re.match(r"^(sqlite(\+pysqlite)?|postgres(ql)?(\+psycopg)?)://", url):
        problem = "must be a sqlite:/// or postgresql:// URL"
    else:
        try:
            make_url(url)
        except ValueError:  # a port that is not a number, an unclosed [IPv6] host
            problem = "is not a valid URL (check its host and port)"
    if problem is not None:
        raise ConfigError(f"DATABASE_URL {problem}, got {redact_url(url)!r}")


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for a log line or an error message."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


# --------------------------------------------------------------------------- TOML rules


@dataclass(frozen=True)
class Window:
    """An SLA window as written in the TOML: an amount of minutes, hours or (working) days."""

    amount: int
    unit: Literal["m", "h", "d"]

    def as_timedelta(self, working_day: timedelta) -> timedelta:
        """Length of the window; a day is a working day in business hours, 24 h otherwise."""
        if self.unit == "m":
            return timedelta(minutes=self.amount)
        if self.unit == "h":
            return timedelta(hours=self.amount)
        return working_day * self.amount

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class ReminderPoint:
    """When to remind: a share of the window before its end ("25%") or a fixed time ("5m")."""

    share: float | None = None
    before: Window | None = None


_WINDOW_RE = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")


def _parse_window(value: Any) -> Window:
    if isinstance(value, Window):
        return value
    match = _WINDOW_RE.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"invalid duration {value!r} (use e.g. 15m, 4h, 1d)")
    return Window(int(match.group(1)), match.group(2))  # type: ignore[arg-type]


def _parse_reminder(value: Any) -> ReminderPoint:
    if isinstance(value, ReminderPoint):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        number = text[:-1].strip()
        if not number.replace(".", "", 1).isdigit() or not 0 < float(number) < 100:
            raise ValueError(f"invalid share {value!r} (use a percentage between 0 and 100)")
        return ReminderPoint(share=float(number) / 100)
    try:
        return ReminderPoint(before=_parse_window(text))
    except ValueError:
        raise ValueError(f"invalid reminder {value!r} (use e.g. 25% or 5m)") from None


def _parse_clock(value: Any) -> time:
    match = re.match(r"^([01]\d|2[0-3]):([0-5]\d)$", str(value))
    if not match:
        raise ValueError(f"invalid time {value!r} (use HH:MM, 24-hour)")
    return time(int(match.group(1)), int(match.group(2)))


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


WindowField = Annotated[Window, BeforeValidator(_parse_window)]
ClockField = Annotated[time, BeforeValidator(_parse_clock)]
Names = Annotated[list[str], BeforeValidator(_as_list)]


def _check_user_id(value: str) -> str:
    if not re.match(r"^[UW][A-Z0-9]{2,}$", value):
        raise ValueError(f"{value!r} is not a Slack user ID (like U0123ABCD)")
    return value


def _check_channel_id(value: str) -> str:
    if not re.match(r"^[CGD][A-Z0-9]{2,}$", value):
        raise ValueError(f"{value!r} is not a Slack channel ID (like C0123ABCD)")
    return value


UserId = Annotated[str, AfterValidator(_check_user_id)]
ChannelId = Annotated[str, AfterValidator(_check_channel_id)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Channels(_Strict):
    sales: ChannelId = "C0SALES0001"
    marketing: ChannelId | None = "C0MKTG00001"


class Roles(_Strict):
    managers: list[UserId] = Field(default_factory=list)
    manager_groups: list[str] = Field(default_factory=list)
    marketers: list[UserId] = Field(default_factory=list)


class Hours(_Strict):
    timezone: str = "America/New_York"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: ClockField = time(9, 0)
    end: ClockField = time(17, 0)
    holidays: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        days = [day.strip().lower()[:3] for day in value]
        unknown = [day for day, short in zip(value, days, strict=True) if short not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown day {unknown[0]!r} (use mon, tue, ... sun)")
        if not days:
            raise ValueError("needs at least one working day")
        return days

    @model_validator(mode="after")
    def _end_after_start(self) -> Hours:
        if self.end <= self.start:
            raise ValueError("end must be later than start")
        return self


class LeadMatch(_Strict):
    """Conditions on a lead's fields; every condition given must hold (values are any-of)."""

    source: Names | None = None
    campaign: Names | None = None
    intent: Names | None = None
    segment: Names | None = None
    country: Names | None = None
    industry: Names | None = None
    company_size: Names | None = None
    score_min: int | None = None
    score_max: int | None = None

    def matches(self, lead: Mapping[str, Any]) -> bool:
        for name in ("source", "campaign", "intent", "segment", "country", "industry"):
            wanted = getattr(self, name)
            if wanted is not None and _fold(lead.get(name)) not in {_fold(w) for w in wanted}:
                return False
        if self.company_size is not None and lead.get("company_size") not in self.company_size:
            return False
        score = lead.get("score")
        if self.score_min is not None and (score is None or score < self.score_min):
            return False
        return not (self.score_max is not None and (score is None or score > self.score_max))


def _fold(value: Any) -> str | None:
    return None if value is None else str(value).strip().casefold()


class SlaPolicy(_Strict):
    name: str
    match: LeadMatch | None = None
    claim: WindowField
    follow_up: WindowField
    remind_before: Annotated[ReminderPoint, BeforeValidator(_parse_reminder)] = ReminderPoint(
        share=0.25
    )
    business_hours: bool = True
    reopen_on_breach: bool = False
    remind_in_channel: bool = (
        False  # the claim reminder also shows in the channel, not only the thread
    )
    escalate_to: list[UserId] | None = None  # defaults to roles.managers
    escalation_channel: ChannelId | None = None


class Route(_Strict):
    match: LeadMatch
    channel: ChannelId


class Digest(_Strict):
    enabled: bool = True
    channel: ChannelId | None = None  # defaults to channels.marketing
    cron: str = "0 9 * * mon"


DEFAULT_REASONS: dict[str, str] = {
    "no_budget": "No budget",
    "bad_timing": "Bad timing",
    "no_authority": "Not a decision maker",
    "no_need": "No need",
    "not_icp": "Not our ideal customer",
    "bad_contact_data": "Bad contact data",
    "duplicate": "Duplicate",
    "existing_customer": "Existing customer",
    "competitor": "Competitor",
    "other": "Other (explain in the note)",
}

DEFAULT_POLICIES = (
    SlaPolicy(
        name="hot",
        match=LeadMatch(intent=["demo_request", "pricing", "contact_sales"]),
        claim=Window(15, "m"),
        follow_up=Window(1, "h"),
        remind_before=ReminderPoint(before=Window(5, "m")),
        business_hours=False,
    ),
    SlaPolicy(
        name="standard",
        claim=Window(4, "h"),
        follow_up=Window(1, "d"),
        remind_before=ReminderPoint(share=0.25),
        business_hours=True,
        reopen_on_breach=True,
    ),
)


class Rules(_Strict):
    """Business rules: who, where, and how fast, as the TOML file states them."""

    channels: Channels = Channels()
    roles: Roles = Roles()
    hours: Hours = Hours()
    sla: list[SlaPolicy] = Field(default_factory=lambda: list(DEFAULT_POLICIES))
    routes: list[Route] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REASONS))
    digest: Digest = Digest()

    @field_validator("sla")
    @classmethod
    def _default_policy_last(cls, policies: list[SlaPolicy]) -> list[SlaPolicy]:
        if not policies:
            raise ValueError("needs at least one policy")
        if policies[-1].match is not None:
            raise ValueError("the last policy must have no `match`: it is the default")
        names = [policy.name for policy in policies]
        if len(set(names)) != len(names):
            raise ValueError("policy names must be unique")
        return policies

    @field_validator("reasons")
    @classmethod
    def _valid_reasons(cls, reasons: dict[str, str]) -> dict[str, str]:
        if not reasons:
            raise ValueError("needs at least one reason")
        if len(reasons) > OPTIONS_LIMIT:  # the reject form offers them in one Slack menu
            raise ValueError(f"at most {OPTIONS_LIMIT} reasons (the reject form lists no more)")
        for code, label in reasons.items():
            if not re.match(r"^[a-z][a-z0-9_]{0,63}$", code):
                raise ValueError(f"reason code {code!r} must be lower_snake_case")
            if not 0 < len(label) <= 75:
                raise ValueError(f"label of {code!r} must be 1-75 characters")
        return reasons

    @model_validator(mode="after")
    def _valid_cron(self) -> Rules:
        try:
            CronTrigger.from_crontab(self.digest.cron, timezone=ZoneInfo(self.hours.timezone))
        except ValueError as error:
            raise ValueError(
                f"digest.cron {self.digest.cron!r} is not a cron line: {error}"
            ) from None
        return self

    @property
    def digest_channel(self) -> str | None:
        return self.digest.channel or self.channels.marketing


def load_rules(path: Path, *, explicit: bool) -> Rules:
    """Read the TOML rules; a missing file is fine only when nobody named it (defaults apply)."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"BATON_CONFIG: file {str(path)!r} does not exist")
        return Rules()
    try:
        data = tomllib.loads(decode_utf8(path.read_bytes()))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnreadableFile as error:
        raise ConfigError(f"{path}:{error.line}: {error.problem}") from None
    except OSError as error:
        raise ConfigError(f"BATON_CONFIG: cannot read {str(path)!r}: {error.strerror}") from None
    return parse_rules(data, source=str(path))


def parse_rules(data: dict[str, Any], *, source: str) -> Rules:
    try:
        return Rules.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {describe_validation_error(error)}") from None


def describe_validation_error(error: ValidationError) -> str:
    """All of pydantic's complaints on one line, each led by the dotted path of the setting."""
    parts = []
    for problem in error.errors():
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        ).lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting"
        parts.append(f"{path}: {message}" if path else message)
    return "; ".join(parts)


@dataclass(frozen=True)
class Config:
    settings: Settings
    rules: Rules


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    settings = load_settings(environ)
    return Config(
        settings, load_rules(settings.config_path, explicit=settings.config_path_explicit)
    )


def load_dotenv_file(path: str = ".env") -> None:
    """Load `.env` into the environment without overriding what is already set; no file, no
    settings."""
    try:
        text = decode_utf8(Path(path).read_bytes())
    except FileNotFoundError:
        return
    except UnreadableFile as error:
        raise ConfigError(f"{path}:{error.line}: {error.problem}") from None
    except OSError as error:
        raise ConfigError(f"--env-file: cannot read {path!r}: {error.strerror}") from None
    load_dotenv(stream=io.StringIO(text), override=False)
