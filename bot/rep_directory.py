"""What Slack says about a rep, as routing reads it: their time zone and status, and which
Slack user has an email (a lead's CRM owner).

The adapter (handlers.slack_directory) keeps this in memory, read from Slack in the background
and as Slack announces changes, so routing never waits for Slack. A rep Slack has told nothing
about yet has no profile: routing then goes by the rules alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.slack_text import as_utc


@dataclass(frozen=True)
class SlackProfile:
    """A rep's Slack time zone (an IANA name) and status; `status_expires` None: no expiry."""

    timezone: str | None = None
    status_text: str = ""
    status_emoji: str = ""
    status_expires: datetime | None = None

    def zone(self) -> ZoneInfo | None:
        """The rep's own time zone, when Slack names one Python knows."""
        if not self.timezone:
            return None
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return None

    def away_status(self, away_statuses: Sequence[str], now: datetime) -> str | None:
        """The status as shown (its emoji code, then its text) when it is one of `away_statuses`
        (its emoji, or words its text starts with, in any case) and has not expired."""
        if self.status_expires is not None and as_utc(now) >= as_utc(self.status_expires):
            return None
        text = self.status_text.strip().casefold()
        for wanted in away_statuses:
            if wanted == self.status_emoji or (text and text.startswith(wanted.casefold())):
                return " ".join(part for part in (self.status_emoji, self.status_text) if part)
        return None


class Directory(Protocol):
    """Slack's answers routing may ask for, from memory (see the module docstring)."""

    def profile(self, user_id: str) -> SlackProfile | None: ...

    def user_by_email(self, email: str) -> str | None: ...


class NoDirectory:
    """Where Slack is not at hand (the CLI's imports): no profiles, nobody found by email."""

    def profile(self, user_id: str) -> SlackProfile | None:
        return None

    def user_by_email(self, email: str) -> str | None:
        return None
