"""The team's rules (channels, roles, business hours, SLA policies, routes, reasons, the digest),
as one TOML file states them, checked whole before Baton starts.

Anything wrong raises a ConfigError whose message is one line naming the key. Reading the file
is the adapters' part (handlers.config): this module takes its text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.availability import RepRules, Shift
from bot.business_hours import WEEKDAYS, WorkingCalendar, closed_days, parse_clock, parse_weekday
from bot.hook_mapping import HookSource, check_sources
from bot.hubspot import HubSpotRules
from bot.scoring import ScoringModel
from bot.slack_text import OPTIONS_LIMIT, is_user_id
from bot.validation import one_line
from bot.webhooks import WebhookEndpoint, check_endpoints


class ConfigError(Exception):
    """A setting is missing or wrong; the message names it and says what is expected."""


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


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


WindowField = Annotated[Window, BeforeValidator(_parse_window)]
ClockField = Annotated[time, BeforeValidator(parse_clock)]
Names = Annotated[list[str], BeforeValidator(_as_list)]


def _check_user_id(value: str) -> str:
    if not is_user_id(value):
        raise ValueError(f"{value!r} is not a Slack user ID (like U0123ABCD)")
    return value


def _check_channel_id(value: str) -> str:
    if not re.match(r"^[CGD][A-Z0-9]{2,}$", value):
        raise ValueError(f"{value!r} is not a Slack channel ID (like C0123ABCD)")
    return value


UserId = Annotated[str, AfterValidator(_check_user_id)]
ChannelId = Annotated[str, AfterValidator(_check_channel_id)]


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
    return value


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
    # Built once, when the hours are checked, and pickled with them: a process the rules are
    # handed to (the delivery process) never looks the holidays up again.
    _calendar: WorkingCalendar | None = PrivateAttr(None)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        return [parse_weekday(day) for day in value]

    @model_validator(mode="after")
    def _a_working_calendar(self) -> Hours:
        # Its own checks: a working day, end after start, a known holiday country.
        self._calendar = self._build_calendar()
        return self

    def calendar(self) -> WorkingCalendar:
        """The team's working calendar, from these already checked hours."""
        if self._calendar is None:  # hours built without validation
            self._calendar = self._build_calendar()
        return self._calendar

    def _build_calendar(self) -> WorkingCalendar:
        return WorkingCalendar(
            timezone=ZoneInfo(self.timezone),
            days=frozenset(WEEKDAYS.index(day) for day in self.days),
            start=self.start,
            end=self.end,
            holidays=closed_days(self.holidays, self.holiday_subdivision, self.extra_holidays),
        )


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
    emoji: str | None = Field(default=None, max_length=32)  # before the name on the card
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


class WorkingHours(_Strict):
    """A route's shift: when its reps take leads, read in each rep's own time zone."""

    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: ClockField = time(9, 0)
    end: ClockField = time(17, 0)

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one working day")
        return [parse_weekday(day) for day in value]

    @model_validator(mode="after")
    def _end_after_start(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(f"end {self.end:%H:%M} must be after start {self.start:%H:%M}")
        return self

    def shift(self) -> Shift:
        return Shift(
            days=frozenset(WEEKDAYS.index(day) for day in self.days),
            start=self.start,
            end=self.end,
        )


class Route(_Strict):
    """Where matching leads go (every lead, without `match`), and how a rep gets them:
    `channel`, the first click in the channel wins; `assign`, the rotation of `pool` picks the
    rep (bot.assignment) and the card shows them as the owner; `offer`, the rotation picks a
    rep who may take it or pass, `offer_tries` reps at most, each for `offer_timeout` of wall
    clock (bot.offers), before the channel's first click wins; `owner`, the lead's CRM owner
    (its `owner_email`, as Slack knows them) gets it, else the route's `fallback` mode does."""

    name: str | None = Field(default=None, min_length=1, max_length=64)
    match: LeadMatch | None = None
    channel: ChannelId
    mode: Literal["channel", "assign", "offer", "owner"] = "channel"
    fallback: Literal["channel", "assign"] = "channel"  # `owner` mode's, when the owner can't
    pool: list[UserId] = Field(default_factory=list)
    weights: dict[str, Annotated[float, Field(gt=0, le=100)]] = Field(default_factory=dict)
    capacity: int | None = Field(default=None, ge=1, le=1000)
    working_hours: WorkingHours | None = None
    timezones: dict[str, str] = Field(default_factory=dict)  # a rep's own zone, by user ID
    # A rep whose Slack status (its emoji, or text it starts with) is one of these is away.
    away_statuses: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list
    )
    team_leads: list[UserId] = Field(default_factory=list)  # may set the pool's availability
    # Pause a rep whose leads of this route breached this many SLAs in a row (None: never).
    pause_after_missed: int | None = Field(default=None, ge=1, le=100)
    offer_timeout: WindowField = Window(5, "m")
    offer_tries: int = Field(default=3, ge=1, le=100)

    @field_validator("timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for zone in value.values():
            _known_zone(zone)
        return value

    @model_validator(mode="after")
    def _workable_pool(self) -> Route:
        if self.uses_pool and not self.pool:
            how = self.mode if self.mode != "owner" else 'owner", fallback = "assign'
            raise ValueError(f'route to {self.channel}: mode = "{how}" needs a `pool` of reps')
        for key, named in (("weights", self.weights), ("timezones", self.timezones)):
            strangers = sorted(set(named) - set(self.pool))
            if strangers:
                raise ValueError(
                    f"route to {self.channel}: {key} names {strangers[0]!r}, not in its pool"
                )
        return self

    @property
    def pool_key(self) -> str:
        """What the rotation's pointers are kept under: the route's name, else its channel."""
        return self.name or self.channel

    @property
    def assigns(self) -> bool:
        """Whether Baton picks the rep (any mode but `channel`)."""
        return self.mode != "channel"

    @property
    def uses_pool(self) -> bool:
        """Whether the rotation of `pool` may pick the rep: `assign`, `offer`, or `owner`
        falling back to `assign` (else: the channel's first click, or the CRM owner only)."""
        return self.mode in ("assign", "offer") or (
            self.mode == "owner" and self.fallback == "assign"
        )

    @property
    def offer_wait(self) -> timedelta:
        """How long an offer waits for its rep: wall clock (a day is 24 hours), since a rep is
        offered a lead only while on shift."""
        return self.offer_timeout.as_timedelta(timedelta(days=1))

    def rep_rules(self, team_timezone: str) -> RepRules:
        return RepRules(
            shift=self.working_hours.shift() if self.working_hours else None,
            timezones={rep: ZoneInfo(zone) for rep, zone in self.timezones.items()},
            capacity=self.capacity,
            team_timezone=ZoneInfo(team_timezone),
            away_statuses=tuple(self.away_statuses),
        )


class Intake(_Strict):
    """How `POST /api/leads` treats fields Baton does not know: kept with the lead (as a
    sender's extra data, capped in size), or refused with a 422 (strict mode)."""

    unknown_fields: Literal["keep", "refuse"] = "keep"

    @property
    def keeps_unknown_fields(self) -> bool:
        return self.unknown_fields == "keep"


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
        emoji="🔥",
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
    """Business rules: who, where, how fast and what qualifies, as the TOML file states them."""

    channels: Channels = Channels()
    roles: Roles = Roles()
    hours: Hours = Hours()
    sla: list[SlaPolicy] = Field(default_factory=lambda: list(DEFAULT_POLICIES))
    routes: list[Route] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REASONS))
    digest: Digest = Digest()
    intake: Intake = Intake()
    hooks: dict[str, HookSource] = Field(default_factory=dict)  # inbound senders by name
    webhooks: list[WebhookEndpoint] = Field(default_factory=list)  # outbound, `[[webhooks]]`
    # What makes a lead an MQL and an SQL; none: the sender's score stands (bot.scoring).
    scoring: ScoringModel | None = None
    hubspot: HubSpotRules = HubSpotRules()  # the write-back, on with HUBSPOT_ACCESS_TOKEN
    # How long whoever accepted or rejected a lead may take it back with Undo.
    undo_minutes: int = Field(default=5, ge=1, le=60)

    @field_validator("webhooks")
    @classmethod
    def _distinct_webhooks(cls, endpoints: list[WebhookEndpoint]) -> list[WebhookEndpoint]:
        check_endpoints(endpoints)
        return endpoints

    @property
    def undo_window(self) -> timedelta:
        return timedelta(minutes=self.undo_minutes)

    @field_validator("hooks")
    @classmethod
    def _workable_hooks(cls, hooks: dict[str, HookSource]) -> dict[str, HookSource]:
        check_sources(hooks)
        return hooks

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
    def policy_emojis(self) -> dict[str, str]:
        """The emoji the card shows before each policy's name, for the policies that have one."""
        return {policy.name: policy.emoji for policy in self.sla if policy.emoji}

    @property
    def digest_channel(self) -> str | None:
        return self.digest.channel or self.channels.marketing


def rules_from_toml(text: str, *, source: str) -> Rules:
    """The rules a TOML text states; `source` (the file's name) leads any error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    return parse_rules(data, source=source)


def parse_rules(data: dict[str, Any], *, source: str) -> Rules:
    try:
        return Rules.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{source}: {one_line(error)}") from None
