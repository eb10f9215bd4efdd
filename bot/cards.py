"""Block Kit for a lead: the compact channel card, direct messages, and the details the Details
modal shows, drawn whole from the stored row."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot import block_kit, lead_updates, notices
from bot.block_kit import ButtonStyle, Json
from bot.outbox import DmKind
from bot.score_explanation import Score, breakdown, why_line
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
SIGNAL_LIMIT = 150  # characters of the strongest signal on the card
SCORE_WHY_LIMIT = 200  # characters of the scoring model's reasons on the card
CARD_NOTE_LIMIT = 150  # characters of a reject note on the card; Details shows it whole
SIGNAL_LINE_LIMIT = 700  # one signal in Details: its type, detail (≤ 500) and time
NOTES_LIMIT = 15_000  # notes in Details, escaped (intake takes 5,000 characters)
CHANGE_LIMIT = 300  # characters of the latest data change's words on the card
# The card's block ids, so whatever reads the card back (a test, a redraw) finds each part.
WHO_BLOCK, WHY_BLOCK, STATE_BLOCK, BUTTONS_BLOCK = "who", "why", "state", "buttons"
CHANGED_BLOCK = "changed"
# What a DM to the owner may offer: the owner's moves, never Accept or Reject.
_OWNER_ACTIONS = frozenset({ActionId.MARK_CONTACTED, ActionId.RELEASE, ActionId.DETAILS})
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Every column of a lead the channel card is drawn from (tests/bot/test_card_blocks.py checks
# that `lead_card` reads no other), for `card_facts`.
CARD_COLUMNS = (
    "id",
    "status",
    "sla_policy",
    "name",
    "title",
    "company",
    "score",
    "score_explanation",
    "promoted_why",
    "intent",
    "activities",
    "offered_to",
    "owner_id",
    "escalated_at",
    "accepted_at",
    "contacted_at",
    "opportunity_at",
    "closed_at",
    "outcome_amount",
    "outcome_currency",
    "outcome_reason",
    "rejected_by",
    "rejected_at",
    "reject_reason",
    "reject_note",
    "claim_due_at",
    "follow_up_due_at",
    "data_changed_at",
    "data_changes",
)


@dataclass(frozen=True)
class Message:
    """What chat.postMessage and chat.update take; `text` is the plain notification fallback."""

    text: str
    blocks: list[dict[str, Any]]


def lead_card(
    lead: Lead,
    *,
    reasons: Mapping[str, str],
    now: datetime | None = None,
    emojis: Mapping[str, str] | None = None,
) -> Message:
    """The compact card for the lead's current state; it replaces the whole previous card on
    every change. It says at a glance how urgent (the SLA policy, with its emoji from `emojis`),
    who, why, where it stands and by when; everything else is behind **Details**.

    The channel card offers only what anyone may press on an unclaimed lead, or the owner's next
    step on a claimed one; Release lives where Baton knows who looks (the owner's DM, App Home,
    `/leads release`). `now` marks a deadline that has already passed.
    """
    blocks = glance_blocks(lead, reasons=reasons, now=now, emojis=emojis)
    blocks.append(_actions(_card_buttons(lead, for_owner=False)))
    return Message(text=_fallback(lead, reasons, emojis), blocks=blocks)


def card_facts(lead: Lead) -> tuple[object, ...]:
    """What the channel card shows of `lead`: two leads with equal facts draw the same card (for
    the same reasons and emojis), so whether a card already posted still draws a lead is told
    without drawing it again. Times compare as the instants the card shows; anything else by
    type and value (`1` and `True`, `1.5` and `1.50` differ), a status by its value."""
    return tuple(_fact(getattr(lead, column)) for column in CARD_COLUMNS)


def _fact(value: object) -> object:
    if isinstance(value, datetime):
        return as_utc(value)
    return str(value) if isinstance(value, str) else repr(value)


def lead_dm(
    lead: Lead,
    *,
    kind: DmKind,
    reasons: Mapping[str, str],
    emojis: Mapping[str, str] | None = None,
    intro: str | None = None,
    viewer: str | None = None,
    extra: Sequence[Json] = (),
) -> Message:
    """A DM to the lead's owner: why it is sent (`intro`, else the kind's), then the card's
    glance and what to do.

    Built from the stored lead like the card, so the buttons offered are those still possible;
    the owner's DM also offers Release, since only its owner sees it. For a `viewer` other than
    the owner, only Details is left. `extra` buttons (Undo) follow.
    """
    intro = intro or notices.dm_intro(lead, kind)
    blocks = [
        block_kit.section(intro),
        *glance_blocks(lead, reasons=reasons, now=None, emojis=emojis),
    ]
    buttons = [b for b in _card_buttons(lead, for_owner=True) if b["action_id"] in _OWNER_ACTIONS]
    if viewer is not None and viewer != lead.owner_id:
        buttons = [b for b in buttons if b["action_id"] == ActionId.DETAILS]
    blocks.append(_actions([*buttons, *extra]))
    text = clip(intro.replace("*", ""), SECTION_LIMIT)
    return Message(text=text, blocks=blocks)


def offer_dm(
    lead: Lead,
    *,
    intro: str,
    reasons: Mapping[str, str],
    emojis: Mapping[str, str] | None = None,
) -> Message:
    """The DM offering the lead to one rep (bot.offers): the card's glance, Accept or Pass."""
    blocks = [
        block_kit.section(intro),
        *glance_blocks(lead, reasons=reasons, now=None, emojis=emojis),
        _actions(
            [
                _button(lead, "Accept", ActionId.ACCEPT, "primary"),
                _button(lead, "Pass", ActionId.PASS, None),
                details_button(lead),
            ]
        ),
    ]
    return Message(text=clip(intro.replace("*", ""), SECTION_LIMIT), blocks=blocks)


def details_button(lead: Lead) -> Json:
    """Opens the lead's details (bot.lead_details) for whoever clicks, wherever the card is."""
    return _button(lead, "Details", ActionId.DETAILS, None)


# --------------------------------------------------------------------------- glance


def glance_blocks(
    lead: Lead,
    *,
    reasons: Mapping[str, str],
    now: datetime | None,
    emojis: Mapping[str, str] | None,
) -> list[Json]:
    """Urgency and who, why, then the state and its deadline: a line or two each; and what the
    latest repeat of the lead changed, until another changes something."""
    blocks = [block_kit.section(_who(lead, emojis), block_id=WHO_BLOCK)]
    why = _why(lead)
    if why:
        blocks.append(block_kit.section(why, block_id=WHY_BLOCK))
    # The deadline beside the state, so a card stays about five lines tall.
    state = status_text(lead, reasons, now, note_limit=CARD_NOTE_LIMIT, separator=" · ")
    blocks.append(block_kit.section(state, block_id=STATE_BLOCK))
    if lead.data_changed_at and lead.data_changes:
        changed = lead_updates.summary(lead.data_changes, CHANGE_LIMIT)
        text = f"ℹ️ Updated {slack_date(lead.data_changed_at)}: {changed}"
        blocks.append(block_kit.context([text], block_id=CHANGED_BLOCK))
    return blocks


def _who(lead: Lead, emojis: Mapping[str, str] | None) -> str:
    """`🔥 *hot* · *Dana Whitfield* · VP Operations · Northwind Traders · #42`."""
    parts = [urgency(lead, emojis)] if lead.sla_policy else []
    parts.append(f"*{safe_text(lead.name or 'Unnamed lead', HEADER_LIMIT)}*")
    parts += [safe_text(value, LABEL_LIMIT) for value in (lead.title, lead.company) if value]
    parts.append(f"#{lead.id}")
    return " · ".join(parts)


def urgency(lead: Lead, emojis: Mapping[str, str] | None) -> str:
    """The lead's SLA policy in bold, after its emoji when the policy has one."""
    policy = lead.sla_policy or "no policy yet"
    emoji = (emojis or {}).get(policy)
    named = f"*{safe_text(policy, LABEL_LIMIT)}*"
    return f"{safe_text(emoji, LABEL_LIMIT)} {named}" if emoji else named


def _why(lead: Lead) -> str | None:
    """Score (and why, when the team's scoring model gave it: bot.score_explanation), intent
    and the strongest signal (the first listed: marketing lists it first)."""
    parts = []
    if lead.score is not None:
        parts.append(f"Score *{lead.score}*")
    score = Score.from_json(lead.score_explanation)
    if score is not None:
        parts.append(safe_text(why_line(score), SCORE_WHY_LIMIT))
    if lead.promoted_why:  # an MQL that new data made an SQL (bot.promotion)
        parts.append(f"🚀 Why now: {safe_text(lead.promoted_why, SCORE_WHY_LIMIT)}")
    if lead.intent:
        parts.append(f"Intent *{safe_text(lead.intent, LABEL_LIMIT)}*")
    signal = next((a for a in lead.activities or [] if isinstance(a, Mapping)), None)
    if signal is not None:
        text = str(signal.get("detail") or signal.get("type") or "")
        if text.strip():
            parts.append(f"📈 {safe_text(text, SIGNAL_LIMIT)}")
    return " · ".join(parts) or None


def _fallback(lead: Lead, reasons: Mapping[str, str], emojis: Mapping[str, str] | None) -> str:
    """The notification text: urgency, who and the state in plain words. Escaped as well:
    Slack parses the top-level text."""
    text = f"{lead_title(lead)}: {safe_text(_summary(lead, reasons), LABEL_LIMIT)}"
    if not lead.sla_policy:
        return text
    return f"{urgency(lead, emojis).replace('*', '')} · {text}"


def _actions(buttons: list[Json]) -> Json:
    return block_kit.actions(buttons, block_id=BUTTONS_BLOCK)


# --------------------------------------------------------------------------- details


def detail_blocks(lead: Lead) -> list[Block]:
    """Everything stored about who the lead is and why it is an SQL, and where to read more:
    what the Details modal shows beside the state and history."""
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
    blocks += [SectionBlock(text=MarkdownTextObject(text=text)) for text in _score_sections(lead)]
    blocks += [
        SectionBlock(text=MarkdownTextObject(text=text))
        for text in _signal_sections(lead.activities or [])
    ]
    if bant:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="*BANT*"), fields=bant))
    if lead.notes and lead.notes.strip():
        blocks += [
            SectionBlock(text=MarkdownTextObject(text=text))
            for text in _chunks("*Notes*", safe_text(lead.notes.strip(), NOTES_LIMIT))
        ]
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


def _signal_sections(activities: list[Any]) -> list[str]:
    """Every activity that made the lead an SQL, one line each, in as few sections as fit."""
    items = [item for item in activities if isinstance(item, Mapping)]
    if not items:
        return []
    return packed("*Signals*", [_signal_line(item, SIGNAL_LINE_LIMIT) for item in items])


def _score_sections(lead: Lead) -> list[str]:
    """How the team's scoring model reached the lead's score, rule by rule (none: the score
    is the sender's)."""
    score = Score.from_json(lead.score_explanation)
    if score is None:
        return []
    lines = [safe_text(line, SIGNAL_LINE_LIMIT) for line in breakdown(score, bullet="• ")]
    return packed("*Why this score*", lines)


def packed(title: str, lines: Sequence[str]) -> list[str]:
    """The title and lines as the texts of as few sections as Slack's section limit allows."""
    sections: list[str] = [title]
    for line in lines:
        if len(sections[-1]) + 1 + len(line) > SECTION_LIMIT:
            sections.append(line)
        else:
            sections[-1] += "\n" + line
    return sections


def _chunks(title: str, text: str) -> list[str]:
    """A long escaped text under a title, cut into section-sized pieces between entities."""
    pieces = [f"{title}\n"]
    for char in re.findall(r"&(?:amp|lt|gt);|.", text, re.DOTALL):
        if len(pieces[-1]) + len(char) > SECTION_LIMIT:
            pieces.append("")
        pieces[-1] += char
    return pieces


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


def status_text(
    lead: Lead,
    reasons: Mapping[str, str],
    now: datetime | None,
    *,
    note_limit: int = SECTION_LIMIT,
    separator: str = "\n",
) -> str:
    """Who did what and when, then (after `separator`) the running deadline, if any; a reject
    note is cut to `note_limit` characters."""
    status = lead.status
    if status == S.MQL:
        line = "MQL: kept for marketing until its score makes an SQL"
    elif status == S.RECYCLED:
        line = "Recycled: an MQL gone cold, back to marketing until it acts again"
    elif status in (S.NEW, S.OPEN) and lead.offered_to:
        line = f"🎯 Offered to {mention(lead.offered_to)}: theirs to accept or pass"
    elif status in (S.NEW, S.OPEN):
        line = "Open: waiting for a rep"
    elif status == S.ESCALATED:
        breached = f" at {slack_date(lead.escalated_at)}" if lead.escalated_at else ""
        owner = f", still {mention(lead.owner_id)}'s" if lead.owner_id else ""
        line = f"⚠️ SLA breached{breached}, escalated{owner}"
    elif status == S.ACCEPTED:
        line = f"✅ Claimed by {mention(lead.owner_id)}{_on(lead.accepted_at)}"
    elif status == S.REJECTED:
        return _rejected_text(lead, reasons, note_limit)
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
    return f"{line}{separator}{deadline}" if deadline else line


def _deal(lead: Lead) -> str:
    """` · 12,000 EUR: two-year contract`: the deal's amount and why, as the CRM gave them."""
    deal = deal_text(lead.outcome_amount, lead.outcome_currency)
    text = f" · {safe_text(deal, LABEL_LIMIT)}" if deal else ""
    if lead.outcome_reason:
        text += f": {safe_text(lead.outcome_reason, LABEL_LIMIT)}"
    return text


def _rejected_text(lead: Lead, reasons: Mapping[str, str], note_limit: int) -> str:
    code = lead.reject_reason or "unknown"
    label = safe_text(reasons.get(code, code), LABEL_LIMIT)
    line = f"❌ Rejected by {mention(lead.rejected_by)}{_on(lead.rejected_at)}: {label}"
    if not lead.reject_note or not lead.reject_note.strip():
        return line
    separator = " — "
    room = min(note_limit, SECTION_LIMIT - len(line) - len(separator))
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
    if lead.offered_to and status in (S.NEW, S.OPEN):
        return "new SQL, offered to a rep"
    return {
        S.MQL: "MQL, kept for marketing",
        S.RECYCLED: "recycled MQL, back to nurture",
        S.NEW: "new SQL, waiting for a rep",
        S.OPEN: "new SQL, waiting for a rep",
        S.ESCALATED: "SLA breached, waiting for a rep",
        S.ACCEPTED: "claimed",
        S.CONTACTED: "contacted",
        S.OPPORTUNITY: "opportunity",
        S.WON: "won",
        S.LOST: "lost",
    }[status]


def _card_buttons(lead: Lead, *, for_owner: bool) -> list[Json]:
    """The moves the lead's state allows, then Details; Release only `for_owner` (a view only
    its owner sees), since the channel card cannot hide it from everyone else."""
    status = lead.status
    if status == S.ESCALATED and lead.owner_id:  # breached follow-up, not reopened: still theirs
        status = S.ACCEPTED
    buttons: list[Json] = []
    # An offered lead's Accept and Pass are in its rep's DM (offer_dm), not on the card.
    if status in (S.NEW, S.OPEN, S.ESCALATED) and not lead.offered_to:
        buttons = [
            _button(lead, "Accept", ActionId.ACCEPT, "primary"),
            _button(lead, "Reject", ActionId.REJECT, "danger"),
        ]
    elif status == S.ACCEPTED:
        buttons = [_button(lead, "Mark contacted", ActionId.MARK_CONTACTED, "primary")]
        if for_owner and lead.status == S.ACCEPTED:  # an escalated lead is not released
            buttons.append(_button(lead, "Release", ActionId.RELEASE, None))
    return [*buttons, details_button(lead)]


def _button(lead: Lead, text: str, action: ActionId, style: ButtonStyle | None) -> Json:
    """A lead button; its value is the lead id, all a listener needs to find the lead again."""
    return block_kit.button(
        text, action_id=action.value, value=str(lead.id), style=style, emoji=True
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
