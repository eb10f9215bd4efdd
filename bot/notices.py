"""What Baton says in words, built from what the domain recorded: why a DM is sent, SLA reminders
and escalations, and a refusal in the form its surface can show (messages render mentions;
modals show them raw)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import AlreadyClaimed, BatonError, InvalidInput
from bot.outbox import DmKind
from bot.slack_text import lead_label, lead_title, mention, mention_group, slack_date
from storage.models import Lead

BREACHED_WINDOWS = {"claim": "nobody claimed it", "follow_up": "has not reached it"}
# What a person hears when Baton failed in a way they cannot fix.
FAILURE = "Sorry, something went wrong on Baton's side; nothing was changed. Try again?"


def dm_intro(lead: Lead, kind: DmKind) -> str:
    """The first line of a DM to the owner (`OWNER` or `FOLLOW_UP_REMINDER`): why Baton writes
    about this lead. The other kinds are drawn by bot.lead_messages."""
    who = lead_title(lead)
    if kind == DmKind.FOLLOW_UP_REMINDER:
        return f"⏰ Reminder: reach *{who}* before {_when(lead.follow_up_due_at)}."
    return f"You claimed *{who}*."


def form_expired(lead: Lead, *, button: str = "Reject", form: str = "the Reject form") -> str:
    """Why no modal opened: Slack's 3-second trigger ran out before it could."""
    who = lead_label(lead)
    return f"Slack took too long to open {form} for {who}. Please click {button} again."


def claim_reminder(lead: Lead) -> str:
    """The reply in the card's thread when a lead's claim window is nearly used up."""
    return f"⏰ Still unclaimed: the claim SLA ends {_when(lead.claim_due_at)}."


def follow_up_reminded(lead: Lead) -> str:
    """The reply in the card's thread when its owner is reminded (by DM) to follow up."""
    return f"⏰ Reminded its owner: the follow-up SLA ends {_when(lead.follow_up_due_at)}."


@dataclass(frozen=True)
class Breach:
    """An SLA breach as the sweep saw it: the lead, which window (claim or follow_up), who
    owned the lead when it was breached, and who is called to step in."""

    lead: Lead
    policy: str
    window: str
    owner_id: str | None
    managers: Sequence[str]
    manager_groups: Sequence[str]
    reopened: bool

    def in_thread(self) -> str:
        """The reply in the card's thread, calling the managers in."""
        text = f"🚨 SLA breached ({self.policy}): {self._what()} in time."
        text += f" {self._who()}, please step in."
        return text + (" It is open to every rep again." if self.reopened else "")

    def in_channel(self) -> str:
        """The line in the policy's escalation channel."""
        return (
            f"🚨 SLA breached ({self.policy}) on {lead_title(self.lead)}: {self._what()}. "
            f"{self._who()}"
        )

    def _what(self) -> str:
        if self.window == "claim":
            return BREACHED_WINDOWS["claim"]
        return f"{mention(self.owner_id)} {BREACHED_WINDOWS['follow_up']}"

    def _who(self) -> str:
        called = [*map(mention, self.managers), *map(mention_group, self.manager_groups)]
        return " ".join(called) or "Managers"


def refusal(error: BatonError, *, viewer: str | None = None, in_modal: bool = False) -> str:
    """A domain error in words for `viewer`. Whoever decided on the lead first is mentioned in a
    message; a modal would show the mention raw, so there they are "you" or "another rep", and
    the lead, which the form is about, is "This lead"."""
    if isinstance(error, AlreadyClaimed):
        if not in_modal:
            return error.describe(mention(error.owner_id))
        return error.describe(
            "you" if error.owner_id == viewer else "another rep", lead="This lead"
        )
    if isinstance(error, InvalidInput):
        return error.in_words()
    return str(error)


def _when(moment: datetime | None) -> str:
    return slack_date(moment) if moment is not None else "soon"


def burst_notice(queued_cards: int, seconds_per_card: float) -> str:
    """Said in a channel before a backlog of cards it cannot show within a minute."""
    minutes = max(1, round(queued_cards * seconds_per_card / 60))
    span = "the next minute" if minutes == 1 else f"the next ~{minutes} minutes"
    return (
        f":inbox_tray: *{queued_cards} new leads are on their way to this channel*, more than "
        f"Slack lets Baton post in a minute. Their cards appear over {span}, in the order the "
        "leads arrived; each lead's claim window starts when its card appears."
    )
