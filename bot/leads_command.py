"""Answering `/leads`: one table says, per subcommand, how it is typed, who may run it, what
answers it and whether it writes; dispatch, the help and the permission check all read it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import delivery_failures, lead_history, outbox, outcomes, reply_blocks
from bot.away import mark_away, mark_back
from bot.cards import Message
from bot.commands import LeadsCommand, Subcommand, UnclearCommand, echo
from bot.errors import LeadNotFound, NotAllowed
from bot.funnel import funnel_report
from bot.funnel_blocks import funnel_blocks, funnel_title
from bot.funnel_chart import ChartCounts, chart_counts
from bot.lead_history import history_line
from bot.lifecycle import ROUTED, Actor, Lifecycle
from bot.periods import DEFAULT_PERIOD, PERIODS_SHOWN, Period, parse_period
from bot.reports import handoff_stats, rejection_feedback
from bot.routing import route_for
from bot.rules import Rules
from bot.slack_text import escape_mrkdwn, lead_label, mention, safe_text
from bot.tuning import tuning_report
from bot.tuning_blocks import tuning_blocks
from storage import leads as lead_store
from storage.models import Lead

SOON = timedelta(hours=1)
LIMIT = reply_blocks.LIST_LIMIT
PICK_LIMIT = 8  # leads offered to pick from when `show` names several
SOURCE_SHOWN = 100  # characters of a typed source in a reply's title


@dataclass(frozen=True)
class Reply:
    """An answer, and what it sends afterwards (`then_queue`: its outbox rows, written by the
    adapter in a short write transaction once the answer was computed in a read one, so a
    report that takes seconds never holds SQLite's write lock meanwhile)."""

    message: Message
    in_channel: bool = False
    then_queue: Callable[[Session], None] | None = None


class Audience(enum.Enum):
    """Who may run a subcommand: checked before it runs, and shown in the help."""

    EVERYONE = ""
    MANAGERS = "managers"
    MANAGERS_AND_MARKETERS = "managers, marketers"

    def admits(self, actor: Actor) -> bool:
        if self is Audience.MANAGERS:
            return actor.is_manager
        if self is Audience.MANAGERS_AND_MARKETERS:
            return actor.is_manager or actor.is_marketer
        return True

    def check(self, actor: Actor, name: Subcommand) -> None:
        if not self.admits(actor):
            who = self.value.replace(", ", " and ")
            raise NotAllowed(f"`/leads {name}` is only for {who}.")


@dataclass(frozen=True)
class Asking:
    """Who asks, and what an answer reads beside the database."""

    actor: Actor
    rules: Rules
    lifecycle: Lifecycle
    now: datetime
    team_domain: str | None


Answer = Callable[[Session, LeadsCommand, Asking], Reply]


@dataclass(frozen=True)
class Usage:
    """One subcommand: how it is typed and what it does (the help), who may run it, what
    answers it, and whether it writes (the adapter opens a write transaction for it)."""

    typed: str  # after `/leads`, e.g. "reopen <lead>"
    does: str
    answer: Answer
    audience: Audience = Audience.EVERYONE
    writes: bool = False
    more: str = ""  # said in the help after the audience
    example: str = ""  # after `/leads <name>`, shown with the usage when what was typed is unclear

    def usage_line(self) -> str:
        """How to type it, for a reply to something unclear."""
        line = f"Type `/leads {escape_mrkdwn(self.typed)}`"
        example = f"`/leads {self.typed.split()[0]} {self.example}`"
        return f"{line}, e.g. {example}." if self.example else f"{line}."

    def help_line(self) -> str:
        audience = f" ({self.audience.value})" if self.audience.value else ""
        return f"• `/leads {escape_mrkdwn(self.typed)}`: {self.does}{audience}{self.more}"


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
    """The reply to one /leads command, once its audience admits `actor`; assign and reopen
    also move the lead."""
    usage = COMMANDS[command.name]
    usage.audience.check(actor, command.name)
    return usage.answer(session, command, Asking(actor, rules, lifecycle, now, team_domain))


def writes(command: LeadsCommand) -> bool:
    """Whether answering `command` changes anything: a move, or a CSV export queued in the
    outbox."""
    return COMMANDS[command.name].writes or command.as_csv or command.as_json


def help_reply() -> Reply:
    return Reply(reply_blocks.message(HELP_TEXT, [reply_blocks.section(HELP_TEXT)]))


def unclear_reply(unclear: UnclearCommand) -> Reply:
    """One line: what was wrong, then how the subcommand is typed, or, for a word that is no
    subcommand, which ones there are."""
    if unclear.subcommand is None:
        how = f"Commands: {NAMES}; `/leads help` says what each does."
    else:
        how = COMMANDS[unclear.subcommand].usage_line()
    text = f"{unclear} {how}"
    return Reply(reply_blocks.message(text, [reply_blocks.section(text)]))


def _help(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    return help_reply()


def _show(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """One lead and its history; several named by an email or company are offered to pick from."""
    if command.lead_id is not None:
        lead = lead_store.get_lead(session, command.lead_id)
        if lead is None:
            raise LeadNotFound(command.lead_id)
    else:
        assert command.query is not None
        leads, total = _named(session, command.query)
        if total != 1:
            return _picks(command, leads, total, asking)
        lead = leads[0]
    blocks = lead_history.lead_blocks(
        lead,
        lead_store.list_events(session, lead.id),
        reasons=asking.rules.reasons,
        timezone=ZoneInfo(asking.rules.hours.timezone),
        now=asking.now,
        team_domain=asking.team_domain,
    )
    return _reply(command, f"{lead_label(lead)}: {lead.status}", blocks)


def _named(session: Session, query: str) -> tuple[Sequence[Lead], int]:
    """The leads with that email (when it has an @) or of the company so named, ignoring case;
    when none is, every lead whose name, company or email contains it."""
    exact = lead_store.list_by_email if "@" in query else lead_store.list_by_company
    leads, total = exact(session, query, limit=PICK_LIMIT)
    if total:
        return leads, total
    return lead_store.find_leads(session, query, limit=PICK_LIMIT)


def _picks(command: LeadsCommand, leads: Sequence[Lead], total: int, asking: Asking) -> Reply:
    assert command.query is not None
    if not leads:
        text = f"No lead's email, company or name matches {echo(command.query)}."
        return _sentence(command, text)
    title = f"Leads matching {echo(command.query)}"
    blocks = reply_blocks.lead_list(title, leads, total, asking.team_domain, "")
    blocks.append(reply_blocks.context(f"Say `/leads show {leads[0].id}` for one of them."))
    return _reply(command, f"{total} leads match {echo(command.query)}", blocks)


def _find(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    assert command.query is not None
    leads, total = lead_store.find_leads(session, command.query, limit=LIMIT)
    title = f"Leads matching {echo(command.query)}"
    empty = "No lead's name, company or email contains that."
    blocks = reply_blocks.lead_list(title, leads, total, asking.team_domain, empty)
    return _reply(command, f"{title}: {total}", blocks)


def _mine(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    leads, total = lead_store.list_claimed(session, limit=LIMIT, owner_id=asking.actor.id)
    blocks = reply_blocks.lead_list(
        "Your open leads", leads, total, asking.team_domain, "Nothing waiting on you."
    )
    return _reply(command, f"Your open leads: {total}", blocks)


def _period(command: LeadsCommand, asking: Asking) -> Period:
    return parse_period(
        command.period or DEFAULT_PERIOD,
        now=asking.now,
        timezone=ZoneInfo(asking.rules.hours.timezone),
    )


def _stats(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """Everyone's numbers for managers and marketers, a rep's own for a rep."""
    actor, period = asking.actor, _period(command, asking)
    everyone = actor.is_manager or actor.is_marketer
    stats = handoff_stats(
        session,
        period=period,
        policies=asking.lifecycle.policies,
        rep=None if everyone else actor.id,
    )
    title = reply_blocks.HANDOFF_NUMBERS if everyone else "Your numbers"
    times = reply_blocks.times_counted(asking.rules)
    blocks = reply_blocks.stats_blocks(stats, title=title, times=times)
    return _reply(command, reply_blocks.stats_heading(title, period), blocks)


def _tune(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """How the scoring model's bands, rules and sources fared with sales."""
    period = _period(command, asking)
    if command.as_csv:
        return _export(session, command, asking, period, outbox.ExportedReport.TUNING)
    report = tuning_report(
        session, period=period, model=asking.rules.scoring, reasons=asking.rules.reasons
    )
    title = "Tuning the score from sales' answers"
    times = reply_blocks.times_counted(asking.rules)
    blocks = tuning_blocks(report, title=title, times=times)
    return _reply(command, f"{title}: {period.label}", blocks)


def _funnel(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """How far the period's leads got, MQL to won, overall and by the grouping asked for."""
    period = _period(command, asking)
    if command.as_csv or command.as_json:
        return _export(session, command, asking, period, outbox.ExportedReport.FUNNEL)
    funnel = funnel_report(
        session, period=period, timezone=ZoneInfo(asking.rules.hours.timezone), by=command.by
    )
    blocks = funnel_blocks(funnel, times=reply_blocks.times_counted(asking.rules))
    if not funnel.total.entered:  # a picture of nothing would say no more than the answer
        return _reply(command, funnel_title(funnel), blocks)
    blocks.append(reply_blocks.context("The chart follows in your DMs."))
    return replace(
        _reply(command, funnel_title(funnel), blocks),
        then_queue=lambda queuing: _queue_file(
            queuing,
            command,
            asking,
            period,
            outbox.ExportedReport.FUNNEL_CHART,
            counts=chart_counts(funnel),
        ),
    )


def _feedback(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    period = _period(command, asking)
    if command.as_csv:
        return _export(session, command, asking, period, outbox.ExportedReport.FEEDBACK)
    groups = rejection_feedback(
        session, period=period, reasons=asking.rules.reasons, source=command.source
    )
    title = f"Why sales rejected leads, {period.label}"
    if command.source:
        title += f", source {safe_text(command.source, SOURCE_SHOWN)}"
    return _reply(command, title, reply_blocks.feedback_blocks(groups, title=title))


EXPORT_NAMES = {
    outbox.ExportedReport.FEEDBACK: "rejection feedback",
    outbox.ExportedReport.TUNING: "score tuning",
    outbox.ExportedReport.FUNNEL: "funnel",
}


def _export(
    session: Session,
    command: LeadsCommand,
    asking: Asking,
    period: Period,
    report: outbox.ExportedReport,
) -> Reply:
    """Queue the report's rows as a CSV (or JSON) file for the asker's DMs, and say so."""
    _queue_file(session, command, asking, period, report)
    name, kind = EXPORT_NAMES[report], "JSON" if command.as_json else "CSV"
    return _sentence(
        command, f"The {name} for {period.label} is on its way to your DMs as a {kind}."
    )


def _queue_file(
    session: Session,
    command: LeadsCommand,
    asking: Asking,
    period: Period,
    report: outbox.ExportedReport,
    counts: ChartCounts | None = None,
) -> None:
    """Queue the report as a file for the asker's DMs, as the command asked for it (a funnel's
    chart with the answer's `counts` when they are what it draws)."""
    outbox.feedback_file(
        session,
        user_id=asking.actor.id,
        start=period.start,
        end=period.end,
        label=period.label,
        source=command.source,
        now=asking.now,
        report=report,
        file_format="json" if command.as_json else "csv",
        by=command.by,
        counts=counts,
    )


def _assign(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    assert command.lead_id is not None and command.assignee is not None
    lead = asking.lifecycle.assign(
        session,
        lead_id=command.lead_id,
        actor=asking.actor,
        assignee=command.assignee,
        now=asking.now,
    )
    text = f"{lead_label(lead)} is now {mention(command.assignee)}'s."
    return _sentence(command, text)


def _reopen(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    lead = _move(session, command, asking, asking.lifecycle.reopen)
    return _sentence(command, f"{lead_label(lead)} is open again for every rep.")


def _release(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    lead = _move(session, command, asking, asking.lifecycle.release)
    return _sentence(command, f"{lead_label(lead)} is back in the queue for every rep.")


def _move(
    session: Session, command: LeadsCommand, asking: Asking, move: Callable[..., Lead]
) -> Lead:
    """A lifecycle move of the command's lead by whoever asks."""
    assert command.lead_id is not None
    return move(session, lead_id=command.lead_id, actor=asking.actor, now=asking.now)


def _outcome(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    assert command.lead_id is not None and command.outcome is not None
    lead, changed = outcomes.record(
        session,
        asking.lifecycle,
        lead_key=command.lead_id,
        outcome=command.outcome,
        actor=asking.actor,
        now=asking.now,
    )
    stage = command.outcome.stage.value
    text = f"{lead_label(lead)} is {'now' if changed else 'already'} {stage}."
    return _sentence(command, text)


def _queue(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """Leads waiting for a rep; for a manager, also the claimed ones not yet contacted."""
    actor, team_domain = asking.actor, asking.team_domain
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


def _mql(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """The leads kept for marketing until their score makes an SQL, highest first."""
    leads, total, recycled = lead_store.list_mqls(session, limit=LIMIT)
    blocks = reply_blocks.mql_blocks(
        leads, total, recycled, asking.team_domain, title=reply_blocks.MQL_TITLE
    )
    return _reply(command, f"MQLs: {total}", blocks)


def _sla(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """SLA health for a manager; a rep's own follow-up deadlines for a rep."""
    actor, now, team_domain = asking.actor, asking.now, asking.team_domain
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


def _away(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    rep = command.rep or asking.actor.id
    away = mark_away(
        session,
        rules=asking.rules,
        actor=asking.actor,
        rep=rep,
        until_word=command.until,
        now=asking.now,
    )
    when = away.describe(ZoneInfo(asking.rules.hours.timezone))
    if rep == asking.actor.id:
        return _sentence(command, f"You are {when}: routing gives you no leads meanwhile.")
    return _sentence(command, f"{mention(rep)} is {when}: routing gives them no leads meanwhile.")


def _back(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    rep = command.rep or asking.actor.id
    was_away = mark_back(session, rules=asking.rules, actor=asking.actor, rep=rep)
    who = "You are" if rep == asking.actor.id else f"{mention(rep)} is"
    if not was_away:
        return _sentence(command, f"{who} not marked away; nothing changed.")
    return _sentence(command, f"{who} back: routing takes turns with the others again.")


def _routing(session: Session, command: LeadsCommand, asking: Asking) -> Reply:
    """Why the lead went where it went: the rotation's reasons, or its route's mode."""
    assert command.lead_id is not None
    lead = lead_store.get_lead(session, command.lead_id)
    if lead is None:
        raise LeadNotFound(command.lead_id)
    timezone = ZoneInfo(asking.rules.hours.timezone)
    lines = [
        history_line(event, reasons=asking.rules.reasons, timezone=timezone, now=asking.now)
        for event in lead_store.list_events(session, lead.id)
        if event.action == ROUTED
    ]
    if not lines:
        route = route_for(lead, asking.rules)
        lines = [
            "Not routed by the rotation: its route posts to the channel, where the first "
            "rep to click Accept takes it."
            if route is None or not route.uses_pool
            else "Not routed by the rotation: it had moved on before routing could pick a rep."
        ]
    title = f"How {lead_label(lead)} was routed"
    return _reply(command, title, [reply_blocks.section(f"*{title}*\n" + "\n".join(lines))])


def _sentence(command: LeadsCommand, text: str) -> Reply:
    return _reply(command, text, [reply_blocks.section(text)])


def _reply(command: LeadsCommand, text: str, blocks: list[dict[str, Any]]) -> Reply:
    return Reply(reply_blocks.message(text, blocks), in_channel=command.share)


COMMANDS: dict[Subcommand, Usage] = {
    Subcommand.MINE: Usage("mine", "your open leads and their deadlines", _mine),
    Subcommand.QUEUE: Usage("queue", "leads waiting for a rep, most urgent first", _queue),
    Subcommand.MQL: Usage(
        "mql",
        "leads kept for marketing until their score makes an SQL, highest first",
        _mql,
        Audience.MANAGERS_AND_MARKETERS,
    ),
    Subcommand.SLA: Usage("sla", "SLA health: overdue and soon-due leads, breaches", _sla),
    Subcommand.SHOW: Usage(
        "show <lead>",
        "a lead's state and full history, by number, email or company (`/leads 42` for short)",
        _show,
        example="42",
    ),
    Subcommand.FIND: Usage(
        "find <text>", "leads whose name, company or email contains it", _find, example="acme"
    ),
    Subcommand.FEEDBACK: Usage(
        "feedback [period] [source] [csv]",
        "why sales rejected leads",
        _feedback,
        Audience.MANAGERS_AND_MARKETERS,
        more="; `csv` sends the rows to your DMs as a file",
        example="30d webinar",
    ),
    Subcommand.STATS: Usage(
        "stats [period]",
        "handoff numbers (yours; everyone's for managers, marketers)",
        _stats,
        example="30d",
    ),
    Subcommand.TUNE: Usage(
        "tune [period] [csv]",
        "acceptance, time to claim and win rate by score band, scoring rule and source; the "
        "rules sales rejects most, and the score that reaches the target acceptance",
        _tune,
        Audience.MANAGERS_AND_MARKETERS,
        more="; `csv` sends the rows to your DMs as a file",
        example="90d",
    ),
    Subcommand.FUNNEL: Usage(
        "funnel [period] [by source|campaign|segment|cohort] [csv|json]",
        "MQL → SQL → accepted → contacted → opportunity → won for the leads that entered in the "
        "period: counts, conversion and median time per step, overall and by the grouping",
        _funnel,
        Audience.MANAGERS_AND_MARKETERS,  # a read; its chart is queued after (Reply.then_queue)
        more="; its chart, and with `csv` or `json` every grouping, arrive in your DMs as files",
        example="90d by source",
    ),
    Subcommand.ASSIGN: Usage(
        "assign <lead> @rep",
        "hand a lead to a rep",
        _assign,
        Audience.MANAGERS,
        writes=True,
        example="42 @dana",
    ),
    Subcommand.REOPEN: Usage(
        "reopen <lead>",
        "put a lead back in the queue",
        _reopen,
        Audience.MANAGERS,
        writes=True,
        example="42",
    ),
    Subcommand.OUTCOME: Usage(
        "outcome <lead> opportunity|won|lost [amount [currency]] [reason]",
        "record what became of a lead you own (managers: any lead)",
        _outcome,
        writes=True,
        example="42 won 12000 EUR two-year contract",
    ),
    Subcommand.RELEASE: Usage(
        "release <lead>",
        "give a lead you own back to the queue (a manager: anyone's)",
        _release,
        writes=True,
        example="42",
    ),
    Subcommand.AWAY: Usage(
        "away [until <day>] [@rep]",
        "routing skips you (or your rep) until that day, or until `back`",
        _away,
        writes=True,
        more="; managers and team leads for their reps",
        example="until fri",
    ),
    Subcommand.BACK: Usage(
        "back [@rep]",
        "routing gives you (or your rep) leads again",
        _back,
        writes=True,
        example="<@U0123ABCD>",
    ),
    Subcommand.ROUTING: Usage(
        "routing <lead>", "why routing gave a lead to whom it did", _routing, example="42"
    ),
    Subcommand.HELP: Usage("help", "this list", _help),
}
NAMES = ", ".join(f"`{name}`" for name in COMMANDS)

HELP_TEXT = "\n".join(
    [
        "*/leads* shows and moves leads. Replies are only visible to you; add `share` to post "
        "one to the channel.",
        *(usage.help_line() for usage in COMMANDS.values()),
        f"Periods: {PERIODS_SHOWN}. A lead is its number, e.g. `42` or `#42`.",
    ]
)
