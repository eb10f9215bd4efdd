"""Slack messages Baton gave up on (Slack refused them for good), as managers are shown them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot import reply_blocks
from bot.slack_text import safe_text, slack_date
from storage import outbox as outbox_store
from storage.models import OutboxKind

RECENT = timedelta(days=7)  # older failures are for `baton check`, not the manager's daily view
LATEST = 3

KIND_WORDS: dict[str, str] = {
    OutboxKind.POST_CARD: "card",
    OutboxKind.UPDATE_CARD: "card update",
    OutboxKind.DM: "DM",
    OutboxKind.EPHEMERAL: "reply",
    OutboxKind.THREAD_REPLY: "thread reply",
    OutboxKind.CHANNEL_MESSAGE: "channel message",
    OutboxKind.PUBLISH_HOME: "App Home",
    OutboxKind.FEEDBACK_FILE: "feedback file",
    OutboxKind.BURST_NOTICE: "burst notice",
    OutboxKind.CHANNEL_CHART: "chart",
}


@dataclass(frozen=True)
class FailedDelivery:
    lead_id: int | None
    kind: str
    reason: str
    failed_at: datetime


def latest(session: Session, *, limit: int) -> list[FailedDelivery]:
    return [
        FailedDelivery(row.lead_id, row.kind, row.last_error or "", row.failed_at)
        for row in outbox_store.list_failed(session, limit=limit)
        if row.failed_at is not None
    ]


def recent_blocks(session: Session, *, now: datetime) -> list[dict[str, Any]]:
    """A line for the manager when Slack refused messages in the last week; nothing otherwise."""
    count = outbox_store.count_failed(session, since=now - RECENT)
    if not count:
        return []
    lines = [
        f"• {slack_date(failure.failed_at)}: {_subject(failure)}: `{safe_text(failure.reason, 80)}`"
        for failure in latest(session, limit=LATEST)
        if failure.failed_at >= now - RECENT
    ]
    return [
        reply_blocks.section(
            f"*Slack messages not delivered, last 7 days:* {count} (Slack refused them for "
            "good; `baton check` lists them)\n" + "\n".join(lines)
        )
    ]


def _subject(failure: FailedDelivery) -> str:
    what = KIND_WORDS.get(failure.kind, failure.kind)
    return f"{what} for lead #{failure.lead_id}" if failure.lead_id is not None else what
