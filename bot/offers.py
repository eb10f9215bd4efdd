"""Routing in `offer` mode: a new lead is offered to one rep of its route's pool at a time,
chosen by the rotation as `assign` chooses (bot.pools). The rep takes it with Accept (a claim,
bot.lifecycle.accept) or hands it on with Pass; an offer unanswered for the route's
`offer_timeout` passes on by itself (a timer the SLA sweep fires). After `offer_tries` offers,
or with nobody left available, the lead falls back to its channel, where the first click wins,
and its thread says so.

One offer at a time per lead, across processes: every offer move locks the lead's row and
checks that the offer it ends is still the current one (`offer_tries` names it), and every
lifecycle move compares `offer_tries` too, so a click on a stale offer, or a timeout racing a
Pass, changes nothing. Each decision is a `route` event with its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.lifecycle import ROUTED, Actor, Lifecycle, offer_ended, record_routing, require
from bot.outbox import DmKind
from bot.pools import ROUTING, Pool
from bot.rep_directory import Directory
from bot.routing import route_for
from bot.rules import Route, Rules
from bot.slack_text import mention, safe_text
from storage import leads as lead_store
from storage import timers as timer_store
from storage.models import Lead, LeadStatus, SlaTimer, TimerKind

OFFERED = "offered to"
PASS_REASON_LIMIT = 200  # characters of a Pass's reason kept in the audit
# Where a lead may still be offered: waiting for a rep, nobody's yet.
OFFERABLE = frozenset({LeadStatus.NEW, LeadStatus.OPEN})


def offer_new_leads(
    session: Session, lifecycle: Lifecycle, route: Route, leads: Sequence[Lead], now: datetime
) -> None:
    """Offer each new lead of an `offer` route to the next available rep of its pool."""
    pool = Pool.for_routing(session, lifecycle, route, now=now)
    for lead in leads:
        _offer_next(session, lead, route, pool, steps=[], actor=ROUTING, now=now)
    pool.save()


def ensure_offered(session: Session, *, lead_id: int, actor: Actor) -> Lead:
    """The lead, if it is offered to `actor` now: Pass asks for a reason first, and an offer
    that ended meanwhile is refused before the rep fills in the form, not after."""
    lead = require(session, lead_id)
    if lead.offered_to != actor.id or lead.status not in OFFERABLE:
        raise offer_ended(lead)
    return lead


def pass_offer(
    session: Session,
    *,
    rules: Rules,
    directory: Directory,
    lead_id: int,
    actor: Actor,
    reason: str | None,
    now: datetime,
) -> Lead:
    """The rep the lead is offered to passes it on (with an optional reason, audited); a Pass
    on an offer that is not theirs (any more) is refused, changing nothing."""
    ensure_offered(session, lead_id=lead_id, actor=actor)
    lead = lead_store.lock_lead(session, lead_id)
    if lead.offered_to != actor.id or lead.status not in OFFERABLE:
        raise offer_ended(lead)
    why = (reason or "").strip()
    step = f"{mention(actor.id)} passed" + (f": {safe_text(why, PASS_REASON_LIMIT)}" if why else "")
    return _pass_on(session, rules, directory, lead, step=step, actor=actor, now=now)


def time_out(
    session: Session, *, rules: Rules, directory: Directory, timer: SlaTimer, now: datetime
) -> bool | None:
    """An offer's timeout (`timer`, taken by the sweep) is due: if that offer is still open,
    pass the lead on; whether it was.

    A lead being moved right now (a Pass, an Accept: they wait for this timer's lock to cancel
    it) is not waited for, which could deadlock: the timer is put back for the next sweep,
    and None says so."""
    lead = lead_store.lock_lead_unless_busy(session, timer.lead_id)
    if lead is None:
        timer_store.put_back(session, timer)
        return None
    if lead.offered_to is None or lead.offer_tries != timer.cycle or lead.status not in OFFERABLE:
        return False  # taken, passed or ended meanwhile: nothing left to time out
    route = route_for(lead, rules)
    waited = f" within {route.offer_timeout}" if route is not None else ""
    step = f"{mention(lead.offered_to)} did not answer{waited}"
    _pass_on(session, rules, directory, lead, step=step, actor=ROUTING, now=now)
    return True


def _pass_on(
    session: Session,
    rules: Rules,
    directory: Directory,
    lead: Lead,
    *,
    step: str,
    actor: Actor,
    now: datetime,
) -> Lead:
    """End the lead's current offer (its timer too) and offer it to the next rep."""
    timer_store.cancel_pending(session, lead_id=lead.id, now=now, only=TimerKind.OFFER_TIMEOUT)
    route = route_for(lead, rules)
    if route is None or route.mode != "offer":  # the configuration changed meanwhile
        return _to_channel(
            session, lead, route, [step, "its route no longer offers leads"], actor, now
        )
    pool = Pool(session, route, directory=directory, team_timezone=rules.hours.timezone, now=now)
    lead = _offer_next(session, lead, route, pool, steps=[step], actor=actor, now=now)
    pool.save()
    return lead


def _offer_next(
    session: Session,
    lead: Lead,
    route: Route,
    pool: Pool,
    *,
    steps: list[str],
    actor: Actor,
    now: datetime,
) -> Lead:
    """Offer the lead to the pool's next available rep who has not had it, or, after the
    route's tries or with nobody available, give it to the channel."""
    if lead.offer_tries >= route.offer_tries:
        tried = f"offered to {lead.offer_tries} reps, none took it"
        return _to_channel(session, lead, route, [*steps, tried], actor, now)
    decision = pool.choose(verb=OFFERED, excluded=_offered_before(session, lead.id))
    if decision.assignee is None:
        return _to_channel(session, lead, route, [*steps, *decision.steps], actor, now)
    rep, due = decision.assignee, now + route.offer_wait
    lead = lead_store.update_lead(
        session,
        lead.id,
        {"offered_to": rep, "offer_tries": lead.offer_tries + 1, "updated_at": now},
    )
    details = {"pool": route.pool_key, "offered_to": rep, "steps": [*steps, *decision.steps]}
    record_routing(session, lead=lead, actor=actor, details=details, now=now)
    timer_store.add_many(
        session,
        [
            {
                "lead_id": lead.id,
                "kind": TimerKind.OFFER_TIMEOUT,
                "cycle": lead.offer_tries,
                "due_at": due,
            }
        ],
    )
    outbox.direct_message(
        session,
        lead=lead,
        user_id=rep,
        kind=DmKind.OFFER,
        now=now,
        details={"until": due.isoformat(), "offer": lead.offer_tries},
    )
    _redraw(session, lead, now)
    return lead


def _to_channel(
    session: Session,
    lead: Lead,
    route: Route | None,
    steps: list[str],
    actor: Actor,
    now: datetime,
) -> Lead:
    """Nobody (more) to offer the lead to: the channel's first click wins, as its thread says."""
    if lead.offered_to is not None:
        lead = lead_store.update_lead(session, lead.id, {"offered_to": None, "updated_at": now})
    steps = [*steps, "open to every rep in the channel: the first to click Accept takes it"]
    pool = route.pool_key if route is not None else None
    event_id = record_routing(
        session,
        lead=lead,
        actor=actor,
        details={"pool": pool, "offered_to": None, "steps": steps},
        now=now,
    )
    outbox.history_reply(session, lead=lead, event_id=event_id, now=now)
    _redraw(session, lead, now)
    return lead


def _offered_before(session: Session, lead_id: int) -> list[str]:
    """The reps the lead was offered to already, as its route events recorded them."""
    return [
        str(event.details["offered_to"])
        for event in lead_store.list_events(session, lead_id)
        if event.action == ROUTED and event.details.get("offered_to")
    ]


def _redraw(session: Session, lead: Lead, now: datetime) -> None:
    """A posted card shows who the lead is offered to (a card not yet posted will be drawn as
    the lead is then); the previous rep's offer DM loses its buttons."""
    if lead.slack_ts is not None:
        outbox.card_changed(session, lead=lead, now=now)
    else:
        outbox.messages_changed(session, lead_id=lead.id, now=now)
