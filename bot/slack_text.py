"""Slack's text: making lead text inert in mrkdwn, mentions and dates, and the lengths Slack takes.

Every builder (cards, lists, modals, notices) cuts text with these helpers to these limits, so a
huge lead renders clipped instead of making slack-sdk raise or Slack refuse the message.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from storage.models import Lead

# Slack's limits, in characters (or blocks, or options).
HEADER_LIMIT = 150  # a header block's text
SECTION_LIMIT = 3000  # a section's text, a context element, a message's top-level text
FIELD_LIMIT = 2000  # one section field
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75  # a select option's label
OPTIONS_LIMIT = 100  # options in one static select
MESSAGE_BLOCKS_LIMIT = 50
VIEW_BLOCKS_LIMIT = 100  # a modal's or App Home's blocks
# Baton's own limits inside those, so the rest of a line survives a long value.
NAME_LIMIT = 300  # of the name in one-line summaries
LABEL_LIMIT = 200  # of short values inside a sentence (a reason label, a policy name)
ELLIPSIS = "…"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Column width of the user id columns; fullmatch, because `$` would let "U1\n" through.
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,31}")


def escape_mrkdwn(text: str) -> str:
    """Make lead text inert: no mention, link or `<!channel>` can survive.

    Only `&`, `<`, `>` are replaced; Slack decodes exactly these entities and would show any other
    (such as html.escape's `&#x27;`) literally.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def safe_text(text: str, limit: int) -> str:
    """Escape `text`, then cut it to `limit` escaped characters without splitting an entity."""
    escaped = escape_mrkdwn(text)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = _ENTITIES.get(char, char)
        if used + len(piece) > limit - len(ELLIPSIS):
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces).rstrip() + ELLIPSIS


def is_user_id(text: str) -> bool:
    """Shaped like a Slack member id (`U…`, or `W…` on Enterprise Grid)."""
    return _USER_ID.fullmatch(text) is not None


def mention(user_id: str | None) -> str:
    """`<@ID>` for something shaped like a Slack user id; anything else is shown as inert text.

    Only messages render mentions: a modal shows this syntax raw.
    """
    if user_id is None:
        return "someone"
    if is_user_id(user_id):
        return f"<@{user_id}>"
    return safe_text(user_id, LABEL_LIMIT)


def deal_text(amount: Decimal | None, currency: str | None) -> str:
    """A deal's amount as people read it (`12,000 EUR`, `12,500.50 USD`); '' without one."""
    if amount is None:
        return ""
    shown = f"{amount:,.2f}".removesuffix(".00")
    return f"{shown} {currency}" if currency else shown


def mention_group(group_id: str) -> str:
    """`<!subteam^ID>`: notifies every member of a Slack user group."""
    return f"<!subteam^{group_id}>"


def slack_date(when: datetime) -> str:
    """A moment every reader sees in their own time zone; clients that cannot show it get UTC."""
    when = as_utc(when)
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def as_utc(when: datetime) -> datetime:
    """Stored times are UTC; a naive one (an unsaved object in a test or script) is read as UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def lead_title(lead: Lead) -> str:
    """The lead's name and company on one line, escaped and short enough to lead a sentence."""
    name = lead.name or "Unnamed lead"
    text = f"{name} ({lead.company})" if lead.company else name
    return safe_text(text, NAME_LIMIT)


def lead_label(lead: Lead) -> str:
    """How a notice names the lead it is about, e.g. `Acme · Jane Doe (#12)`: the company people
    know it by, the person, and the number /leads takes; escaped and short enough for one line."""
    name = lead.name or "Unnamed lead"
    text = f"{lead.company} · {name}" if lead.company else name
    return f"{safe_text(text, NAME_LIMIT)} (#{lead.id})"
