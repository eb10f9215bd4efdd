"""One lead as `/leads show` and the Details modal tell it: where it stands now (as its card says),
then every move in its event log with who made it and when, in the team's time zone, and a link to
the card; and the same line for one move in the card's thread."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot import intake, lead_updates, reply_blocks
from bot.cards import packed, status_text
from bot.extra_fields import described
from bot.lifecycle import CRM, ROUTED, SYSTEM, Action
from bot.rules import Rules
from bot.slack_text import (
    FIELD_LIMIT,
    LABEL_LIMIT,
    as_utc,
    deal_text,
    lead_label,
    mention,
    safe_text,
)
from storage.models import Lead, LeadEvent

HISTORY_SHOWN = 60  # the newest moves shown; a lead moved more often says how many are left out
NOTE_SHOWN = 150  # characters of a reject note in a history line
BREACHES = {"claim": "claim SLA breached", "follow_up": "follow-up SLA breached"}


def lead_blocks(
    lead: Lead,
    events: Sequence[LeadEvent],
    *,
    reasons: Mapping[str, str],
    timezone: ZoneInfo,
    now: datetime,
    team_domain: str | None,
) -> list[dict[str, Any]]:
    """The lead's state, its history (oldest first) and where its card is."""
    link = reply_blocks.permalink(lead, team_domain)
    facts = [f"Policy: {safe_text(lead.sla_policy or 'none yet', LABEL_LIMIT)}"]
    facts += [safe_text(value, LABEL_LIMIT) for value in (lead.email, lead.source) if value]
    where = f"<{link}|Open the card in Slack>" if link else "The card is not in Slack yet."
    return [
        reply_blocks.section(f"*{lead_label(lead)}*\n{status_text(lead, reasons, now)}"),
        reply_blocks.context(" · ".join(facts)),
        *sender_blocks(lead),
        *history_blocks(events, reasons=reasons, timezone=timezone, now=now),
        reply_blocks.context(where),
    ]


def sender_blocks(lead: Lead) -> list[dict[str, Any]]:
    """The fields the sender included that Baton does not know, as sent; none when there are
    none."""
    if not lead.extra:
        return []
    return [
        reply_blocks.context("From the sender: " + safe_text(described(lead.extra), FIELD_LIMIT))
    ]


def history_blocks(
    events: Sequence[LeadEvent], *, reasons: Mapping[str, str], timezone: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    """*History* (times in the team's zone): the newest moves, oldest first, in few sections."""
    shown = events[-HISTORY_SHOWN:]
    lines = [history_line(event, reasons=reasons, timezone=timezone, now=now) for event in shown]
    if len(events) > len(shown):
        lines.insert(0, f"…{len(events) - len(shown)} earlier moves not shown")
    title = f"*History* (times in {timezone.key})"
    return [reply_blocks.section(text) for text in packed(title, lines)]


def event_reply(event: LeadEvent, *, rules: Rules, now: datetime) -> str:
    """The line a move adds to its card's thread, in the team's time zone: drawn from the
    stored event when sent (events are never deleted)."""
    zone = ZoneInfo(rules.hours.timezone)
    return event_line(event, reasons=rules.reasons, timezone=zone, now=now)


def history_line(
    event: LeadEvent, *, reasons: Mapping[str, str], timezone: ZoneInfo, now: datetime
) -> str:
    """`• Mon 30 Nov 10:02 · claimed by @bob`: one move in a list."""
    return "• " + event_line(event, reasons=reasons, timezone=timezone, now=now)


def event_line(
    event: LeadEvent, *, reasons: Mapping[str, str], timezone: ZoneInfo, now: datetime
) -> str:
    """`Mon 30 Nov 10:02 · claimed by @bob`: one move, at its local time (also the line the
    move adds to the card's thread)."""
    local = as_utc(event.at).astimezone(timezone)
    year = "" if local.year == now.astimezone(timezone).year else f" {local.year}"
    when = f"{local:%a %d %b}{year} {local:%H:%M}"
    describe = _WORDS.get(event.action)
    what = describe(event, reasons) if describe else _unknown(event)
    return f"{when} · {what}"


def _who(actor: str) -> str:
    return {SYSTEM.id: "Baton", CRM.id: "the CRM"}.get(actor) or mention(actor)


def _by(verb: str) -> Callable[[LeadEvent, Mapping[str, str]], str]:
    return lambda event, _reasons: f"{verb} by {_who(event.actor)}"


def _created(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    source = event.details.get("source")
    return f"arrived from {safe_text(str(source), LABEL_LIMIT)}" if source else "arrived"


def _rejected(event: LeadEvent, reasons: Mapping[str, str]) -> str:
    code = str(event.details.get("reason") or "unknown")
    line = f"rejected by {_who(event.actor)}: {safe_text(reasons.get(code, code), LABEL_LIMIT)}"
    note = event.details.get("note")
    return f"{line} — _{safe_text(str(note), NOTE_SHOWN)}_" if note else line


def _escalated(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    breach = str(event.details.get("breach"))
    line = f"{BREACHES.get(breach, 'SLA breached')}, escalated to managers"
    return line + ("; open to every rep again" if event.details.get("reopened") else "")


def _reopened(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    return f"reopened by {_who(event.actor)}{_taken_from(event)}"


def _assigned(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    assignee = mention(event.details.get("assignee"))
    return f"assigned to {assignee} by {_who(event.actor)}{_taken_from(event)}"


def _routed(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    """`routed: skipped @sam: away until Fri 04 Dec 09:00; assigned to @rita: lowest pointer`"""
    steps = [str(step) for step in event.details.get("steps") or []]
    return "routed: " + "; ".join(steps) if steps else "routed"


def _outcome(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    """`won by @bob · 12,000 EUR: signed for two years`; an opportunity "became" one."""
    details = event.details
    stage = safe_text(str(details.get("stage", "closed")), LABEL_LIMIT)
    verb = "became an opportunity" if stage == "opportunity" else stage
    amount = details.get("amount")
    deal = deal_text(Decimal(amount), details.get("currency")) if amount else ""
    reason = details.get("reason")
    line = f"{verb}, recorded by {_who(event.actor)}"
    line += f" · {safe_text(deal, LABEL_LIMIT)}" if deal else ""
    return line + (f": {safe_text(str(reason), LABEL_LIMIT)}" if reason else "")


def _updated(event: LeadEvent, _reasons: Mapping[str, str]) -> str:
    """`updated by hubspot: score 72 → 88 · email corrected`: the sender, and what it changed."""
    changes = event.details.get("changes")
    words = lead_updates.summary(changes if isinstance(changes, Mapping) else {}, LABEL_LIMIT)
    sender = intake.SENDER_WORDS.get(event.actor) or _who(event.actor)
    return f"updated by {sender}: {words}"


def _taken_from(event: LeadEvent) -> str:
    previous = event.details.get("previous_owner")
    return f" (it was {mention(previous)}'s)" if previous else ""


def _unknown(event: LeadEvent) -> str:
    """A move this version has no words for (written by a newer one): its name and who."""
    return f"{safe_text(event.action, LABEL_LIMIT)} by {_who(event.actor)}"


_WORDS: dict[str, Callable[[LeadEvent, Mapping[str, str]], str]] = {
    Action.CREATE: _created,
    Action.UPDATE: _updated,
    Action.POST: lambda _event, _reasons: "card posted",
    Action.ACCEPT: _by("claimed"),
    Action.REJECT: _rejected,
    Action.ESCALATE: _escalated,
    Action.REOPEN: _reopened,
    Action.RELEASE: _by("released"),
    Action.ASSIGN: _assigned,
    Action.MARK_CONTACTED: _by("marked contacted"),
    Action.OUTCOME: _outcome,
    ROUTED: _routed,
    Action.UNDO: lambda event, _reasons: (
        f"{safe_text(str(event.details.get('undid', 'move')), LABEL_LIMIT)} undone by "
        f"{_who(event.actor)}"
    ),
}
