"""`baton score LEAD.json`: the score the team's scoring model gives a lead, and why, before any
lead is sent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot import intake, json_input
from bot.errors import BatonError
from bot.rules import Rules
from bot.score_explanation import breakdown


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
