"""Pausing reps who keep missing SLAs: with a route's `pause_after_missed = N`, a rep whose
leads of that route breached N SLAs in a row is paused (routing skips them, as if marked
away, until they or a manager say `/leads back`), and the managers the breach was escalated to
are told. Contacting a lead within its window starts the count again (bot.lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from bot import outbox
from bot.lifecycle import Actor, record_routing
from bot.routing import route_for
from bot.rules import Rules
from bot.slack_text import lead_label, mention
from storage import routing as routing_store
from storage.models import Lead

PAUSED_BY = Actor("Baton routing", is_manager=True)


def missed_sla(
    session: Session,
    *,
    rules: Rules,
    lead: Lead,
    owner: str | None,
    tell: Sequence[str],
    now: datetime,
) -> bool:
    """Count the breach against `owner` (the lead's owner when it breached); pause them when
    their route says so, telling `tell` (managers' user IDs, an escalation channel) and
    auditing it on the lead. Whether the owner was paused."""
    route = route_for(lead, rules)
    if owner is None or route is None or route.pause_after_missed is None:
        return False
    missed = routing_store.count_missed(session, user_id=owner)
    if missed < route.pause_after_missed:
        return False
    routing_store.reset_missed(session, user_id=owner)
    if owner in routing_store.away_reps(session, [owner]):
        return False  # already away or paused: their mark stands
    reason = f"paused after {missed} missed SLAs in a row"
    routing_store.mark_away(
        session, user_id=owner, until=None, set_by=PAUSED_BY.id, now=now, reason=reason
    )
    told = ", ".join(mention(who) if who.startswith(("U", "W")) else f"<#{who}>" for who in tell)
    record_routing(
        session,
        lead=lead,
        actor=PAUSED_BY,
        details={"steps": [f"{mention(owner)} {reason}: routing skips them; told {told}"]},
        now=now,
    )
    text = (
        f"{mention(owner)} missed {missed} SLAs in a row (the latest: "
        f"{lead_label(lead)}), so routing gives them no leads until they or a manager say "
        f"`/leads back {mention(owner)}`."
    )
    for target in tell:
        outbox.channel_message(session, channel=target, text=text, lead_id=lead.id, now=now)
    return True
