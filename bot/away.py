"""Marking reps away from routing and back (`/leads away`, `/leads back`): a rep for
themselves, a manager for anyone, a route's team lead for the reps of that route's pool."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.availability import Away
from bot.business_hours import WEEKDAYS
from bot.errors import InvalidInput, NotAllowed
from bot.lifecycle import Actor
from bot.rules import Rules
from bot.slack_text import mention
from storage import routing as routing_store

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DAY_WORDS = "a date like 2026-12-04, a weekday like `fri`, or `tomorrow`"


def return_day(word: str, *, today: date) -> date:
    """The day a rep is back, as typed: an ISO date after today, a weekday (its next one), or
    `tomorrow`; InvalidInput naming `until` otherwise."""
    text = word.strip().lower()
    if text == "tomorrow":
        return today + timedelta(days=1)
    if text[:3] in WEEKDAYS and text.isalpha():
        ahead = (WEEKDAYS.index(text[:3]) - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=ahead)
    if _ISO_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None and day > today:
            return day
        if day is not None:
            raise InvalidInput({"until": f"{day:%Y-%m-%d} is not after today"})
    raise InvalidInput({"until": f"say when the rep is back: {DAY_WORDS}"})


def check_may_set(rules: Rules, actor: Actor, rep: str) -> None:
    """Only the rep, a manager, or a team lead of a route whose pool holds the rep."""
    if actor.id == rep or actor.is_manager:
        return
    if any(actor.id in route.team_leads and rep in route.pool for route in rules.routes):
        return
    raise NotAllowed(
        f"Only {mention(rep)}, a manager or their team lead can say whether they are away."
    )


def mark_away(
    session: Session,
    *,
    rules: Rules,
    actor: Actor,
    rep: str,
    until_word: str | None,
    now: datetime,
) -> Away:
    """Mark `rep` away until the start of the day named (in the team's time zone), or until
    they are back; routing skips them meanwhile."""
    check_may_set(rules, actor, rep)
    zone = ZoneInfo(rules.hours.timezone)
    until = None
    if until_word is not None:
        day = return_day(until_word, today=now.astimezone(zone).date())
        until = datetime.combine(day, time(0), tzinfo=zone)
    routing_store.mark_away(session, user_id=rep, until=until, set_by=actor.id, now=now)
    return Away(until, actor.id)


def mark_back(session: Session, *, rules: Rules, actor: Actor, rep: str) -> bool:
    """Routing takes `rep` again; whether they had been marked away."""
    check_may_set(rules, actor, rep)
    return routing_store.mark_back(session, user_id=rep)
