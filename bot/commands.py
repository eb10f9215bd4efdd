"""`/leads` as typed in Slack: the subcommands and their arguments (bot.leads_command holds what
each one does, who may run it, and the help)."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from bot.errors import BatonError, InvalidInput, LeadNotFound
from bot.funnel import GROUPINGS
from bot.lifecycle import Outcome
from bot.outcomes import STAGES, validate_outcome
from bot.periods import check_period, is_period
from bot.slack_text import is_user_id, safe_text
from storage.leads import MAX_LEAD_ID


class Subcommand(enum.StrEnum):
    MINE = "mine"
    QUEUE = "queue"
    MQL = "mql"
    SLA = "sla"
    FEEDBACK = "feedback"
    STATS = "stats"
    TUNE = "tune"
    FUNNEL = "funnel"
    ASSIGN = "assign"
    REOPEN = "reopen"
    OUTCOME = "outcome"
    RELEASE = "release"
    SHOW = "show"
    FIND = "find"
    AWAY = "away"
    BACK = "back"
    ROUTING = "routing"
    HELP = "help"


_UNSTORABLE = ("Cc", "Cs")  # control characters and lone surrogates
ECHO_LIMIT = 40  # characters of a refused word quoted back in a reply

_LEAD = re.compile(r"#?([0-9]{1,12})")
_AMOUNT = re.compile(r"[0-9][0-9,]*(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_MENTION = re.compile(r"<@([^|>]*)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class LeadsCommand:
    name: Subcommand
    period: str | None = None
    source: str | None = None
    lead_id: int | None = None
    assignee: str | None = None
    query: str | None = None  # what `show` or `find` looks for, when not a lead number
    share: bool = False
    as_csv: bool = False
    outcome: Outcome | None = None
    rep: str | None = None  # who `away` or `back` is about, when not whoever asks
    until: str | None = None  # the day `away` ends, as typed (bot.away.return_day reads it)
    by: str | None = None  # what `funnel` groups by: source, campaign, segment or cohort
    as_json: bool = False  # the export as JSON rather than CSV (`funnel`)


class UnclearCommand(BatonError):
    """What follows `/leads` cannot be read: the message says what is wrong in one line;
    `subcommand` is the one meant (its usage is then shown), None when the word was not one."""

    def __init__(self, problem: str, *, subcommand: Subcommand | None) -> None:
        super().__init__(problem)
        self.subcommand = subcommand


def echo(text: str) -> str:
    """A word someone typed, quoted back inert and short: escaped like lead data, so a reply
    (which `share` posts to the channel) never pings `<!channel>` or shows a disguised link."""
    return f"`{safe_text(text, ECHO_LIMIT)}`"


def lead_number(word: str) -> int:
    """A lead as people write it (`42` or `#42`, ASCII digits); InvalidInput naming `lead`
    for anything else, LeadNotFound for a number past any lead's."""
    match = _LEAD.fullmatch(word)
    if not match:
        raise InvalidInput({"lead": f"{echo(word)} is not a lead number"})
    number = int(match.group(1))
    if number > MAX_LEAD_ID:
        raise LeadNotFound(number)
    return number


def parse_leads_command(text: str) -> LeadsCommand:
    """Read what follows `/leads`; anything unclear raises UnclearCommand saying what is wrong
    (LeadNotFound for a number past any lead's)."""
    words = text.split()
    share = bool(words) and words[-1].lower() == "share"
    if share:
        words = words[:-1]
    if not words:
        return LeadsCommand(Subcommand.HELP)
    if _LEAD.fullmatch(words[0]):  # `/leads 12`: the lead itself
        _no_more(Subcommand.SHOW, words[1:])
        return LeadsCommand(Subcommand.SHOW, lead_id=lead_number(words[0]), share=share)
    head, rest = words[0].lower(), words[1:]
    try:
        name = Subcommand(head)
    except ValueError:
        raise UnclearCommand(f"{echo(head)} is not a /leads command.", subcommand=None) from None
    try:
        return _parse(name, rest, share)
    except InvalidInput as unclear:  # worded for a form: field, problem
        raise UnclearCommand(unclear.in_words(), subcommand=name) from None


def _parse(name: Subcommand, rest: list[str], share: bool) -> LeadsCommand:
    if name in (Subcommand.MINE, Subcommand.QUEUE, Subcommand.MQL, Subcommand.SLA, Subcommand.HELP):
        _no_more(name, rest)
        return LeadsCommand(name, share=share)
    if name == Subcommand.STATS:
        _no_more(name, rest[1:])
        return LeadsCommand(name, period=_period(rest[0]) if rest else None, share=share)
    if name == Subcommand.TUNE:
        as_csv = bool(rest) and rest[-1].lower() == "csv"
        rest = rest[:-1] if as_csv else rest
        _no_more(name, rest[1:])
        period = _period(rest[0]) if rest else None
        return LeadsCommand(name, period=period, share=share, as_csv=as_csv)
    if name == Subcommand.FUNNEL:
        return _funnel(rest, share)
    if name == Subcommand.FEEDBACK:
        as_csv = bool(rest) and rest[-1].lower() == "csv"
        if as_csv:
            rest = rest[:-1]
        period = _period(rest[0]) if rest and is_period(rest[0]) else None
        sources = rest[1:] if period else rest
        _no_more(name, sources[1:])
        source = sources[0] if sources else None
        return LeadsCommand(name, period=period, source=source, share=share, as_csv=as_csv)
    if name in (Subcommand.SHOW, Subcommand.FIND):
        return _lookup(name, rest, share)
    if name in (Subcommand.AWAY, Subcommand.BACK):
        return _availability(name, rest, share)
    if not rest:
        raise UnclearCommand(f"`/leads {name}` needs a lead.", subcommand=name)
    lead_id = lead_number(rest[0])
    if name in (Subcommand.REOPEN, Subcommand.RELEASE, Subcommand.ROUTING):
        _no_more(name, rest[1:])
        return LeadsCommand(name, lead_id=lead_id, share=share)
    if name == Subcommand.OUTCOME:
        return LeadsCommand(name, lead_id=lead_id, outcome=_outcome(rest[1:]), share=share)
    mentioned = _MENTION.fullmatch(rest[1]) if len(rest) == 2 else None
    if mentioned is None or not is_user_id(mentioned.group(1)):
        raise UnclearCommand(
            "`/leads assign` needs a lead, then the rep as an @mention.", subcommand=name
        )
    return LeadsCommand(name, lead_id=lead_id, assignee=mentioned.group(1), share=share)


def _funnel(words: list[str], share: bool) -> LeadsCommand:
    """`funnel [period] [by source|campaign|segment|cohort] [csv|json]`."""
    rest = list(words)
    export = rest.pop().lower() if rest and rest[-1].lower() in ("csv", "json") else None
    period = _period(rest.pop(0)) if rest and rest[0].lower() != "by" else None
    by = None
    if rest and rest[0].lower() == "by":
        if len(rest) < 2 or rest[1].lower() not in GROUPINGS:
            given = f", not {echo(rest[1])}" if len(rest) > 1 else ""
            choices = f"{', '.join(GROUPINGS[:-1])} or {GROUPINGS[-1]}"
            raise InvalidInput({"by": f"`by` takes {choices}{given}"})
        by, rest = rest[1].lower(), rest[2:]
    _no_more(Subcommand.FUNNEL, rest)
    return LeadsCommand(
        Subcommand.FUNNEL,
        period=period,
        by=by,
        share=share,
        as_csv=export == "csv",
        as_json=export == "json",
    )


def _availability(name: Subcommand, words: list[str], share: bool) -> LeadsCommand:
    """`away [until <day>] [@rep]` and `back [@rep]`, in either order for `away`."""
    rep = until = None
    rest = list(words)
    while rest:
        word = rest.pop(0)
        mentioned = _MENTION.fullmatch(word)
        if mentioned is not None and is_user_id(mentioned.group(1)) and rep is None:
            rep = mentioned.group(1)
        elif name == Subcommand.AWAY and word.lower() == "until" and rest and until is None:
            until = rest.pop(0)
        else:
            raise UnclearCommand(f"`/leads {name}` does not take {echo(word)}.", subcommand=name)
    return LeadsCommand(name, rep=rep, until=until, share=share)


def _outcome(words: list[str]) -> Outcome:
    """`won 12000 EUR two-year deal`: the stage, then optionally the amount (with its
    currency after it), then the reason, which is every word left."""
    if not words or words[0].lower() not in STAGES:
        raise InvalidInput({"stage": "say opportunity, won or lost after the lead"})
    outcome: dict[str, Any] = {"stage": words[0].lower()}
    rest = words[1:]
    if rest and _AMOUNT.fullmatch(rest[0]):
        outcome["amount"] = rest[0].replace(",", "")
        rest = rest[1:]
        if rest and _CURRENCY.fullmatch(rest[0]):
            outcome["currency"], rest = rest[0], rest[1:]
    if rest:
        outcome["reason"] = " ".join(rest)
    try:
        return validate_outcome(outcome)
    except InvalidInput as invalid:  # e.g. amount: at most 2 decimal places
        raise InvalidInput(
            {
                name: f"the {name} is not valid ({problem[:1].lower()}{problem[1:]})"
                for name, problem in invalid.errors.items()
            }
        ) from None


def _lookup(name: Subcommand, words: list[str], share: bool) -> LeadsCommand:
    """`show` takes a lead number, an email or a company; `find` any text (both several words)."""
    if not words:
        raise UnclearCommand(f"`/leads {name}` needs something to look for.", subcommand=name)
    if name == Subcommand.SHOW and len(words) == 1 and _LEAD.fullmatch(words[0]):
        return LeadsCommand(name, lead_id=lead_number(words[0]), share=share)
    query = " ".join(words)
    if any(unicodedata.category(char) in _UNSTORABLE for char in query):
        # PostgreSQL refuses NUL and the driver lone surrogates: neither is in any lead.
        raise UnclearCommand(
            "Say a name, company or email to look for, without control characters.",
            subcommand=name,
        )
    return LeadsCommand(name, query=query, share=share)


def _period(word: str) -> str:
    if not is_period(word):
        raise InvalidInput(
            {"period": f"{echo(word)} is not a period such as `7d`, `30d` or `this-week`"}
        )
    check_period(word)  # quotes the word back only when shaped like a period: digits and d/w
    return word.lower()


def _no_more(name: Subcommand, extra: list[str]) -> None:
    if extra:
        raise UnclearCommand(
            f"`/leads {name}` does not take {echo(' '.join(extra))}.", subcommand=name
        )
