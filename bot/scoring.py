"""The team's scoring model (`[scoring]` in baton.toml): what makes a lead an MQL and an SQL,
from who it is (fit rules on its fields) and what it did (engagement rules on its activities,
worth less as they age), with required criteria and fast lanes.

Checked whole when the rules are read (bot.rules); `score(lead, now=...)` is pure: it reads
no clock and no database, so the same lead and moment always give the same score.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.score_explanation import Contribution, Criterion, Part, Score, Verdict

# The lead fields a rule may test (bot.intake.LeadInput's text fields).
SCORED_FIELDS = (
    "name",
    "email",
    "phone",
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "segment",
    "source",
    "campaign",
    "intent",
    "budget",
    "authority",
    "need",
    "timeline",
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_DAYS = re.compile(r"^\s*([1-9]\d{0,3})\s*([dw])\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _known_field(name: str) -> str:
    if name not in SCORED_FIELDS:
        raise ValueError(f"unknown lead field {name!r} (one of {', '.join(SCORED_FIELDS)})")
    return name


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _words(values: list[str]) -> list[str]:
    if not values or not all(value.strip() for value in values):
        raise ValueError("needs at least one non-blank value")
    return values


def _days(value: Any) -> timedelta:
    """`"90d"`, `"12w"`: a time of whole days or weeks (up to 9999)."""
    match = _DAYS.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError('must be a number of days or weeks, e.g. "90d" or "12w"')
    amount = int(match.group(1))
    return timedelta(days=amount if match.group(2) == "d" else amount * 7)


LeadField = Annotated[str, AfterValidator(_known_field)]
Words = Annotated[list[str], BeforeValidator(_as_list), AfterValidator(_words)]
Label = Annotated[str, Field(min_length=1, max_length=80)]
HalfLife = Annotated[float, Field(gt=0, le=3650)]


def _fold(value: Any) -> str:
    return str(value).strip().casefold()


def _known(value: Any) -> bool:
    return value is not None and bool(str(value).strip())


def first_number(text: Any) -> float | None:
    """The first number written in a field: `250` → 250, `201-500` → 201, `1,000+` → 1000."""
    match = _NUMBER.search(str(text)) if _known(text) else None
    return float(match.group().replace(",", "")) if match else None


class FieldTest(_Strict):
    """A test of one lead field, ignoring case: equals one of, contains one of, a number
    within bounds (the first number in the text), or known (present and not blank)."""

    field: LeadField
    equals: Words | None = None
    contains: Words | None = None
    at_least: float | None = None
    below: float | None = None
    known: bool | None = None

    @model_validator(mode="after")
    def _one_test(self) -> FieldTest:
        given = [
            name
            for name, value in (
                ("equals", self.equals),
                ("contains", self.contains),
                ("at_least/below", self.at_least if self.below is None else self.below),
                ("known", self.known),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one test: equals, contains, at_least/below or known")
        if self.at_least is not None and self.below is not None and self.below <= self.at_least:
            raise ValueError("below must be more than at_least")
        return self

    def holds(self, lead: Mapping[str, Any]) -> bool:
        value = lead.get(self.field)
        if self.known is not None:
            return _known(value) == self.known
        if not _known(value):
            return False
        if self.equals is not None:
            return _fold(value) in {_fold(word) for word in self.equals}
        if self.contains is not None:
            return any(_fold(word) in _fold(value) for word in self.contains)
        number = first_number(value)
        if number is None:
            return False
        return (self.at_least is None or number >= self.at_least) and (
            self.below is None or number < self.below
        )

    def describe(self) -> str:
        """`title contains VP, Director`, `company_size 50 to under 200`, `need known`."""
        if self.known is not None:
            return f"{self.field} {'known' if self.known else 'unknown'}"
        if self.equals is not None:
            return f"{self.field} is {', '.join(self.equals)}"
        if self.contains is not None:
            return f"{self.field} contains {', '.join(self.contains)}"
        if self.below is None:
            return f"{self.field} ≥ {self.at_least:g}"
        if self.at_least is None:
            return f"{self.field} < {self.below:g}"
        return f"{self.field} {self.at_least:g} to under {self.below:g}"


class FitRule(FieldTest):
    """Points for who the lead is, when its test holds (negative for a poor fit)."""

    name: Label | None = None
    points: int = Field(ge=-100, le=100)

    @property
    def label(self) -> str:
        return self.name or self.describe()


class EngagementRule(_Strict):
    """Points for each activity of these types, each worth less as it ages; at most `cap`
    points (either way) from this rule."""

    activity: Words
    name: Label | None = None
    points: int = Field(ge=-100, le=100)
    cap: int | None = Field(default=None, ge=1, le=100)
    half_life_days: HalfLife | None = None  # overrides the model's

    @property
    def label(self) -> str:
        return self.name or ", ".join(self.activity)


class FastLane(_Strict):
    """What makes a lead an SQL whatever its score and criteria: an activity of these types, or
    a field test (`when = { field = "intent", equals = "contact_sales" }`)."""

    name: Label | None = None
    activity: Words | None = None
    when: FieldTest | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> FastLane:
        if (self.activity is None) == (self.when is None):
            raise ValueError("give either activity or when")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.when is not None:
            return self.when.describe()
        return ", ".join(self.activity or ())

    def applies(self, lead: Mapping[str, Any], activity_types: set[str]) -> bool:
        if self.activity is not None:
            return any(_fold(kind) in activity_types for kind in self.activity)
        assert self.when is not None
        return self.when.holds(lead)


class ScoringModel(_Strict):
    """Thresholds, rules and criteria; a lead's score is its fit and engagement points,
    kept between 0 and 100."""

    mql: int = Field(ge=0, le=100)
    sql: int = Field(ge=1, le=100)
    required: list[LeadField] = Field(default_factory=list)
    # Engagement halves every this many days (whole days of age); none: it never decays.
    half_life_days: HalfLife | None = None
    fit: list[FitRule] = Field(default_factory=list)
    engagement: list[EngagementRule] = Field(default_factory=list)
    fast_lanes: list[FastLane] = Field(default_factory=list)
    # The acceptance rate the team aims for: `/leads tune` says from which score it is reached.
    target_acceptance: float | None = Field(default=None, gt=0, le=1)
    # An MQL with no new activity for this long is recycled (bot.mql_upkeep); none: never.
    recycle_after: Annotated[timedelta, BeforeValidator(_days)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ScoringModel:
        if self.mql > self.sql:
            raise ValueError(f"mql ({self.mql}) must not be above sql ({self.sql})")
        if not self.fit and not self.engagement:
            raise ValueError("needs at least one fit or engagement rule")
        seen: set[str] = set()
        for rule in self.engagement:
            for kind in map(_fold, rule.activity):
                if kind in seen:
                    raise ValueError(f"activity {kind!r} is in two engagement rules")
                seen.add(kind)
        return self

    def score(self, lead: Mapping[str, Any], *, now: datetime) -> Score:
        """The lead's score at `now` and why. `lead` holds its fields as intake stores them
        (activities as `{"type", "detail", "at"}` with `at` ISO text; one without a time
        counts as new)."""
        activities = _activities(lead.get("activities"), now)
        contributions = [
            Contribution(Part.FIT, rule.label, rule.points) for rule in self.fit if rule.holds(lead)
        ]
        for rule in self.engagement:
            contribution = self._engagement(rule, activities)
            if contribution is not None:
                contributions.append(contribution)
        total = min(100, max(0, sum(c.points for c in contributions)))
        criteria = tuple(Criterion(name, _known(lead.get(name))) for name in self.required)
        types = {kind for kind, _ in activities}
        lane = next((lane.label for lane in self.fast_lanes if lane.applies(lead, types)), None)
        return Score(
            total=total,
            verdict=self._verdict(total, criteria, lane),
            mql=self.mql,
            sql=self.sql,
            contributions=tuple(contributions),
            criteria=criteria,
            fast_lane=lane,
            sender_score=_sender_score(lead.get("score")),
        )

    def _engagement(
        self, rule: EngagementRule, activities: Sequence[tuple[str, int]]
    ) -> Contribution | None:
        kinds = {_fold(kind) for kind in rule.activity}
        ages = [age for kind, age in activities if kind in kinds]
        if not ages:
            return None
        half_life = rule.half_life_days or self.half_life_days
        raw = sum(rule.points * decay(age, half_life) for age in ages)
        capped = rule.cap is not None and abs(raw) > rule.cap
        if rule.cap is not None and capped:
            raw = math.copysign(rule.cap, raw)
        return Contribution(Part.ENGAGEMENT, rule.label, _rounded(raw), len(ages), capped)

    def _verdict(self, total: int, criteria: Sequence[Criterion], lane: str | None) -> Verdict:
        if lane is not None or (total >= self.sql and all(c.met for c in criteria)):
            return Verdict.SQL
        return Verdict.MQL if total >= self.mql else Verdict.UNQUALIFIED


def decay(age_days: int, half_life_days: float | None) -> float:
    """What share of its points an activity `age_days` whole days old still gives."""
    return 1.0 if half_life_days is None else 0.5 ** (max(0, age_days) / half_life_days)


def _rounded(points: float) -> int:
    """Half away from zero, so +2.5 and -2.5 read as 3 and -3 alike."""
    return int(math.copysign(math.floor(abs(points) + 0.5), points))


def _activities(value: Any, now: datetime) -> list[tuple[str, int]]:
    """Each activity's type (folded) and age in whole days at `now` (0 for one without a time,
    or one dated after `now`)."""
    activities = []
    for item in value if isinstance(value, list) else ():
        if isinstance(item, Mapping) and _known(item.get("type")):
            at = _moment(item.get("at"))
            age = 0 if at is None else max(0, (now - at).days)
            activities.append((_fold(item["type"]), age))
    return activities


def latest_activity_at(value: Any, *, received: datetime) -> datetime | None:
    """When the latest of these activities happened (one without a time, or dated after
    `received`, happened when received); None without activities."""
    moments = [
        min(_moment(item.get("at")) or received, received)
        for item in (value if isinstance(value, list) else ())
        if isinstance(item, Mapping)
    ]
    return max(moments, default=None)


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sender_score(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def scored_fields(
    model: ScoringModel | None, fields: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """A lead's fields as stored: with a model, its score is the model's and the reasons are
    kept beside it (`score_explanation`); without one, the sender's score stands."""
    if model is None:
        return dict(fields)
    score = model.score(fields, now=now)
    return {**fields, "score": score.total, "score_explanation": score.to_json()}
