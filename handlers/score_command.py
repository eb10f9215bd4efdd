"""`baton score LEAD.json`: the score the team's scoring model gives a lead, and why, before any
lead is sent; `baton score --replay`: what the model would have made of the leads stored."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import intake, json_input
from bot.errors import BatonError, InvalidInput
from bot.periods import parse_period
from bot.replay import replay, replay_lines
from bot.rules import Rules
from bot.score_explanation import breakdown
from storage.db import Database


class CannotScore(Exception):
    """The lead file cannot be read, or holds a lead intake would refuse; the message is the
    one line to show."""


def explanation(path: Path, rules: Rules, *, config_path: Path, now: datetime) -> str:
    """The explanation of the score of the lead in `path` at `now`, line by line; without a
    model in `rules` (read from `config_path`), that the sender's score stands."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CannotScore(f"cannot read {path}: {error.strerror}") from None
    try:
        lead = intake.validate_lead(
            json_input.parse(data), keep_unknown=rules.intake.keeps_unknown_fields
        )
    except BatonError as error:  # broken JSON, or a lead intake would refuse (422)
        raise CannotScore(f"{path}: {error}") from None
    fields = lead.to_fields()
    if rules.scoring is None:
        sender = "none" if fields["score"] is None else fields["score"]
        return (
            f"no scoring model ([scoring] in {config_path}): "
            f"Baton keeps the sender's score ({sender})"
        )
    return "\n".join(breakdown(rules.scoring.score(fields, now=now)))


def replayed(db: Database, rules: Rules, *, since: str, now: datetime) -> str:
    """The leads stored in the period `since` (e.g. `90d`) scored again by the model in
    `rules`, compared with what they were and how sales judged them (bot.replay)."""
    try:
        period = parse_period(since, now=now, timezone=ZoneInfo(rules.hours.timezone))
    except InvalidInput as error:
        raise CannotScore(f"--since: {error.errors['period']}") from None
    if rules.scoring is None:
        raise CannotScore("no scoring model ([scoring] in baton.toml) to replay the leads with")
    with db.read() as session:
        result = replay(session, period=period, model=rules.scoring)
    return "\n".join(replay_lines(result, period=period, reasons=rules.reasons))
