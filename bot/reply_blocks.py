"""Block Kit for answers about many leads: lists, SLA health, numbers, feedback (used by /leads,
App Home and the digest), kept inside Slack's limits however much data there is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot import block_kit
from bot.block_kit import Json
from bot.business_hours import WEEKDAYS
from bot.cards import Message
from bot.periods import Period
from bot.reports import FeedbackGroup, HandoffStats, ReasonCount
from bot.rules import Rules
from bot.score_explanation import Score
from bot.slack_ids import ActionId
from bot.slack_text import (
    BUTTON_TEXT_LIMIT,
    FIELD_LIMIT,
    HEADER_LIMIT,
    MESSAGE_BLOCKS_LIMIT,
    SECTION_LIMIT,
    clip,
    lead_title,
    mention,
    safe_text,
    slack_date,
)
from storage.leads import WAITING, SlaHealth
from storage.models import Lead

LIST_LIMIT = 15  # leads shown in one list; the rest are counted
HANDOFF_NUMBERS = "Handoff numbers"  # everyone's, as stats, App Home and the digest title them
MQL_TITLE = "MQLs, highest score first"  # `/leads mql` and the marketer's App Home
MQL_WHY_LIMIT = 120  # characters of an MQL's leading contributions in a list


def header(text: str) -> Json:
    return block_kit.header(clip(text, HEADER_LIMIT))


def section(text: str, *, accessory: Json | None = None) -> Json:
    return block_kit.section(clip(text, SECTION_LIMIT), accessory=accessory)


def fields(*texts: str) -> Json:
    """Up to ten short label/value cells, two to a row."""
    return block_kit.section(fields=[clip(t, FIELD_LIMIT) for t in texts])


def context(text: str) -> Json:
    return block_kit.context([clip(text, SECTION_LIMIT)])


def button(text: str, action: ActionId, value: str) -> Json:
    return block_kit.button(clip(text, BUTTON_TEXT_LIMIT), action_id=action.value, value=value)


def permalink(lead: Lead, team_domain: str | None) -> str | None:
    """Slack's permalink form; built, not asked for, so a long list costs no API calls."""
    if not (team_domain and lead.slack_channel and lead.slack_ts):
        return None
    return (
        f"https://{team_domain}.slack.com/archives/{lead.slack_channel}/"
        f"p{lead.slack_ts.replace('.', '')}"
    )


def lead_line(lead: Lead, team_domain: str | None) -> str:
    name = lead_title(lead)
    link = permalink(lead, team_domain)
    title = f"<{link}|{name}>" if link else name
    parts = [f"*{title}*", f"#{lead.id}", lead.status]
    if lead.status in WAITING and lead.claim_due_at and not lead.owner_id:
        parts.append(f"claim by {slack_date(lead.claim_due_at)}")
    if lead.owner_id:
        parts.append(mention(lead.owner_id))
        if lead.follow_up_due_at:
            parts.append(f"contact by {slack_date(lead.follow_up_due_at)}")
    return "• " + " · ".join(parts)


def mql_line(lead: Lead, team_domain: str | None) -> str:
    """A lead kept for marketing: its line, its score and what gives it most, e.g.
    `… · score *58*: decision maker +25, pricing page 1× +8`."""
    line = f"{lead_line(lead, team_domain)} · score *{lead.score}*"
    score = Score.from_json(lead.score_explanation)
    leading = ", ".join(c.text() for c in score.leading()) if score else ""
    line = f"{line}: {safe_text(leading, MQL_WHY_LIMIT)}" if leading else line
    if lead.last_activity_at is not None:
        line += f" · last activity {slack_date(lead.last_activity_at)}"
    return line


def mql_blocks(
    leads: Sequence[Lead], total: int, recycled: int, team_domain: str | None, *, title: str
) -> list[dict[str, Any]]:
    """The MQLs (storage.leads.list_mqls), hottest first, and how many are recycled: the same
    in `/leads mql` and the marketer's App Home."""
    empty = "No MQL: every lead scored is an SQL, or there is no scoring model."
    blocks = lead_list(title, leads, total, team_domain, empty, line=mql_line)
    if recycled:
        blocks.append(context(f"Recycled (gone cold, back to nurture): {recycled}"))
    return blocks


def lead_list(
    title: str,
    leads: Sequence[Lead],
    total: int,
    team_domain: str | None,
    empty: str,
    line: Callable[[Lead, str | None], str] = lead_line,
) -> list[dict[str, Any]]:
    if not leads:
        return [section(f"*{title}*\n{empty}")]
    lines = [line(lead, team_domain) for lead in leads[:LIST_LIMIT]]
    blocks = [section(f"*{title}* ({total})\n" + "\n".join(lines))]
    if total > len(lines):
        blocks.append(context(f"…and {total - len(lines)} more."))
    return blocks


def health_blocks(health: SlaHealth) -> list[dict[str, Any]]:
    return [
        section(
            "*Waiting for a rep:* "
            f"{health.waiting} ({health.waiting_overdue} past their deadline, "
            f"{health.waiting_due_soon} due within the hour)\n"
            f"*Claimed, not yet contacted:* {health.claimed} "
            f"({health.follow_up_overdue} past the follow-up deadline, "
            f"{health.follow_up_due_soon} due within the hour)\n"
            f"*Escalated now:* {health.escalated}"
        )
    ]


@dataclass(frozen=True)
class TimesCounted:
    """How the reports' durations are counted, in words: `unit` for a field's label, `note`
    saying it in full (which policies count business hours, and the team's hours)."""

    unit: str
    note: str
    in_days: bool  # wall-clock only: a long time reads best in days, business hours never do


def times_counted(rules: Rules) -> TimesCounted:
    """Times count as each lead's SLA policy counts (bot.report_facts): business hours for the
    policies that say so, the clock for the others."""
    working = [policy.name for policy in rules.sla if policy.business_hours]
    clock = [policy.name for policy in rules.sla if not policy.business_hours]
    hours = rules.hours
    calendar = f"{_weekdays(hours.days)} {hours.start:%H:%M}–{hours.end:%H:%M} {hours.timezone}" + (
        f", {hours.holidays} holidays off" if hours.holidays else ""
    )
    if not clock:
        return TimesCounted("business hours", f"Times count business hours ({calendar}).", False)
    if not working:
        return TimesCounted("wall-clock", "Times count wall-clock time.", True)
    return TimesCounted(
        "by SLA policy",
        f"Times count business hours ({calendar}) for {_names(working)} leads "
        f"and wall-clock time for {_names(clock)} leads.",
        False,
    )


def _weekdays(days: Sequence[str]) -> str:
    """`Mon–Fri` for a run of days, else `Mon, Wed, Fri`."""
    order = [WEEKDAYS.index(day) for day in days]
    names = [WEEKDAYS[day].capitalize() for day in sorted(order)]
    runs = sorted(order) == list(range(min(order), max(order) + 1)) and len(order) > 2
    return f"{names[0]}–{names[-1]}" if runs else ", ".join(names)


def _names(policies: Sequence[str]) -> str:
    return ", ".join(safe_text(name, 40) for name in policies)


def duration(value: timedelta | None, *, in_days: bool = True) -> str:
    """`45 min`, `7 h 16 min`; past two days `2.5 days` when `in_days` (wall-clock time)."""
    if value is None:
        return "–"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours / 24:.1f} days" if in_days and hours >= 48 else f"{hours} h {minutes:02d} min"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def stats_heading(title: str, period: Period) -> str:
    """`Handoff numbers, this week`: what the numbers are, and of when."""
    return f"{title}, {period.label}"


def stats_blocks(stats: HandoffStats, *, title: str, times: TimesCounted) -> list[dict[str, Any]]:
    """The handoff numbers as /leads stats, App Home and the digest all show them. A rep's own
    numbers (`stats.rep`) leave out the leads not yet decided: by definition none are theirs."""

    def times_of(median: timedelta | None, p90: timedelta | None) -> str:
        shown = (duration(value, in_days=times.in_days) for value in (median, p90))
        return " / ".join(shown)

    cells = [
        f"*Handed off*\n{stats.handed_off}",
        f"*Accepted / rejected*\n{stats.accepted} / {stats.rejected}",
        f"*Acceptance rate*\n{percent(stats.acceptance_rate)}",
        *([] if stats.rep else [f"*Not yet accepted or rejected*\n{stats.still_open}"]),
        f"*Time to claim* (median / p90, {times.unit})\n"
        + times_of(stats.median_time_to_claim, stats.p90_time_to_claim),
        f"*Time to first contact* (median / p90, {times.unit})\n"
        + times_of(stats.median_time_to_contact, stats.p90_time_to_contact),
        f"*SLA breaches*\n{stats.sla_breaches} ({percent(stats.breach_rate)} of handed off)",
        "*Outcomes so far*\n"
        f"{stats.opportunities} opportunities · {stats.won} won · {stats.lost} lost",
    ]
    blocks = [
        section(f"*{stats_heading(title, stats.period)}*"),
        fields(*cells),
        context(
            "Of the leads handed off in this period, and what became of them so far. "
            "Median / p90: half of them took at most the first time, nine in ten at most the "
            f"second. {times.note}"
        ),
    ]
    if stats.per_rep:
        lines = [
            f"• {mention(rep.rep_id)}: {rep.open} open now, {rep.accepted} accepted, "
            f"{rep.contacted} contacted"
            for rep in stats.per_rep[:LIST_LIMIT]
        ]
        blocks.append(section("*Per rep*\n" + "\n".join(lines)))
        blocks.append(
            context(
                "Open now: every lead the rep holds, claimed and not yet contacted, whenever it "
                "arrived. Accepted, contacted: of this period's leads."
            )
        )
    return blocks


def reason_lines(reasons: Sequence[ReasonCount], *, notes: bool) -> str:
    lines = []
    for reason in reasons:
        line = f"• {safe_text(reason.label, 80)}: {reason.count} ({percent(reason.share)})"
        if notes and reason.example_notes:
            line += " — _" + safe_text(reason.example_notes[0], 150) + "_"
        lines.append(line)
    return "\n".join(lines)


def feedback_blocks(
    groups: Sequence[FeedbackGroup], *, title: str, notes: bool = True
) -> list[dict[str, Any]]:
    if not groups:
        return [section(f"*{title}*\nNo rejections in this period.")]
    blocks = [section(f"*{title}*")]
    for group in groups[:LIST_LIMIT]:
        where = safe_text(group.source, 100)
        if group.campaign:
            where += f" / {safe_text(group.campaign, 100)}"
        rejections = counted(group.rejected, "rejection")
        blocks.append(
            section(f"*{where}*: {rejections}\n{reason_lines(group.reasons, notes=notes)}")
        )
    if len(groups) > LIST_LIMIT:
        blocks.append(context(f"…and {len(groups) - LIST_LIMIT} more sources or campaigns."))
    # Beside the handoff numbers (the digest), whose "rejected" counts leads by their first
    # decision, this says why the two may differ.
    blocks.append(
        context("Rejections made in this period, whenever the lead arrived; each one counts.")
    )
    return blocks


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 rejection`, `3 rejections`: a count with its noun (`plural`, or the noun and an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"


def message(text: str, blocks: list[dict[str, Any]]) -> Message:
    return Message(text=clip(text, SECTION_LIMIT), blocks=blocks[:MESSAGE_BLOCKS_LIMIT])
