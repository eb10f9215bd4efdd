"""Block Kit for a lead: the channel card and direct messages, drawn whole from the stored row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import notices
from bot.outbox import DmKind
from bot.slack_ids import ActionId
from bot.slack_text import (
    ELLIPSIS,
    FIELD_LIMIT,
    HEADER_LIMIT,
    LABEL_LIMIT,
    SECTION_LIMIT,
    as_utc,
    clip,
    deal_text,
    lead_title,
    mention,
    safe_text,
    slack_date,
)
from storage.models import Lead, LeadStatus

S = LeadStatus
SIGNALS_SHOWN = 5
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """What chat.postMessage and chat.update take; `text` is the plain notification fallback."""

    text: str
    blocks: list[dict[str, Any]]


def lead_card(lead: Lead, *, reasons: Mapping[str, str], now: datetime | None = None) -> Message:
    """The card for the lead's current state; it replaces the whole previous card on every change.

    `now` marks a deadline that has already passed.
    """
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(text=safe_text(lead.name or "Unnamed lead", HEADER_LIMIT))
        ),
        *_detail_blocks(lead),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=status_text(lead, reasons, now))),
    ]
    buttons = _card_buttons(lead)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    # Escaped as well: Slack parses the top-level text, and it is what notifications show.
    text = f"{lead_title(lead)}: {safe_text(_summary(lead, reasons), LABEL_LIMIT)}"
    return Message(text=text, blocks=[block.to_dict() for block in blocks])


def lead_dm(lead: Lead, *, kind: DmKind, reasons: Mapping[str, str]) -> Message:
    """A DM about one lead: why it is sent, the lead's details, where it stands, what to do.

    Built from the stored lead like the card, so the buttons offered are those still possible.
    """
    intro = notices.dm_intro(lead, kind)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        *_detail_blocks(lead),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=status_text(lead, reasons, None))),
    ]
    buttons = _card_buttons(lead)
    if kind != DmKind.ESCALATION:
        buttons = [b for b in buttons if b.action_id == ActionId.MARK_CONTACTED]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    text = clip(intro.replace("*", ""), SECTION_LIMIT)
    return Message(text=text, blocks=[block.to_dict() for block in blocks])


# --------------------------------------------------------------------------- details


def _detail_blocks(lead: Lead) -> list[Block]:
    """Who the lead is, why it is an SQL, and where to read more; the same in card and DM."""
    blocks: list[Block] = []
    who = _fields(
        ("Title", lead.title),
        ("Company", lead.company),
        ("Email", lead.email),
        ("Phone", lead.phone),
        ("Company size", lead.company_size),
        ("Industry", lead.industry),
        ("Country", lead.country),
        ("Segment", lead.segment),
    )
    why = _fields(
        ("Source", lead.source),
        ("Campaign", lead.campaign),
        ("Score", lead.score),
        ("Intent", lead.intent),
    )
    bant = _fields(
        ("Budget", lead.budget),
        ("Authority", lead.authority),
        ("Need", lead.need),
        ("Timeline", lead.timeline),
    )
    blocks.extend(SectionBlock(fields=fields) for fields in (who, why) if fields)
    signals = _signals_text(lead.activities or [])
    if signals:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=signals)))
    if bant:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*BANT*"), fields=bant))
    if lead.notes and lead.notes.strip():
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_labelled("Notes", lead.notes))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=t) for t in _context(lead)]))
    return blocks


def _labelled(label: str, value: str, limit: int = SECTION_LIMIT) -> str:
    prefix = f"*{label}*\n"
    return prefix + safe_text(value, limit - len(prefix))


def _fields(*pairs: tuple[str, str | int | None]) -> list[MarkdownTextObject]:
    """Section fields for the values that are known (at most 8 pairs are passed; Slack takes 10)."""
    return [
        MarkdownTextObject(text=_labelled(label, str(value), FIELD_LIMIT))
        for label, value in pairs
        if value is not None and str(value).strip()
    ]


def _signals_text(activities: list[Any]) -> str | None:
    """The first few activities that made the lead an SQL, sharing one section's length."""
    items = [item for item in activities if isinstance(item, Mapping)]
    if not items:
        return None
    title = "*Signals*"
    hidden = len(items) - SIGNALS_SHOWN
    tail = f"\n+{hidden} more" if hidden > 0 else ""
    shown = items[:SIGNALS_SHOWN]
    room = (SECTION_LIMIT - len(title) - len(tail)) // len(shown) - 1  # 1 for the newline
    return title + "".join("\n" + _signal_line(item, room) for item in shown) + tail


def _signal_line(activity: Mapping[str, Any], limit: int) -> str:
    kind = safe_text(str(activity.get("type") or "activity"), LABEL_LIMIT // 2)
    at = _parse_time(activity.get("at"))
    when = f" ({slack_date(at)})" if at else ""
    head = f"• *{kind}*"
    detail = activity.get("detail")
    room = limit - len(head) - len(when) - len(": ")
    if detail and room > len(ELLIPSIS):
        return f"{head}: {safe_text(str(detail), room)}{when}"
    return head + when


def _context(lead: Lead) -> list[str]:
    parts = [f"Lead #{lead.id}"]
    if lead.sla_policy:
        parts.append(f"SLA policy: {safe_text(lead.sla_policy, LABEL_LIMIT)}")
    link = _crm_link(lead.crm_url)
    if link:
        parts.append(link)
    return parts


def _crm_link(url: str | None) -> str | None:
    """A mrkdwn link to the CRM record (a link, not a button, so clicking it needs no ack),
    naming the host it opens, so a reader sees where it leads before clicking.

    Intake accepts only http(s) URLs without user info (`https://crm.example@evil.example/`
    opens evil.example); anything else stored is left out rather than linked.
    """
    if not url or not _URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        return None
    if "@" in parts.netloc or not parts.hostname:
        return None
    # `&` is escaped the Slack way; `<`, `>` and `|` would end the link, so they are URL-encoded.
    target = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    host = safe_text(parts.hostname, LABEL_LIMIT).replace("|", "%7C")
    link = f"<{target}|Open in CRM ({host})>"
    return link if len(link) <= SECTION_LIMIT else None


# --------------------------------------------------------------------------- status


def status_text(lead: Lead, reasons: Mapping[str, str], now: datetime | None) -> str:
    """Who did what and when, then the running deadline, if any."""
    status = lead.status
    if status in (S.NEW, S.OPEN):
        line = "Open: waiting for a rep"
    elif status == S.ESCALATED:
        breached = f" at {slack_date(lead.escalated_at)}" if lead.escalated_at else ""
        line = f"⚠️ SLA breached{breached}, escalated"
    elif status == S.ACCEPTED:
        line = f"✅ Claimed by {mention(lead.owner_id)}{_on(lead.accepted_at)}"
    elif status == S.REJECTED:
        return _rejected_text(lead, reasons)
    elif status == S.CONTACTED:
        line = f"📞 Contacted by {mention(lead.owner_id)}{_on(lead.contacted_at)}"
    elif status == S.OPPORTUNITY:
        line = f"💼 Opportunity for {mention(lead.owner_id)}{_on(lead.opportunity_at)}"
        line += _deal(lead)
    elif status == S.WON:
        line = f"🏆 Won by {mention(lead.owner_id)}{_on(lead.closed_at)}{_deal(lead)}"
    else:
        line = f"🏁 Lost by {mention(lead.owner_id)}{_on(lead.closed_at)}{_deal(lead)}"
    deadline = _deadline(lead, now)
    return f"{line}\n{deadline}" if deadline else line


def _deal(lead: Lead) -> str:
    """` · 12,000 EUR: two-year contract`: the deal's amount and why, as the CRM gave them."""
    deal = deal_text(lead.outcome_amount, lead.outcome_currency)
    text = f" · {safe_text(deal, LABEL_LIMIT)}" if deal else ""
    if lead.outcome_reason:
        text += f": {safe_text(lead.outcome_reason, LABEL_LIMIT)}"
    return text


def _rejected_text(lead: Lead, reasons: Mapping[str, str]) -> str:
    code = lead.reject_reason or "unknown"
    label = safe_text(reasons.get(code, code), LABEL_LIMIT)
    line = f"❌ Rejected by {mention(lead.rejected_by)}{_on(lead.rejected_at)}: {label}"
    if not lead.reject_note or not lead.reject_note.strip():
        return line
    separator = " — "
    room = SECTION_LIMIT - len(line) - len(separator)
    return f"{line}{separator}{safe_text(lead.reject_note.strip(), room)}"


def _deadline(lead: Lead, now: datetime | None) -> str | None:
    """The SLA deadline the current state is racing: the claim window, or the follow-up one."""
    if lead.status in (S.OPEN, S.ESCALATED) and lead.claim_due_at:
        label, due = "Claim by", lead.claim_due_at
    elif lead.status == S.ACCEPTED and lead.follow_up_due_at:
        label, due = "Follow up by", lead.follow_up_due_at
    else:
        return None
    passed = " (passed)" if now is not None and as_utc(due) <= as_utc(now) else ""
    return f"⏰ {label} {slack_date(due)}{passed}"


def _summary(lead: Lead, reasons: Mapping[str, str]) -> str:
    """The state in a few plain words, for the notification text."""
    status = lead.status
    if status == S.REJECTED:
        code = lead.reject_reason or "unknown"
        return f"rejected ({reasons.get(code, code)})"
    return {
        S.NEW: "new SQL, waiting for a rep",
        S.OPEN: "new SQL, waiting for a rep",
        S.ESCALATED: "SLA breached, waiting for a rep",
        S.ACCEPTED: "claimed",
        S.CONTACTED: "contacted",
        S.OPPORTUNITY: "opportunity",
        S.WON: "won",
        S.LOST: "lost",
    }[status]


def _card_buttons(lead: Lead) -> list[ButtonElement]:
    status = lead.status
    if status == S.ESCALATED and lead.owner_id:  # breached follow-up, not reopened: still theirs
        status = S.ACCEPTED
    if status in (S.NEW, S.OPEN, S.ESCALATED):
        return [
            _button(lead, "Accept", ActionId.ACCEPT, "primary"),
            _button(lead, "Reject", ActionId.REJECT, "danger"),
        ]
    if status == S.ACCEPTED:
        return [
            _button(lead, "Mark contacted", ActionId.MARK_CONTACTED, "primary"),
            _button(lead, "Release", ActionId.RELEASE, None),
        ]
    return []


def _button(lead: Lead, text: str, action: ActionId, style: str | None) -> ButtonElement:
    """A lead button; its value is the lead id, all a listener needs to find the lead again."""
    return ButtonElement(
        text=PlainTextObject(text=text, emoji=True),
        action_id=action.value,
        value=str(lead.id),
        style=style,
    )


def _on(when: datetime | None) -> str:
    return f" {slack_date(when)}" if when else ""


def _parse_time(value: Any) -> datetime | None:
    """An activity's `at`, stored as ISO text by intake; anything unreadable is left out."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None
