"""Block Kit for answers about many leads: lists, SLA health, numbers, feedback (used by /leads,
App Home and the digest), kept inside Slack's limits however much data there is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.cards import Message
from bot.reports import FeedbackGroup, HandoffStats, ReasonCount
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


def header(text: str) -> dict[str, Any]:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT))).to_dict()


def section(text: str, *, accessory: ButtonElement | None = None) -> dict[str, Any]:
    text_object = MarkdownTextObject(text=clip(text, SECTION_LIMIT))
    return SectionBlock(text=text_object, accessory=accessory).to_dict()


def fields(*texts: str) -> dict[str, Any]:
    """Up to ten short label/value cells, two to a row."""
    return SectionBlock(
        fields=[MarkdownTextObject(text=clip(t, FIELD_LIMIT)) for t in texts]
    ).to_dict()


def context(text: str) -> dict[str, Any]:
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, SECTION_LIMIT))]).to_dict()


def button(text: str, action: ActionId, value: str) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=clip(text, BUTTON_TEXT_LIMIT)),
        action_id=action.value,
        value=value,
    )


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


def lead_list(
    title: str, leads: Sequence[Lead], total: int, team_domain: str | None, empty: str
) -> list[dict[str, Any]]:
    if not leads:
        return [section(f"*{title}*\n{empty}")]
    lines = [lead_line(lead, team_domain) for lead in leads[:LIST_LIMIT]]
    blocks = [section(f"*{title}* ({total})\n" + "\n".join(lines))]
    if total > len(lines):
        blocks.append(context(f"…and {total - len(lines)} more."))
    return blocks


def health_blocks(health: SlaHealth) -> list[dict[str, Any]]:
    return [
        section(
            "*Waiting for a rep:* "
            f"{health.waiting} ({health.waiting_overdue} past the claim deadline, "
            f"{health.waiting_due_soon} due within the hour)\n"
            f"*Claimed, not yet contacted:* {health.claimed} "
            f"({health.follow_up_overdue} overdue, "
            f"{health.follow_up_due_soon} due within the hour)\n"
            f"*Escalated now:* {health.escalated}"
        )
    ]


def duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours / 24:.1f} days"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def stats_blocks(stats: HandoffStats, *, title: str) -> list[dict[str, Any]]:
    blocks = [
        section(f"*{title}: {stats.period.label}*"),
        fields(
            f"*Handed off*\n{stats.handed_off}",
            f"*Accepted / rejected*\n{stats.accepted} / {stats.rejected}",
            f"*Acceptance rate*\n{percent(stats.acceptance_rate)}",
            f"*Still open*\n{stats.still_open}",
            "*Time to claim* (median / p90)\n"
            f"{duration(stats.median_time_to_claim)} / {duration(stats.p90_time_to_claim)}",
            "*Time to first contact* (median / p90)\n"
            f"{duration(stats.median_time_to_contact)} / {duration(stats.p90_time_to_contact)}",
            f"*SLA breaches*\n{stats.sla_breaches} ({percent(stats.breach_rate)} of handed off)",
            "*Outcomes so far*\n"
            f"{stats.opportunities} opportunities · {stats.won} won · {stats.lost} lost",
        ),
    ]
    if stats.per_rep:
        lines = [
            f"• {mention(rep.rep_id)}: {rep.open} open, {rep.accepted} accepted, "
            f"{rep.contacted} contacted"
            for rep in stats.per_rep[:LIST_LIMIT]
        ]
        blocks.append(section("*Per rep*\n" + "\n".join(lines)))
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
        blocks.append(
            section(
                f"*{where}*: {group.rejected} rejected\n{reason_lines(group.reasons, notes=notes)}"
            )
        )
    if len(groups) > LIST_LIMIT:
        blocks.append(context(f"…and {len(groups) - LIST_LIMIT} more sources or campaigns."))
    return blocks


def message(text: str, blocks: list[dict[str, Any]]) -> Message:
    return Message(text=clip(text, SECTION_LIMIT), blocks=blocks[:MESSAGE_BLOCKS_LIMIT])
