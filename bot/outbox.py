"""What Slack must be told after a change: the domain records the intent in the same
transaction as the change; the delivery worker (an adapter) renders and sends it later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.periods import Period
from storage import lead_messages as message_store
from storage import outbox as outbox_store
from storage.models import Lead, OutboxKind


class DmKind(StrEnum):
    """Why Baton writes to someone directly about a lead; the DM's words come from bot.notices."""

    OWNER = "owner"  # you claimed it (or a manager assigned it to you)
    FOLLOW_UP_REMINDER = "follow_up_reminder"  # reach it before the follow-up SLA ends
    ESCALATION = "escalation"  # to a manager (and in the card's thread): an SLA was breached
    TAKEN = "taken"  # to a rep: someone else reassigned or reopened their lead
    REJECTED = "rejected"  # to whoever rejected the lead: what they did, and an Undo
    OFFER = "offer"  # to the rep a lead is offered to (bot.offers): Accept or Pass


class ExportedReport(StrEnum):
    """Which report a file export (OutboxKind.FEEDBACK_FILE) carries."""

    FEEDBACK = "feedback"  # one row per rejection (bot.reports.feedback_rows)
    TUNING = "tuning"  # one row per score band, rule and source (bot.tuning.tuning_rows)
    FUNNEL = "funnel"  # everyone's funnel, then one row per group (bot.funnel.funnel_rows)
    FUNNEL_CHART = "funnel_chart"  # the funnel by a grouping as a PNG (bot.funnel_chart)


class Chart(StrEnum):
    """Which chart a CHANNEL_CHART row draws, from stored state when it is sent."""

    ACCEPTANCE_TREND = "acceptance_trend"  # weekly acceptance per source (bot.acceptance_trend)


def cards_created(
    session: Session,
    *,
    leads: Sequence[Lead],
    now: datetime,
    channels: Mapping[str, str] | None = None,
) -> None:
    """Queue each new lead's card; the outbox keeps their order, so each channel's cards post
    as sent. A card is queued for the channel `channels` gives its lead (by external_id: routed
    when intake made the leads ready, bot.lifecycle.new_leads), one statement a channel, so
    the delivery worker need not route and update a batch's thousand rows after it; a card
    it does not give (a promoted MQL) is routed by the delivery worker (bot.channel_posts)."""
    by_channel: dict[str | None, list[int]] = {}
    for lead in leads:
        channel = channels.get(lead.external_id) if channels else None
        by_channel.setdefault(channel, []).append(lead.id)
    for channel, lead_ids in by_channel.items():
        outbox_store.add_for_leads(
            session, kind=OutboxKind.POST_CARD, lead_ids=lead_ids, now=now, channel=channel
        )


# The rows one move queues, written together when it ends (`write_batch`): a click's
# transaction is then a few statements shorter. A row in a batch is invisible to the queries
# until written, so a batch holds rows no query of the move looks for (no card redraw of a
# lead whose redraws are checked again before the batch is written).
Batch = outbox_store.Batch


def write_batch(session: Session, batch: Batch) -> None:
    """Queue the batch's rows, in their order, in one statement."""
    outbox_store.queue_batch(session, batch)


def card_changed(
    session: Session,
    *,
    lead: Lead,
    now: datetime,
    clicked: Click | None = None,
    batch: Batch | None = None,
) -> None:
    """Ask for a redraw of the card, and of the messages remembered about the lead (DMs,
    escalations); one waiting redraw of each is enough, since it renders the state at send
    time. A change `clicked` on the card itself is redrawn through the click's response_url
    (see `Click`). With a `batch`, the rows queued join it."""
    response_url = clicked.response_url_on(lead) if clicked is not None else None
    if response_url is not None:
        # The click's usual case in two statements: no waiting redraw took the URL, so one
        # that sends through it is queued.
        if not outbox_store.redraw_through_response_url(
            session, lead_id=lead.id, response_url=response_url, now=now
        ):
            outbox_store.queue(
                session,
                kind=OutboxKind.REPLACE_CARD,
                lead_id=lead.id,
                payload={"response_url": response_url},
                now=now,
                batch=batch,
            )
    elif not outbox_store.has_pending_redraw(session, lead_id=lead.id):
        kind = OutboxKind.UPDATE_CARD
        outbox_store.queue(session, kind=kind, lead_id=lead.id, now=now, batch=batch)
    messages_changed(session, lead_id=lead.id, now=now, batch=batch)


def messages_changed(
    session: Session, *, lead_id: int, now: datetime, batch: Batch | None = None
) -> None:
    """Ask for a redraw of the lead's remembered messages, if it has any."""
    kind = OutboxKind.REDRAW_MESSAGES
    if message_store.has_any(session, lead_id=lead_id) and not outbox_store.has_pending_redraw(
        session, lead_id=lead_id, of_messages=True
    ):
        outbox_store.queue(session, kind=kind, lead_id=lead_id, now=now, batch=batch)


def remember_message(
    session: Session,
    *,
    lead_id: int,
    kind: DmKind,
    user_id: str | None,
    channel: str,
    ts: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """Slack posted a message about the lead that must stay true: keep where, to redraw it."""
    message_store.remember(
        session,
        lead_id=lead_id,
        kind=kind.value,
        user_id=user_id,
        channel=channel,
        ts=ts,
        payload=payload,
        now=now,
    )


@dataclass(frozen=True)
class Click:
    """A click on a lead's buttons in a message: which one (channel, ts) and its response_url.

    If the clicked message is the card itself, its redraw goes through the response_url, which
    Slack does not count against chat.update's tier (about 50 a minute): the rep sees the click
    at once, however busy the workspace. A click elsewhere (a DM, an escalation's copy) would
    replace that message instead, so the card is left to chat.update."""

    channel: str | None
    message_ts: str | None
    response_url: str | None

    def response_url_on(self, lead: Lead) -> str | None:
        """The response_url, if it answers a click on the lead's card."""
        on_card = lead.slack_ts is not None and (self.channel, self.message_ts) == (
            lead.slack_channel,
            lead.slack_ts,
        )
        return self.response_url if on_card else None


def card_clicked(session: Session, *, lead: Lead, clicked: Click, now: datetime) -> None:
    """A click on the card changed nothing: a redraw still waiting (backing off from
    chat.update's rate limit) goes through the click's response_url, at once."""
    response_url = clicked.response_url_on(lead)
    if response_url is not None:
        outbox_store.redraw_through_response_url(
            session, lead_id=lead.id, response_url=response_url, now=now
        )


def direct_message(
    session: Session,
    *,
    lead: Lead,
    user_id: str,
    kind: DmKind,
    now: datetime,
    details: dict[str, Any] | None = None,
    batch: Batch | None = None,
) -> None:
    """A DM about the lead, drawn from its state when sent (bot.lead_messages); `details` are
    what it must say that the lead does not hold (who assigned it, which deadline passed). The
    payload key stays "template", its name when rows queued by earlier versions were written."""
    outbox_store.queue(
        session,
        kind=OutboxKind.DM,
        lead_id=lead.id,
        user_id=user_id,
        payload={"template": kind.value, **(details or {})},
        now=now,
        batch=batch,
    )


def dm_kind(payload: dict[str, Any]) -> DmKind:
    """The kind of DM a queued row asks for (see `direct_message`)."""
    return DmKind(payload["template"])


def drawn_kind(payload: dict[str, Any]) -> DmKind | None:
    """The kind a thread reply is drawn as, None for a reply of plain text."""
    template = payload.get("template")
    return DmKind(template) if template else None


def tell_user(
    session: Session,
    *,
    user_id: str,
    channel: str,
    text: str,
    now: datetime,
    lead_id: int | None = None,
) -> None:
    """A message only `user_id` sees, e.g. "already claimed by @x" after a lost race."""
    outbox_store.add(
        session,
        kind=OutboxKind.EPHEMERAL,
        lead_id=lead_id,
        user_id=user_id,
        channel=channel,
        payload={"text": text},
        now=now,
    )


def thread_reply(
    session: Session,
    *,
    lead: Lead,
    text: str,
    now: datetime,
    broadcast: bool = False,
    drawn_as: DmKind | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """A reply in the card's thread; with `broadcast`, Slack shows it in the channel too. It
    joins the card's channel lane: where the card is, or (routed before delivery) will be.
    With `drawn_as`, the reply is drawn from the lead's state like a DM of that kind (`text`
    leading it) and remembered, to be redrawn as the lead moves on."""
    payload: dict[str, Any] = {"text": text, "broadcast": broadcast, **(details or {})}
    if drawn_as is not None:
        payload["template"] = drawn_as.value
    outbox_store.add(
        session,
        kind=OutboxKind.THREAD_REPLY,
        lead_id=lead.id,
        channel=lead.slack_channel,
        payload=payload,
        now=now,
    )


def history_reply(
    session: Session, *, lead: Lead, event_id: int, now: datetime, batch: Batch | None = None
) -> None:
    """The line a move adds to the card's thread (claimed by, released, assigned to…), drawn
    from its stored event when sent (bot.lead_history.event_reply), so the channel tells the
    lead's story. Like every thread reply it waits for its card."""
    outbox_store.queue(
        session,
        kind=OutboxKind.THREAD_REPLY,
        lead_id=lead.id,
        channel=lead.slack_channel,
        payload={"event_id": event_id},
        now=now,
        batch=batch,
    )


def channel_message(
    session: Session,
    *,
    channel: str,
    text: str,
    now: datetime,
    blocks: list[dict[str, Any]] | None = None,
    lead_id: int | None = None,
) -> None:
    outbox_store.add(
        session,
        kind=OutboxKind.CHANNEL_MESSAGE,
        lead_id=lead_id,
        channel=channel,
        payload={"text": text, "blocks": blocks},
        now=now,
    )


def publish_home(
    session: Session,
    *,
    user_id: str,
    manager: bool | None,
    marketer: bool | None,
    now: datetime,
) -> None:
    """Redraw someone's App Home; the roles travel along, since the view depends on them
    (None: not known here, looked up when it is sent)."""
    outbox_store.add(
        session,
        kind=OutboxKind.PUBLISH_HOME,
        user_id=user_id,
        payload={"manager": manager, "marketer": marketer},
        now=now,
    )


def home_changed(session: Session, *, user_id: str, now: datetime) -> None:
    """Someone's App Home lists a lead that just left them: redraw it (roles looked up when
    sent), so it no longer offers the lead's buttons."""
    publish_home(session, user_id=user_id, manager=None, marketer=None, now=now)


def feedback_file(
    session: Session,
    *,
    user_id: str,
    start: datetime,
    end: datetime,
    label: str,
    source: str | None,
    now: datetime,
    report: ExportedReport = ExportedReport.FEEDBACK,
    file_format: str = "csv",
    by: str | None = None,
    counts: list[tuple[str, list[int]]] | None = None,
) -> None:
    """Send someone a report's export as a file (`report`: the rejection feedback, the score
    tuning, the funnel, or the funnel's chart by `by`; `file_format`: csv, or json for the
    funnel); the period is fixed now, the rows are read when it is sent, but for a funnel's
    chart whose answer was grouped as it is: `counts` are the answer's (bot.funnel_chart)."""
    payload: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "label": label,
        "source": source,
        "report": report.value,
        "format": file_format,
        "by": by,
    }
    if counts is not None:
        payload["counts"] = counts
    outbox_store.add(
        session, kind=OutboxKind.FEEDBACK_FILE, user_id=user_id, payload=payload, now=now
    )


def channel_chart(
    session: Session, *, channel: str, chart: Chart, period: Period, now: datetime
) -> None:
    """A chart as a PNG file in `channel`, after what was queued there before it (the
    digest's message). The period is fixed now; the chart is drawn from the stored leads
    when it is sent, so the row stays a few bytes (not a picture) and a late or retried
    delivery still draws the weeks the digest covered."""
    outbox_store.add(
        session,
        kind=OutboxKind.CHANNEL_CHART,
        channel=channel,
        payload={
            "chart": chart.value,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label,
        },
        now=now,
    )


def queued_period(payload: dict[str, Any]) -> Period:
    """The period a file's row was queued for (`feedback_file`, `channel_chart`)."""
    return Period(
        start=datetime.fromisoformat(payload["start"]),
        end=datetime.fromisoformat(payload["end"]),
        label=payload["label"],
    )
