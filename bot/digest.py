"""The weekly digest for marketing: the period's numbers, top rejection reasons by source and
the funnel."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import outbox, reply_blocks
from bot.acceptance_trend import trend_period
from bot.cards import Message
from bot.funnel_blocks import funnel_section
from bot.periods import Period, parse_period
from bot.reports import handoff_stats, rejection_feedback
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from bot.tuning import tuning_report
from bot.tuning_blocks import digest_tuning_blocks
from storage import once

DIGEST_PERIOD = "7d"


def digest_message(
    session: Session, *, period: Period, rules: Rules, policies: SlaPolicies
) -> Message:
    stats = handoff_stats(session, period=period, policies=policies)
    groups = rejection_feedback(session, period=period, reasons=rules.reasons)
    title = f"Lead handoff digest, {period.label}"
    blocks = [
        reply_blocks.header(title),
        *reply_blocks.stats_blocks(
            stats, title=reply_blocks.HANDOFF_NUMBERS, times=reply_blocks.times_counted(rules)
        ),
        {"type": "divider"},
        *reply_blocks.feedback_blocks(groups, title="Top rejection reasons by source"),
        {"type": "divider"},
        *funnel_section(session, period=period, rules=rules),
    ]
    if rules.scoring is not None:  # without a model there are no rules to tune
        report = tuning_report(session, period=period, model=rules.scoring, reasons=rules.reasons)
        blocks += [{"type": "divider"}, *digest_tuning_blocks(report)]
    text = (
        f"{title}: {reply_blocks.counted(stats.handed_off, 'SQL')} handed off, "
        f"{reply_blocks.percent(stats.acceptance_rate)} accepted, "
        f"{reply_blocks.counted(stats.sla_breaches, 'SLA breach', 'SLA breaches')}."
    )
    return reply_blocks.message(text, blocks)


def send_digest(session: Session, *, rules: Rules, policies: SlaPolicies, now: datetime) -> bool:
    """Queue the digest to the marketing channel, at most once per local day: several
    processes run the same cron job, and the first to record the day sends it."""
    if not rules.digest.enabled or rules.digest_channel is None:
        return False
    zone = ZoneInfo(rules.hours.timezone)
    period_key = f"digest:{now.astimezone(zone).date().isoformat()}"
    if not once.digest_first_sent(session, period_key=period_key, now=now):
        return False
    return queue_digest(session, rules=rules, policies=policies, now=now)


def queue_digest(session: Session, *, rules: Rules, policies: SlaPolicies, now: datetime) -> bool:
    """Queue the last seven days' digest to the marketing channel now, whether or not today's
    went out (someone asked for it), and after it the chart of the weekly acceptance rates
    (bot.acceptance_trend); False when the digest is off or has no channel."""
    channel = rules.digest_channel
    if not rules.digest.enabled or channel is None:
        return False
    period = parse_period(DIGEST_PERIOD, now=now, timezone=ZoneInfo(rules.hours.timezone))
    message = digest_message(session, period=period, rules=rules, policies=policies)
    outbox.channel_message(
        session, channel=channel, text=message.text, blocks=message.blocks, now=now
    )
    outbox.channel_chart(
        session,
        channel=channel,
        chart=outbox.Chart.ACCEPTANCE_TREND,
        period=trend_period(period.end),
        now=now,
    )
    return True
