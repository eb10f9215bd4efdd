"""Answering `/leads`: who may ask what, and the reply, computed from stored state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import delivery_failures, outbox, reply_blocks
from bot.cards import Message
from bot.commands import HELP_TEXT, LeadsCommand, Subcommand
from bot.errors import NotAllowed
from bot.lifecycle import Actor, Lifecycle
from bot.periods import DEFAULT_PERIOD, parse_period
from bot.reports import handoff_stats, rejection_feedback
from bot.rules import Rules
from bot.slack_text import mention, safe_text
from storage import leads as lead_store

SOON = timedelta(hours=1)
LIMIT = reply_blocks.LIST_LIMIT
SOURCE_SHOWN = 100  # characters of a typed source in a reply's title


@dataclass(frozen=True)
class Reply:
    message: Message
    in_channel: bool = False


def help_reply(problem: str | None = None) -> Reply:
    text = f"{problem}\n\n{HELP_TEXT}" if problem else HELP_TEXT
    return Reply(reply_blocks.message(text, [reply_blocks.section(text)]))


def answer(
    session: Session,
    command: LeadsCommand,
    *,
    actor: Actor,
    rules: Rules,
    lifecycle: Lifecycle,
    now: datetime,
    team_domain: str | None,
) -> Reply:
    """The reply to one /leads command; assign and reopen also move the lead."""
    name = command.name
    if name == Subcommand.HELP:
        return help_reply()
    if name == Subcommand.MINE:
        leads, total = lead_store.list_claimed(
            session, limit=reply_blocks.LIST_LIMIT, owner_id=actor.id
        )
        blocks = reply_blocks.lead_list(
            "Your open leads", leads, total, team_domain, "Nothing waiting on you."
        )
        return _reply(command, f"Your open leads: {total}", blocks)
    if name == Subcommand.QUEUE:
        return _queue(session, command, actor=actor, team_domain=team_domain)
    if name == Subcommand.SLA:
        return _sla(session, command, actor=actor, now=now, team_domain=team_domain)
    if name in (Subcommand.STATS, Subcommand.FEEDBACK):
        period = parse_period(
            command.period or DEFAULT_PERIOD, now=now, timezone=ZoneInfo(rules.hours.timezone)
        )
        if name == Subcommand.STATS:
            everyone = actor.is_manager or actor.is_marketer
            stats = handoff_stats(
                session,
                period=period,
                policies=lifecycle.policies,
                rep=None if everyone else actor.id,
            )
            title = "Handoff numbers" if everyone else f"Your numbers, {mention(actor.id)}"
            blocks = reply_blocks.stats_blocks(stats, title=title)
            return _reply(command, f"{title}: {period.label}", blocks)
        if not (actor.is_manager or actor.is_marketer):
            raise NotAllowed("Rejection feedback is for managers and marketers.")
        if command.as_csv:
            outbox.feedback_file(
                session,
                user_id=actor.id,
                start=period.start,
                end=period.end,
                label=period.label,
                source=command.source,
                now=now,
            )
            text = f"The rejection feedback for {period.label} is on its way to your DMs as a CSV."
            return _reply(command, text, [reply_blocks.section(text)])
        groups = rejection_feedback(
            session, period=period, reasons=rules.reasons, source=command.source
        )
        title = f"Why sales rejected leads, {period.label}"
        if command.source:
            title += f", source {safe_text(command.source, SOURCE_SHOWN)}"
        return _reply(command, title, reply_blocks.feedback_blocks(groups, title=title))
    assert command.lead_id is not None
    if name == Subcommand.REOPEN:
        lead = lifecycle.reopen(session, lead_id=command.lead_id, actor=actor, now=now)
        text = f"Lead #{lead.id} is open again for every rep."
    else:
        assert command.assignee is not None
        lead = lifecycle.assign(
            session,
            lead_id=command.lead_id,
            actor=actor,
            assignee=command.assignee,
            now=now,
        )
        text = f"Lead #{lead.id} is now {mention(command.assignee)}'s."
    return _reply(command, text, [reply_blocks.section(text)])


def _queue(
    session: Session, command: LeadsCommand, *, actor: Actor, team_domain: str | None
) -> Reply:
    waiting, total = lead_store.list_waiting(session, limit=LIMIT)
    blocks = reply_blocks.lead_list(
        "Waiting for a rep", waiting, total, team_domain, "Every lead has an owner."
    )
    if actor.is_manager:
        claimed, claimed_total = lead_store.list_claimed(session, limit=LIMIT)
        blocks += reply_blocks.lead_list(
            "Claimed, not yet contacted", claimed, claimed_total, team_domain, "None."
        )
    return _reply(command, f"Lead queue: {total} waiting", blocks)


def _sla(
    session: Session,
    command: LeadsCommand,
    *,
    actor: Actor,
    now: datetime,
    team_domain: str | None,
) -> Reply:
    if not actor.is_manager:
        leads, total = lead_store.list_claimed(
            session, limit=reply_blocks.LIST_LIMIT, owner_id=actor.id
        )
        blocks = reply_blocks.lead_list(
            "Your follow-up deadlines", leads, total, team_domain, "Nothing waiting on you."
        )
        return _reply(command, "Your follow-up deadlines", blocks)
    health = lead_store.sla_health(session, now=now, soon=now + SOON)
    waiting, total = lead_store.list_waiting(session, limit=LIMIT)
    blocks = [
        reply_blocks.section("*SLA health*"),
        *reply_blocks.health_blocks(health),
        *delivery_failures.recent_blocks(session, now=now),
        *reply_blocks.lead_list("Most urgent", waiting, total, team_domain, "Nothing waiting."),
    ]
    return _reply(command, "SLA health", blocks)


def _reply(command: LeadsCommand, text: str, blocks: list[dict[str, Any]]) -> Reply:
    return Reply(reply_blocks.message(text, blocks), in_channel=command.share)
