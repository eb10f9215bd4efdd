"""`/leads` as typed in Slack: the subcommands, their arguments, and the help text."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from bot.errors import InvalidInput


class Subcommand(enum.StrEnum):
    MINE = "mine"
    QUEUE = "queue"
    SLA = "sla"
    FEEDBACK = "feedback"
    STATS = "stats"
    ASSIGN = "assign"
    REOPEN = "reopen"
    HELP = "help"


HELP_TEXT = "\n".join(
    [
        "*/leads* shows and moves leads. Replies are only visible to you; add `share` to post "
        "one to the channel.",
        "• `/leads mine`: your open leads and their deadlines",
        "• `/leads queue`: leads waiting for a rep, most urgent first",
        "• `/leads sla`: SLA health: overdue and soon-due leads, breaches",
        "• `/leads feedback [period] [source] [csv]`: why sales rejected leads (managers, "
        "marketers); `csv` sends the rows to your DMs as a file",
        "• `/leads stats [period]`: handoff numbers (yours; everyone's for managers, marketers)",
        "• `/leads assign <lead> @rep`: hand a lead to a rep (managers)",
        "• `/leads reopen <lead>`: put a lead back in the queue (managers)",
        "Periods: `7d`, `30d`, `2w`, `today`, `this-week`, `last-week`, `this-month`, "
        "`last-month`. A lead is its number, e.g. `42` or `#42`.",
    ]
)

_LEAD = re.compile(r"^#?(\d{1,12})$")
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_PERIOD = re.compile(r"^(\d+[dw]|today|this-week|last-week|this-month|last-month)$")


@dataclass(frozen=True)
class LeadsCommand:
    name: Subcommand
    period: str | None = None
    source: str | None = None
    lead_id: int | None = None
    assignee: str | None = None
    share: bool = False
    as_csv: bool = False


def parse_leads_command(text: str) -> LeadsCommand:
    """Read what follows `/leads`; anything unclear raises InvalidInput saying what is wrong."""
    words = text.split()
    share = bool(words) and words[-1].lower() == "share"
    if share:
        words = words[:-1]
    if not words:
        return LeadsCommand(Subcommand.HELP)
    head, rest = words[0].lower(), words[1:]
    try:
        name = Subcommand(head)
    except ValueError:
        raise InvalidInput({"command": f"`{head}` is not a /leads command"}) from None
    if name in (Subcommand.MINE, Subcommand.QUEUE, Subcommand.SLA, Subcommand.HELP):
        _no_more(name, rest)
        return LeadsCommand(name, share=share)
    if name == Subcommand.STATS:
        _no_more(name, rest[1:])
        return LeadsCommand(name, period=_period(rest[0]) if rest else None, share=share)
    if name == Subcommand.FEEDBACK:
        as_csv = bool(rest) and rest[-1].lower() == "csv"
        if as_csv:
            rest = rest[:-1]
        period = _period(rest[0]) if rest and _PERIOD.match(rest[0].lower()) else None
        sources = rest[1:] if period else rest
        _no_more(name, sources[1:])
        source = sources[0] if sources else None
        return LeadsCommand(name, period=period, source=source, share=share, as_csv=as_csv)
    if not rest:
        raise InvalidInput({"lead": f"`/leads {name}` needs a lead number, e.g. `{name} 42`"})
    lead_id = _lead(rest[0])
    if name == Subcommand.REOPEN:
        _no_more(name, rest[1:])
        return LeadsCommand(name, lead_id=lead_id, share=share)
    assignee = _USER.match(rest[1]) if len(rest) == 2 else None
    if assignee is None:
        raise InvalidInput({"rep": "`/leads assign` needs a lead and a @mention, e.g. `42 @dana`"})
    return LeadsCommand(name, lead_id=lead_id, assignee=assignee.group(1), share=share)


def _period(word: str) -> str:
    if not _PERIOD.match(word.lower()):
        raise InvalidInput({"period": f"`{word}` is not a period (try 7d, 30d or this-week)"})
    return word.lower()


def _lead(word: str) -> int:
    match = _LEAD.match(word)
    if not match:
        raise InvalidInput({"lead": f"`{word}` is not a lead number"})
    return int(match.group(1))


def _no_more(name: Subcommand, extra: list[str]) -> None:
    if extra:
        raise InvalidInput({"command": f"`/leads {name}` takes no `{' '.join(extra)}`"})
