"""What Slack says of a rep decides their availability: an away status until it expires, and
their own time zone for the route's working hours unless the route names one."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.availability import RepRules, Shift, unavailable_reason
from bot.rep_directory import SlackProfile

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
AWAY = (":palm_tree:", "Out sick")


def rules(**overrides: object) -> RepRules:
    values: dict[str, object] = {
        "shift": None,
        "timezones": {},
        "capacity": None,
        "team_timezone": ZoneInfo("America/New_York"),
        "away_statuses": AWAY,
    }
    return RepRules(**{**values, **overrides})  # type: ignore[arg-type]


def reason(profile: SlackProfile, **overrides: object) -> str | None:
    return unavailable_reason(
        "U1", away=None, open_leads=0, rules=rules(**overrides), now=NOW, profile=profile
    )


@pytest.mark.parametrize(
    ("emoji", "text", "away"),
    [
        (":palm_tree:", "Vacationing", True),
        ("", "out SICK with the flu", True),  # text it starts with, in any case
        (":palm_tree:", "", True),
        (":coffee:", "Vacationing", False),
        ("", "Not out sick", False),
        ("", "", False),
    ],
)
def test_an_away_status_is_matched_by_emoji_or_leading_text(
    emoji: str, text: str, away: bool
) -> None:
    found = reason(SlackProfile(status_emoji=emoji, status_text=text))
    assert (found is not None) == away
    if away:
        assert found == f"Slack status {' '.join(p for p in (emoji, text) if p)}"


def test_an_away_status_counts_until_it_expires() -> None:
    expires = NOW + timedelta(hours=1)
    profile = SlackProfile(
        timezone="Europe/Berlin", status_emoji=":palm_tree:", status_expires=expires
    )
    assert reason(profile) == "Slack status :palm_tree: until Tue 24 Nov 17:00"  # Berlin time
    assert reason(SlackProfile(status_emoji=":palm_tree:", status_expires=NOW)) is None
    assert reason(profile, away_statuses=()) is None  # the route reads no statuses


def test_working_hours_are_read_in_the_route_zone_else_slack_else_the_team() -> None:
    shift = Shift(days=frozenset(range(5)), start=time(9), end=time(17))
    tokyo = SlackProfile(timezone="Asia/Tokyo")  # 00:00 Wednesday there
    assert "Asia/Tokyo, Wed 00:00" in (reason(tokyo, shift=shift) or "")
    berlin = {"U1": ZoneInfo("Europe/Berlin")}  # 16:00 there: on shift
    assert reason(tokyo, shift=shift, timezones=berlin) is None
    assert reason(SlackProfile(timezone="Mars/Olympus"), shift=shift) is None  # team's: 10:00
