"""The App Home tab: each role's own view of the handoff, drawn from current state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import block_kit, delivery_failures, outbox, reply_blocks
from bot.funnel_blocks import funnel_section
from bot.lifecycle import Actor
from bot.periods import Period, parse_period
from bot.rep_directory import Directory
from bot.reports import handoff_stats, rejection_feedback, rejections_in
from bot.roster import roster_blocks
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from bot.slack_ids import ActionId
from bot.slack_text import VIEW_BLOCKS_LIMIT
from storage import leads as lead_store
from storage import once
from storage.models import Lead, LeadStatus

HOME_LIST = 8
TREND_WEEKS = 4
FUNNEL_PERIOD = "30d"  # long enough for leads to move down the funnel


def home_opened(session: Session, *, event_id: str, actor: Actor, now: datetime) -> bool:
    """Queue a redraw of the actor's home, once per Slack event (Slack retries events)."""
    if not once.event_first_seen(session, event_id=event_id, now=now):
        return False
    request_home(session, actor=actor, now=now)
    return True


def request_home(session: Session, *, actor: Actor, now: datetime) -> None:
    outbox.publish_home(
        session,
        user_id=actor.id,
        manager=actor.is_manager,
        marketer=actor.is_marketer,
        now=now,
    )


def home_view(
    session: Session,
    *,
    actor: Actor,
    rules: Rules,
    policies: SlaPolicies,
    now: datetime,
    directory: Directory,
) -> dict[str, Any]:
    """A rep sees their leads and the queue; a manager adds SLA health, the week's numbers and
    who routing can give leads to (what Slack says of reps from `directory`); a marketer sees
    the hottest MQLs, why sales rejected leads, by source, and the weekly trend."""
    zone = ZoneInfo(rules.hours.timezone)
    blocks: list[dict[str, Any]] = [reply_blocks.header("Baton: the lead handoff")]
    if actor.is_marketer and not actor.is_manager:
        blocks += _marketer(session, rules=rules, now=now, zone=zone)
    else:
        blocks += _rep(session, actor=actor)
        if actor.is_manager:
            blocks += _manager(session, rules=rules, policies=policies, now=now, zone=zone)
            blocks += roster_blocks(session, rules=rules, directory=directory, now=now)
    return {"type": "home", "blocks": blocks[:VIEW_BLOCKS_LIMIT]}


def _rep(session: Session, *, actor: Actor) -> list[dict[str, Any]]:
    mine, mine_total = lead_store.list_claimed(session, limit=HOME_LIST, owner_id=actor.id)
    waiting, waiting_total = lead_store.list_waiting(session, limit=HOME_LIST)
    blocks = [reply_blocks.section(f"*Your open leads* ({mine_total})")]
    for lead in mine:  # only this rep sees them: their moves, Release included
        blocks += _with_owner_buttons(lead)
    if not mine:
        blocks.append(reply_blocks.context("Nothing waiting on you."))
    blocks.append({"type": "divider"})
    blocks.append(reply_blocks.section(f"*Waiting for a rep* ({waiting_total})"))
    blocks += [_with_button(lead, "Accept", ActionId.ACCEPT) for lead in waiting]
    if not waiting:
        blocks.append(reply_blocks.context("Every lead has an owner."))
    return blocks


def _manager(
    session: Session, *, rules: Rules, policies: SlaPolicies, now: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    health = lead_store.sla_health(session, now=now, soon=now + timedelta(hours=1))
    stats = handoff_stats(
        session, period=parse_period("this-week", now=now, timezone=zone), policies=policies
    )
    return [
        {"type": "divider"},
        reply_blocks.section("*SLA health*"),
        *reply_blocks.health_blocks(health),
        *delivery_failures.recent_blocks(session, now=now),
        {"type": "divider"},
        *reply_blocks.stats_blocks(
            stats, title=reply_blocks.HANDOFF_NUMBERS, times=reply_blocks.times_counted(rules)
        ),
        {"type": "divider"},
        *_funnel(session, rules=rules, now=now, zone=zone),
    ]


def _marketer(
    session: Session, *, rules: Rules, now: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    month = parse_period("30d", now=now, timezone=zone)
    groups = rejection_feedback(session, period=month, reasons=rules.reasons)
    trend = []
    for weeks_ago in range(TREND_WEEKS - 1, -1, -1):
        end = now - timedelta(weeks=weeks_ago)
        week = Period(start=end - timedelta(weeks=1), end=end, label="")
        trend.append(str(rejections_in(session, period=week)))
    mqls, mql_total, recycled = lead_store.list_mqls(session, limit=HOME_LIST)
    return [
        *reply_blocks.mql_blocks(mqls, mql_total, recycled, None, title=reply_blocks.MQL_TITLE),
        {"type": "divider"},
        *_funnel(session, rules=rules, now=now, zone=zone),
        {"type": "divider"},
        *reply_blocks.feedback_blocks(groups, title="Why sales rejected leads, last 30 days"),
        reply_blocks.context(
            f"Rejections per week, last {TREND_WEEKS} weeks (oldest first): {', '.join(trend)}"
        ),
    ]


def _funnel(
    session: Session, *, rules: Rules, now: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """The last FUNNEL_PERIOD's funnel, for managers and marketers."""
    period = parse_period(FUNNEL_PERIOD, now=now, timezone=zone)
    return funnel_section(session, period=period, rules=rules)


def _with_owner_buttons(lead: Lead) -> list[dict[str, Any]]:
    line = reply_blocks.lead_line(lead, None)
    moves = [("Mark contacted", ActionId.MARK_CONTACTED)]
    if lead.status == LeadStatus.ACCEPTED:  # an escalated lead is a manager's to move on
        moves.append(("Release", ActionId.RELEASE))
    moves.append(("Details", ActionId.DETAILS))
    buttons = [reply_blocks.button(text, action, str(lead.id)) for text, action in moves]
    return [reply_blocks.section(line), block_kit.actions(buttons)]


def _with_button(lead: Lead, text: str, action: ActionId) -> dict[str, Any]:
    line = reply_blocks.lead_line(lead, None)
    return reply_blocks.section(line, accessory=reply_blocks.button(text, action, str(lead.id)))
