"""The lead lifecycle: every state change a lead can go through, checked and audited in one place.

Each transition reads the lead, checks the state machine and who is acting, then writes the new
state with a compare-and-set UPDATE and appends an event row in the same transaction; the SLA
windows of the new status start in that transaction too (bot.sla_timers). The moves are methods
of `Lifecycle`, bound once to the team's SLA policies. Nothing here commits: the caller's unit
of work (a request, a job) does.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.orm import Session

from bot import (
    lead_updates,
    outbox,
    promotion,
    report_facts,
    routing,
    scoring,
    sla_timers,
    webhooks,
)
from bot.errors import AlreadyClaimed, InvalidInput, InvalidTransition, LeadNotFound, NotAllowed
from bot.outbox import DmKind
from bot.rep_directory import Directory, NoDirectory
from bot.rules import Rules
from bot.scoring import ScoringModel
from bot.sla_policy import SlaPolicies
from bot.slack_text import as_utc, lead_label, mention
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage import routing as routing_store
from storage import tuning_rollups
from storage.models import Lead, LeadStatus

S = LeadStatus
# A concurrent writer can move the lead between our read and our write; after this many lost
# races the caller is told the state it lost to rather than retrying forever.
MAX_ATTEMPTS = 5
NOTE_MAX_LENGTH = 2000  # the reject form's limit, kept here so a forged submission meets it too


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"  # a repeated delivery changed what is known about the person
    PROMOTE = "promote"  # new data made an MQL an SQL: it is handed off (bot.promotion)
    RECYCLE = "recycle"  # an MQL went cold: back to nurture until it acts again (bot.mql_upkeep)
    POST = "post"
    ACCEPT = "accept"
    REJECT = "reject"
    ESCALATE = "escalate"
    REOPEN = "reopen"
    RELEASE = "release"
    ASSIGN = "assign"
    MARK_CONTACTED = "mark_contacted"
    OUTCOME = "outcome"
    UNDO = "undo"


@dataclass(frozen=True)
class Outcome:
    """What became of a claimed lead, as the CRM (or its owner, or a manager) says: its stage
    (opportunity, won or lost), the deal's amount and currency, why, and when (default: now)."""

    stage: LeadStatus
    amount: Decimal | None = None
    currency: str | None = None
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Actor:
    """Who is acting: a Slack user ID (or "baton" for the bot itself) and what they may do."""

    id: str
    is_manager: bool = False
    is_marketer: bool = False


SYSTEM = Actor("baton", is_manager=True)
# The CRM reporting outcomes through the API: trusted with a lead's outcome like a manager.
CRM = Actor("crm", is_manager=True)

# Which statuses each action may start from, and the words used when it may not.
ALLOWED_FROM: dict[Action, frozenset[LeadStatus]] = {
    Action.POST: frozenset({S.NEW}),
    # NEW too: a card is visible in Slack a moment before its post is recorded, and a rep
    # quick enough to click in that moment must not be refused.
    Action.ACCEPT: frozenset({S.NEW, S.OPEN, S.ESCALATED}),
    Action.REJECT: frozenset({S.NEW, S.OPEN, S.ESCALATED}),
    Action.ESCALATE: frozenset({S.OPEN, S.ACCEPTED}),
    Action.REOPEN: frozenset({S.ACCEPTED, S.REJECTED, S.ESCALATED}),
    Action.RELEASE: frozenset({S.ACCEPTED}),
    Action.ASSIGN: frozenset({S.NEW, S.OPEN, S.ESCALATED, S.ACCEPTED}),
    Action.MARK_CONTACTED: frozenset({S.ACCEPTED, S.ESCALATED}),
    # Corrections included: a CRM may reopen a lost deal and win it.
    Action.OUTCOME: frozenset({S.ACCEPTED, S.ESCALATED, S.CONTACTED, S.OPPORTUNITY, S.WON, S.LOST}),
}
PAST_TENSE: dict[Action, str] = {
    Action.POST: "posted",
    Action.ACCEPT: "accepted",
    Action.REJECT: "rejected",
    Action.ESCALATE: "escalated",
    Action.REOPEN: "reopened",
    Action.RELEASE: "released",
    Action.ASSIGN: "assigned",
    Action.MARK_CONTACTED: "marked contacted",
    Action.OUTCOME: "given an outcome",
    Action.UNDO: "undone",
}
# What undoing each undoable move clears (the status goes back to the one it left).
UNDONE_VALUES: dict[str, dict[str, Any]] = {
    "accept": {"owner_id": None, "accepted_at": None},
    "reject": {
        "rejected_by": None,
        "reject_reason": None,
        "reject_note": None,
        "rejected_at": None,
    },
}
# The moves a line in the card's thread tells (bot.outbox.history_reply). Not the card's own
# posting, and not an escalation, whose thread message calls the managers in (bot.sla_sweep).
TOLD_IN_THREAD = frozenset(
    {
        Action.ACCEPT,
        Action.REJECT,
        Action.REOPEN,
        Action.RELEASE,
        Action.ASSIGN,
        Action.MARK_CONTACTED,
        Action.OUTCOME,
        Action.UNDO,
    }
)
# A card posted after its lead moved on attaches to the lead in whatever status it reached.
POSTED = frozenset(LeadStatus) - {S.NEW}
# Once one of these is reached, a late Accept or Reject lost a race rather than made a mistake.
DECIDED = frozenset({S.ACCEPTED, S.REJECTED, S.CONTACTED, S.OPPORTUNITY, S.WON, S.LOST})
STAGES = frozenset({S.OPPORTUNITY, S.WON, S.LOST})
OUTCOMES = frozenset({S.WON, S.LOST})

Check = Callable[[Lead], None]


def create(session: Session, *, fields: dict[str, Any], now: datetime) -> tuple[Lead, bool]:
    """Store a new lead, or return the one already stored under its external_id.

    Returns (lead, created). A repeated delivery (a webhook retry, a re-imported CSV) creates
    nothing, so intake is idempotent however often the source sends it; what a repeat with
    changed data changes is `update_data`'s business.
    """
    dialect = session.get_bind().dialect
    return create_many(session, new_leads([fields], now=now, dialect=dialect), now=now)[0]


@dataclass(frozen=True)
class NewLeads:
    """Leads to create, each as given (in order), the first of each external_id as a row in
    the database's form, and the channel routing chose for each one's card (by external_id):
    all `create_many` needs that no transaction does, so a batch is made ready before its
    write turn."""

    given: Sequence[dict[str, Any]]
    rows: lead_store.LeadRows
    channels: Mapping[str, str]


def new_leads(
    leads: Sequence[dict[str, Any]],
    *,
    now: datetime,
    dialect: Dialect,
    rules: Rules | None = None,
) -> NewLeads:
    """`leads` (their fields as stored) made ready for `create_many`, received `now`; each
    card routed by the team's `rules` (without them, by the delivery worker)."""
    firsts: dict[str, dict[str, Any]] = {}
    for fields in leads:
        firsts.setdefault(fields["external_id"], fields)
    rows = [
        {
            **fields,
            "status": _first_status(fields),
            "created_at": now,
            "updated_at": now,
            "scored_at": now if fields.get("score_explanation") else None,
            "last_activity_at": scoring.latest_activity_at(fields["activities"], received=now),
        }
        for fields in firsts.values()
    ]
    channels = {
        row["external_id"]: routing.channel_for(row, rules)
        for row in rows
        if rules is not None and row["status"] == S.NEW
    }
    return NewLeads(leads, lead_store.lead_rows(rows, dialect), channels)


def create_many(session: Session, leads: NewLeads, *, now: datetime) -> list[tuple[Lead, bool]]:
    """`create` for many leads in a few statements: (lead, created) for each, in order.

    An external_id already stored, or repeated within `leads`, is stored once: its first
    occurrence here creates it (unless it was stored before), the others return that lead.
    Each created lead gets its event and its card queued in the caller's transaction (for
    the channel `new_leads` chose), but an MQL (the scoring model's verdict is not SQL:
    bot.promotion) is kept without a card.
    """
    inserted = lead_store.insert_new_leads(session, leads.rows)
    firsts = [row["external_id"] for row in leads.rows.rows]
    stored = lead_store.get_leads_by_external_ids(
        session, [external_id for external_id in firsts if external_id not in inserted]
    )
    created = [inserted[external_id] for external_id in firsts if external_id in inserted]
    events = [
        (lead, _event(lead, Action.CREATE, None, SYSTEM, now, {"source": lead.source}))
        for lead in created
    ]
    lead_store.add_events(session, [event for _, event in events])
    webhooks.lead_events(session, events=events)
    outbox.cards_created(
        session,
        leads=[lead for lead in created if lead.status == S.NEW],
        now=now,
        channels=leads.channels,
    )
    not_yet_returned = set(inserted)
    results = []
    for fields in leads.given:
        external_id = fields["external_id"]
        results.append(
            (inserted.get(external_id) or stored[external_id], external_id in not_yet_returned)
        )
        not_yet_returned.discard(external_id)
    return results


def update_data(
    session: Session,
    *,
    lead_id: int,
    fields: Mapping[str, Any],
    sender: str,
    now: datetime,
    model: ScoringModel | None = None,
) -> tuple[Lead, dict[str, Any] | None]:
    """Lay a repeated delivery's data over the stored lead (bot.lead_updates), rescored by the
    team's scoring `model` if there is one; (lead, what changed), None when nothing did.

    What is known about the person changes, in every state: a rejected or lost lead is still
    that person, and its redrawn card shows a manager news worth a reopen. The handoff state
    (status, owner, SLA windows) never changes, so no compare-and-set on it is needed; the row is
    locked instead, so two repeats racing each other record each change against what it replaced.
    A change is an `update` event by `sender`, a line in the card's thread, a `lead.updated`
    webhook and a redrawn card. An MQL has no card; one the change makes an SQL is promoted.
    """
    lead = lead_store.lock_lead(session, lead_id)
    change = lead_updates.compare(lead, fields)
    if change is None:
        return lead, None
    if model is not None:
        change = lead_updates.rescored(change, lead, fields, model, now=now)
    values = dict(change.values)
    added = change.changes.get("activities")
    if added:
        latest = scoring.latest_activity_at(added["added"], received=now)
        values["last_activity_at"] = max(filter(None, (lead.last_activity_at, latest)))
        if lead.status == S.RECYCLED:  # a recycled MQL that acts again is marketing's again
            values["status"] = S.MQL
    if model is not None:
        values["scored_at"] = now
    lead = _record_change(session, lead, values, change.changes, Actor(sender), now)
    return lead, change.changes


def _record_change(
    session: Session,
    lead: Lead,
    values: Mapping[str, Any],
    changes: dict[str, Any],
    actor: Actor,
    now: datetime,
) -> Lead:
    """Write a change to what is known about the lead, on its locked row: an `update` event, a
    `lead.updated` webhook and, for a posted lead, a line in its thread and a redrawn card. An
    MQL has no card; one the change makes an SQL is promoted."""
    explained_before, status_before = lead.score_explanation, lead.status
    tuned = tuning_rollups.part(lead)
    lead = lead_store.update_lead(
        session,
        lead.id,
        {**values, "data_changed_at": now, "data_changes": changes, "updated_at": now},
    )
    event = _event(lead, Action.UPDATE, status_before, actor, now, {"changes": changes})
    event_id = lead_store.add_event(session, event)
    webhooks.lead_events(session, events=[(lead, event)])
    tuning_rollups.move(session, tuned, tuning_rollups.part(lead))
    if lead.status not in HELD:
        outbox.history_reply(session, lead=lead, event_id=event_id, now=now)
        outbox.card_changed(session, lead=lead, now=now)
    elif promotion.promoted(explained_before, lead.score_explanation):
        lead = _promote(session, lead, explained_before, actor, now)
    return lead


def rescore_aged(session: Session, *, lead_id: int, model: ScoringModel, now: datetime) -> bool:
    """Score a held lead (an MQL, or a recycled one) again as its activities age, by the path
    new data takes (bot.lead_updates.rescored); a new score is an `update` by Baton. Decay alone
    never makes an SQL: a rescore that would is not stored, and the next new data promotes it.
    Each lead once a day, however many processes ask: False when it was not due any more."""
    lead = lead_store.lock_lead(session, lead_id)
    if lead.status not in HELD or (lead.scored_at and lead.scored_at > now - RESCORE_EVERY):
        return False
    unchanged = lead_updates.DataChange({}, {})
    change = lead_updates.rescored(unchanged, lead, RESCORED_FIELDS, model, now=now)
    values = {**change.values, "scored_at": now}
    if change.values["score_explanation"] == lead.score_explanation or not promotion.held_back(
        change.values
    ):
        lead_store.update_lead(session, lead.id, {"scored_at": now})
    elif not change.changes:  # the reasons moved, not the total: nothing to tell
        lead_store.update_lead(session, lead.id, values)
    else:
        _record_change(session, lead, values, change.changes, SYSTEM, now)
    return True


def recycle(session: Session, *, lead_id: int, after: timedelta, now: datetime) -> bool:
    """Mark an MQL whose latest activity is `after` old or more recycled (back to nurture),
    audited as a `recycle` event and announced; False when, on its locked row, it is no cold
    MQL (any more: another process recycled it, new data came in)."""
    lead = lead_store.lock_lead(session, lead_id)
    went_cold = lead.last_activity_at or lead.created_at
    if lead.status != S.MQL or went_cold > now - after:
        return False
    lead = lead_store.update_lead(session, lead_id, {"status": S.RECYCLED, "updated_at": now})
    details = {"last_activity_at": as_utc(went_cold).isoformat(), "after_days": after.days}
    event = _event(lead, Action.RECYCLE, S.MQL, SYSTEM, now, details)
    lead_store.add_event(session, event)
    webhooks.lead_events(session, events=[(lead, event)])
    return True


# The event of routing's decision about a new lead (bot.assignment): audited, but no move, so
# no Action (moves are announced to webhooks; this is not).
ROUTED = "route"


def record_routing(
    session: Session, *, lead: Lead, actor: Actor, details: dict[str, Any], now: datetime
) -> int:
    """Audit routing's decision about the lead: an event whose status stays as it is; its id."""
    return lead_store.add_event(session, _event(lead, ROUTED, lead.status, actor, now, details))


# The statuses of leads kept for marketing, whose score new data (or age) may change.
HELD = frozenset({S.MQL, S.RECYCLED})
# How often a held lead is scored again as its activities age (ages count in whole days).
RESCORE_EVERY = timedelta(days=1)
# What the scoring model reads of a stored lead to score it again.
RESCORED_FIELDS = dict.fromkeys((*scoring.SCORED_FIELDS, "activities"))


def _first_status(fields: Mapping[str, Any]) -> LeadStatus:
    return S.MQL if promotion.held_back(fields) else S.NEW


def _promote(
    session: Session, lead: Lead, explained_before: Any, actor: Actor, now: datetime
) -> Lead:
    """Hand off an MQL that new data made an SQL, as a new lead is: its card is queued (the SLA
    starts when it posts), saying why now; audited as a `promote` event with the reason."""
    why = promotion.why_now(explained_before, lead.score_explanation)
    held = lead.status
    lead = lead_store.update_lead(
        session, lead.id, {"status": S.NEW, "promoted_at": now, "promoted_why": why}
    )
    event = _event(lead, Action.PROMOTE, held, actor, now, {"why": why})
    lead_store.add_event(session, event)
    webhooks.lead_events(session, events=[(lead, event)])
    outbox.cards_created(session, leads=[lead], now=now)
    return lead


class Lifecycle:
    """The moves of a lead after it is stored, bound once to the team's SLA policies, so every
    move starts or stops the SLA windows of the status it reaches and no caller passes them on.
    `directory` is what Slack says of reps, for routing (the server binds Slack's)."""

    def __init__(self, policies: SlaPolicies, directory: Directory | None = None) -> None:
        self.policies = policies
        self.directory: Directory = directory or NoDirectory()

    def card_posted(
        self,
        session: Session,
        *,
        lead_id: int,
        channel: str,
        ts: str,
        now: datetime,
        still_drawn: Callable[[Lead], bool] | None = None,
    ) -> Lead:
        """The card is in Slack: remember where. A new lead opens for claiming (its claim window
        starts); a lead that moved on while the post was in flight (a manager assigned it, a rep
        clicked the card the moment it appeared) keeps its status and windows.

        The card is redrawn unless `still_drawn` says the card posted shows the lead as written:
        drawn from `as_posted(lead, now)` with the same `now`, it does, unless the lead changed
        while the post was in flight."""
        lead = require(session, lead_id)
        while True:
            if (lead.slack_channel, lead.slack_ts) == (channel, ts):
                return lead  # a click on the card recorded it first (`_post_proven_by`)
            opens = lead.status == S.NEW
            try:
                return self._transition(
                    session,
                    lead_id=lead_id,
                    seen=lead,
                    action=Action.POST,
                    actor=SYSTEM,
                    now=now,
                    to=S.OPEN if opens else None,
                    values={"slack_channel": channel, "slack_ts": ts, "posted_at": now},
                    details={"channel": channel, "ts": ts},
                    allowed=ALLOWED_FROM[Action.POST] if opens else POSTED,
                    still_drawn=still_drawn,
                )
            except InvalidTransition:
                # A click claimed it between our read and our write: attach to it as it is now.
                lead = require(session, lead_id)
                if not opens or lead.status == S.NEW:
                    raise

    def _post_proven_by(
        self, session: Session, lead: Lead, clicked: outbox.Click | None, *, now: datetime
    ) -> Lead:
        """A click on a card whose post is not recorded yet (Slack showed it a moment before
        the delivery worker could say so) proves where the card is: record the post first, so
        the lead's history and webhooks tell posted before claimed. A click elsewhere (an
        offer's DM) proves nothing about the card."""
        if (
            lead.status != S.NEW
            or clicked is None
            or clicked.channel is None
            or clicked.message_ts is None
            or not outbox_store.card_undelivered(session, lead_id=lead.id, into=clicked.channel)
        ):
            return lead
        return self.card_posted(
            session,
            lead_id=lead.id,
            channel=clicked.channel,
            ts=clicked.message_ts,
            now=now,
            still_drawn=lambda _posted: True,  # the move that follows redraws it
        )

    def as_posted(self, lead: Lead, *, now: datetime) -> Lead:
        """The lead as `card_posted` at `now` will leave it, to draw the card being posted: a
        new lead opens, with its claim window. A copy, never written; any other lead is itself."""
        if lead.status != S.NEW:
            return lead
        windows = sla_timers.windows(lead, S.OPEN, policies=self.policies, now=now)
        view = lead_store.detached_copy(lead)
        for name, value in windows.columns.items():
            if value is not lead_store.COUNT_UP:
                setattr(view, name, value)
        view.status = S.OPEN
        return view

    def accept(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        now: datetime,
        clicked: outbox.Click | None = None,
    ) -> Lead:
        """Claim the lead for `actor`. Exactly one of several racing claims wins.

        A repeated click by the rep who already owns it returns the lead unchanged. `clicked`:
        the click that asked it (the card's redraw answers it).
        """
        lead = require(session, lead_id)
        if lead.status == S.ACCEPTED and lead.owner_id == actor.id:
            if clicked is not None:
                outbox.card_clicked(session, lead=lead, clicked=clicked, now=now)
            return lead
        lead = self._post_proven_by(session, lead, clicked, now=now)
        return self._transition(
            session,
            lead_id=lead_id,
            seen=lead,
            action=Action.ACCEPT,
            actor=actor,
            now=now,
            to=S.ACCEPTED,
            values={"owner_id": actor.id, "accepted_at": now},
            check=_both(_unclaimed, _not_offered_to_another(actor)),
            clicked=clicked,
            then=lambda accepted, batch: outbox.direct_message(
                session, lead=accepted, user_id=actor.id, kind=DmKind.OWNER, now=now, batch=batch
            ),
        )

    def reject(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        reason: str,
        note: str | None,
        reasons: Collection[str],
        now: datetime,
    ) -> Lead:
        """Send the lead back to marketing with a reason from the taxonomy and a note."""
        reason, note = check_rejection(reason=reason, note=note, reasons=reasons)
        lead = self._transition(
            session,
            lead_id=lead_id,
            action=Action.REJECT,
            actor=actor,
            now=now,
            to=S.REJECTED,
            values={
                "rejected_by": actor.id,
                "reject_reason": reason,
                "reject_note": note,
                "rejected_at": now,
            },
            details={"reason": reason, "note": note},
            check=_both(_unclaimed_or_owned_by(actor), _not_offered_to_another(actor)),
            then=lambda rejected, batch: outbox.direct_message(
                session, lead=rejected, user_id=actor.id, kind=DmKind.REJECTED, now=now, batch=batch
            ),
        )
        report_facts.record_rejection(session, lead=lead, reason=reason, note=note, now=now)
        return lead

    def escalate(
        self, session: Session, *, lead_id: int, breach: str, reopen: bool, now: datetime
    ) -> Lead:
        """An SLA was breached: mark the lead escalated; with `reopen`, anyone may claim it."""
        values: dict[str, Any] = {"escalated_at": now}
        if reopen:
            values["owner_id"] = None
        return self._transition(
            session,
            lead_id=lead_id,
            action=Action.ESCALATE,
            actor=SYSTEM,
            now=now,
            to=S.ESCALATED,
            values=values,
            details={"breach": breach, "reopened": reopen},
        )

    def reopen(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        now: datetime,
        clicked: outbox.Click | None = None,
    ) -> Lead:
        """A manager puts a lead back in the open queue, whoever had it and whatever was decided."""
        return self._transition(
            session,
            lead_id=lead_id,
            action=Action.REOPEN,
            actor=actor,
            now=now,
            to=S.OPEN,
            values=_UNCLAIMED,
            check=_manager_only(actor, "reopen {lead}"),
            clicked=clicked,
        )

    def release(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        now: datetime,
        clicked: outbox.Click | None = None,
    ) -> Lead:
        """The owner gives the lead back to the queue (or a manager does it for them)."""
        return self._transition(
            session,
            lead_id=lead_id,
            action=Action.RELEASE,
            actor=actor,
            now=now,
            to=S.OPEN,
            values=_UNCLAIMED,
            check=_owner_or_manager(actor, "release {lead}"),
            clicked=clicked,
        )

    def assign(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        assignee: str,
        now: datetime,
    ) -> Lead:
        """A manager hands the lead to a rep, claimed on the rep's behalf."""
        return self._transition(
            session,
            lead_id=lead_id,
            action=Action.ASSIGN,
            actor=actor,
            now=now,
            to=S.ACCEPTED,
            values={"owner_id": assignee, "accepted_at": now},
            details={"assignee": assignee},
            check=_manager_only(actor, "assign {lead}"),
            then=lambda assigned, batch: outbox.direct_message(
                session,
                lead=assigned,
                user_id=assignee,
                kind=DmKind.OWNER,
                now=now,
                details={"by": actor.id},
                batch=batch,
            ),
        )

    def mark_contacted(
        self,
        session: Session,
        *,
        lead_id: int,
        actor: Actor,
        now: datetime,
        clicked: outbox.Click | None = None,
    ) -> Lead:
        """The owner reached the lead: stop the follow-up clock. Reached in time (before an
        escalation), the owner's count of SLAs missed in a row starts again (bot.pauses)."""
        before = require(session, lead_id)
        in_time = before.status == S.ACCEPTED
        lead = self._transition(
            session,
            lead_id=lead_id,
            seen=before,
            action=Action.MARK_CONTACTED,
            actor=actor,
            now=now,
            to=S.CONTACTED,
            values={"contacted_at": now},
            check=_owner_or_manager(actor, "mark {lead} contacted"),
            clicked=clicked,
        )
        if in_time and lead.owner_id is not None:
            routing_store.reset_missed(session, user_id=lead.owner_id)
        return lead

    def record_outcome(
        self, session: Session, *, lead_id: int, actor: Actor, outcome: Outcome, now: datetime
    ) -> tuple[Lead, bool]:
        """Move a claimed lead to the outcome's stage (opportunity, won or lost), with the deal's
        amount, currency and reason; (lead, changed). The same outcome sent again changes
        nothing, so a CRM retrying its webhook records it once."""
        lead = require(session, lead_id)
        deal = {
            "outcome_amount": outcome.amount,
            "outcome_currency": outcome.currency,
            "outcome_reason": outcome.reason,
        }
        same_deal = all(getattr(lead, name) == value for name, value in deal.items())
        if lead.status == outcome.stage and same_deal:
            return lead, False
        when = outcome.at or now
        moment: dict[str, datetime | None]
        if outcome.stage == S.OPPORTUNITY:
            moment = {"opportunity_at": lead.opportunity_at or when}
        else:
            moment = {"closed_at": lead.closed_at if lead.status == outcome.stage else when}
        lead = self._transition(
            session,
            lead_id=lead_id,
            seen=lead,
            action=Action.OUTCOME,
            actor=actor,
            now=now,
            to=outcome.stage,
            values={**deal, **moment},
            details={
                "stage": outcome.stage.value,
                "amount": None if outcome.amount is None else str(outcome.amount),
                "currency": outcome.currency,
                "reason": outcome.reason,
                "at": when.isoformat(),
            },
            check=_may_reach(outcome.stage, actor),
        )
        return lead, True

    def undo(
        self,
        session: Session,
        *,
        event_id: int,
        actor: Actor,
        window: timedelta,
        now: datetime,
    ) -> Lead:
        """Take back an accept or reject: only its author, within `window`, and only while it
        is still the lead's newest move (so an undo works once). The lead returns to the status
        it left, its SLA window restarts, and the undo is audited as an event of its own."""
        event = lead_store.get_event(session, event_id)
        if event is None or event.action not in UNDONE_VALUES:
            raise InvalidInput({"undo": "this button names nothing that can be undone"})
        lead = require(session, event.lead_id)
        label, did = lead_label(lead), PAST_TENSE[Action(event.action)]
        if event.actor != actor.id:
            raise NotAllowed(f"Only {mention(event.actor)}, who {did} {label}, can undo it.")
        if as_utc(now) >= as_utc(event.at) + window:
            minutes = round(window.total_seconds() / 60)
            raise NotAllowed(
                f"{label} can be undone only within {minutes} min of being {did}; "
                "nothing was changed."
            )
        events = lead_store.list_events(session, lead.id)
        if events[-1].id != event.id:
            raise InvalidTransition(
                f"{label} has moved on since you {did} it; nothing was undone.",
                lead_id=lead.id,
                status=lead.status,
                owner_id=lead.owner_id,
            )
        earlier = [earlier.action for earlier in events[:-1]]
        assert event.from_status is not None  # an accept or reject always comes from a status
        undone = self._transition(
            session,
            lead_id=lead.id,
            seen=lead,
            action=Action.UNDO,
            actor=actor,
            now=now,
            to=event.from_status,
            values={
                **UNDONE_VALUES[event.action],
                **report_facts.undone(lead, event.action, earlier),
            },
            details={"undid": event.action, "event": event.id},
            allowed=frozenset({event.to_status}),
        )
        if event.action == Action.REJECT:
            report_facts.forget_rejection(session, lead_id=lead.id, at=event.at)
        return undone

    def _transition(
        self,
        session: Session,
        *,
        lead_id: int,
        action: Action,
        actor: Actor,
        now: datetime,
        to: LeadStatus | None,
        values: dict[str, Any],
        details: dict[str, Any] | None = None,
        check: Check | None = None,
        allowed: frozenset[LeadStatus] | None = None,
        seen: Lead | None = None,
        still_drawn: Callable[[Lead], bool] | None = None,
        clicked: outbox.Click | None = None,
        then: Callable[[Lead, outbox.Batch], None] | None = None,
    ) -> Lead:
        """Apply one checked, audited state change; see the module docstring.

        `seen` is the lead as the caller just read it, saving a read; after a lost race the lead is
        read again. A move that changes the owner records who had it before. `to` None keeps the
        status the lead has when written, and its SLA windows; otherwise the windows follow `to`.
        `still_drawn` tells whether the card Slack shows already draws the lead as written: then
        no redraw is asked. `clicked`: the click on the card that asked the move, whose
        response_url redraws it. `then` queues what else the move asks for once it has won,
        given the lead as written, in the batch of the move's own outbox rows.
        """
        for _attempt in range(MAX_ATTEMPTS):
            lead = seen if seen is not None else require(session, lead_id)
            seen = None
            if lead.status not in (allowed or ALLOWED_FROM[action]):
                raise _refusal(lead, action)
            if check is not None:
                check(lead)
            seen_status, seen_owner = lead.status, lead.owner_id
            if lead.offered_to is not None and action != Action.POST:
                values = {**values, "offered_to": None}  # any move but posting ends an offer
            facts = report_facts.on_transition(
                lead, action, values, actor_id=actor.id, now=now, policies=self.policies
            )
            counted = report_facts.counted(lead)
            tuned = tuning_rollups.part(lead)
            windows = (
                None
                if to is None
                else sla_timers.windows(lead, to, policies=self.policies, now=now)
            )
            updated = lead_store.update_lead_if_unchanged(
                session,
                lead_id,
                status=seen_status,
                owner_id=seen_owner,
                offer_tries=lead.offer_tries,
                values={
                    **values,
                    **facts,
                    **(windows.columns if windows is not None else {}),
                    "status": seen_status if to is None else to,
                    "updated_at": now,
                },
            )
            if updated is not None:
                audit = dict(details or {})
                if updated.owner_id != seen_owner:
                    audit["previous_owner"] = seen_owner
                    _tell_previous_owner(session, updated, seen_owner, actor, now)
                event_id = lead_store.add_event(
                    session, _event(updated, action, seen_status, actor, now, audit)
                )
                batch: outbox.Batch = []
                if action in TOLD_IN_THREAD:
                    outbox.history_reply(
                        session, lead=updated, event_id=event_id, now=now, batch=batch
                    )
                webhooks.lead_events(
                    session,
                    events=[(updated, _event(updated, action, seen_status, actor, now, audit))],
                    reasons=self.policies.rules.reasons,
                )
                undo_window = self.policies.rules.undo_window
                lapses = (
                    [
                        sla_timers.undo_closes(
                            lead_id=lead_id, event_id=event_id, at=now + undo_window
                        )
                    ]
                    if action in UNDONE_VALUES and undo_window
                    else []
                )
                if windows is not None or lapses:
                    sla_timers.enter_status(
                        session, lead=updated, windows=windows, now=now, also=lapses
                    )
                if still_drawn is not None and still_drawn(updated):
                    outbox.messages_changed(session, lead_id=updated.id, now=now, batch=batch)
                else:
                    outbox.card_changed(
                        session, lead=updated, now=now, clicked=clicked, batch=batch
                    )
                if then is not None:
                    then(updated, batch)
                outbox.write_batch(session, batch)
                # Last: every move of a day's leads writes that day's count rows, so the lock
                # on them is taken as late, and held as briefly, as the transaction allows.
                report_facts.recount(session, counted, updated)
                tuning_rollups.move(session, tuned, tuning_rollups.part(updated))
                return updated
        lead = require(session, lead_id)
        raise _refusal(lead, action)


def check_rejection(
    *, reason: str, note: str | None, reasons: Collection[str]
) -> tuple[str, str | None]:
    """A rejection must name a reason from the taxonomy, explain 'other' in the note, and keep
    the note within the form's limit."""
    note = (note or "").strip() or None
    problems: dict[str, str] = {}
    if reason not in reasons:
        problems["reason"] = f"must be one of: {', '.join(reasons)}"
    if reason == "other" and note is None:
        problems["note"] = "is required when the reason is 'other'"
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        problems["note"] = f"must be at most {NOTE_MAX_LENGTH:,} characters, not {len(note):,}"
    if problems:
        raise InvalidInput(problems)
    return reason, note


def ensure_possible(session: Session, *, lead_id: int, action: Action) -> Lead:
    """The lead, if `action` is possible now; raises what the action itself would raise.

    For steps that must ask something first (Reject opens a form): a lead claimed meanwhile is
    refused before the rep fills in the form, not after.
    """
    lead = require(session, lead_id)
    if lead.status not in ALLOWED_FROM[action]:
        raise _refusal(lead, action)
    return lead


_UNCLAIMED: dict[str, Any] = {
    "owner_id": None,
    "accepted_at": None,
    "rejected_by": None,
    "reject_reason": None,
    "reject_note": None,
    "rejected_at": None,
}


def require(session: Session, lead_id: int) -> Lead:
    """The lead, or LeadNotFound."""
    lead = lead_store.get_lead(session, lead_id)
    if lead is None:
        raise LeadNotFound(lead_id)
    return lead


def _refusal(lead: Lead, action: Action) -> InvalidTransition:
    status = lead.status
    if action in (Action.ACCEPT, Action.REJECT) and status in DECIDED:
        by = lead.rejected_by if status == S.REJECTED else lead.owner_id
        return AlreadyClaimed(lead_id=lead.id, lead=lead_label(lead), status=status, owner_id=by)
    if action in (Action.REOPEN, Action.RELEASE) and status == S.OPEN:
        problem = "is already open to every rep; nothing was changed."
    else:
        problem = f"is {status.value}; it cannot be {PAST_TENSE[action]} now."
    return InvalidTransition(
        f"{lead_label(lead)} {problem}",
        lead_id=lead.id,
        status=status,
        owner_id=lead.owner_id,
    )


def _unclaimed(lead: Lead) -> None:
    """An escalated lead whose policy did not reopen it still belongs to its owner."""
    if lead.owner_id is not None:
        raise _claimed_by(lead)


def _both(first: Check, second: Check) -> Check:
    def check(lead: Lead) -> None:
        first(lead)
        second(lead)

    return check


def _not_offered_to_another(actor: Actor) -> Check:
    """A lead offered to one rep (bot.offers) is theirs to take or pass, nobody else's."""

    def check(lead: Lead) -> None:
        if lead.offered_to is not None and lead.offered_to != actor.id:
            raise offer_ended(lead)

    return check


def offer_ended(lead: Lead) -> InvalidTransition:
    """The refusal of a click on an offer that is not (or no longer) the clicker's: one line
    saying where the lead is now."""
    label = lead_label(lead)
    if lead.offered_to is not None:
        text = f"{label} is offered to {mention(lead.offered_to)} now; nothing was changed."
    else:
        if lead.owner_id is not None:
            where = f"it is {mention(lead.owner_id)}'s"
        elif lead.status in (S.NEW, S.OPEN, S.ESCALATED):
            where = "it is open to every rep in the channel"
        else:
            where = f"it is {lead.status.value}"
        text = f"The offer of {label} has ended: {where}; nothing was changed."
    return InvalidTransition(text, lead_id=lead.id, status=lead.status, owner_id=lead.owner_id)


def _unclaimed_or_owned_by(actor: Actor) -> Check:
    def check(lead: Lead) -> None:
        if lead.owner_id is not None and lead.owner_id != actor.id and not actor.is_manager:
            raise _claimed_by(lead)

    return check


def _may_reach(stage: LeadStatus, actor: Actor) -> Check:
    """An outcome follows a claim, comes from the owner or a manager (the CRM acts as one),
    and a won or lost deal does not go back to being an opportunity."""
    owner_or_manager = _owner_or_manager(actor, "record an outcome for {lead}")

    def check(lead: Lead) -> None:
        label = lead_label(lead)
        if lead.owner_id is None:
            raise InvalidTransition(
                f"{label} has no owner; an outcome follows a claim.",
                lead_id=lead.id,
                status=lead.status,
                owner_id=None,
            )
        if stage == S.OPPORTUNITY and lead.status in OUTCOMES:
            raise InvalidTransition(
                f"{label} is {lead.status.value}; it cannot go back to opportunity.",
                lead_id=lead.id,
                status=lead.status,
                owner_id=lead.owner_id,
            )
        owner_or_manager(lead)

    return check


def _claimed_by(lead: Lead) -> AlreadyClaimed:
    return AlreadyClaimed(
        lead_id=lead.id, lead=lead_label(lead), status=lead.status, owner_id=lead.owner_id
    )


def _manager_only(actor: Actor, what: str) -> Check:
    """`what` is the move in words, `{lead}` standing for the lead: the refusal names it."""

    def check(lead: Lead) -> None:
        if not actor.is_manager:
            raise NotAllowed(f"Only a manager can {what.format(lead=lead_label(lead))}.")

    return check


def _owner_or_manager(actor: Actor, what: str) -> Check:
    def check(lead: Lead) -> None:
        if not actor.is_manager and lead.owner_id != actor.id:
            raise NotAllowed(
                f"Only the lead's owner or a manager can {what.format(lead=lead_label(lead))}."
            )

    return check


def _tell_previous_owner(
    session: Session, lead: Lead, previous: str | None, actor: Actor, now: datetime
) -> None:
    """Someone else (a manager) took the lead from its owner: the owner hears it by DM, and
    their App Home no longer lists it."""
    if previous is None or actor.id in (previous, SYSTEM.id):
        return
    outbox.home_changed(session, user_id=previous, now=now)
    outbox.direct_message(
        session,
        lead=lead,
        user_id=previous,
        kind=DmKind.TAKEN,
        now=now,
        details={"by": actor.id, "to": lead.owner_id},
    )


def _event(
    lead: Lead,
    action: str,
    from_status: LeadStatus | None,
    actor: Actor,
    now: datetime,
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "lead_id": lead.id,
        "action": str(action),
        "from_status": from_status,
        "to_status": lead.status,
        "actor": actor.id,
        "at": now,
        "details": details,
    }
