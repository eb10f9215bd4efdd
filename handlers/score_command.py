"""`baton score LEAD.json`: the score the team's scoring model gives a lead, and why, before any
lead is sent (a file that cannot be read or a lead intake would refuse is one line on stderr)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from bot import intake, json_input
from bot.errors import BatonError
from bot.rules import Rules
from bot.score_explanation import breakdown


def explain(path: Path, rules: Rules, *, config_path: Path, now: datetime) -> int:
    """Print the explanation of the lead in `path` at `now`; without a model in `rules`, say
    that the sender's score stands. Exit status 2 when the lead cannot be scored."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return _refused(f"cannot read {path}: {error.strerror}")
    try:
        lead = intake.validate_lead(
            json_input.parse(data), keep_unknown=rules.intake.keeps_unknown_fields
        )
    except BatonError as error:  # broken JSON, or a lead intake would refuse (422)
        return _refused(f"{path}: {error}")
    fields = lead.to_fields()
    if rules.scoring is None:
        sender = "none" if fields["score"] is None else fields["score"]
        print(
            f"no scoring model ([scoring] in {config_path}): "
            f"Baton keeps the sender's score ({sender})"
        )
        return 0
    print("\n".join(breakdown(rules.scoring.score(fields, now=now))))
    return 0


def _refused(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 2
