"""Domain errors: what can go wrong in a handoff, in words a user can be shown."""

from __future__ import annotations

from storage.models import LeadStatus


class BatonError(Exception):
    """Base of every error the domain raises on purpose; its message is safe to show a user."""


class LeadNotFound(BatonError):
    def __init__(self, lead_id: int | str) -> None:
        super().__init__(f"Lead {lead_id} does not exist.")
        self.lead_id = lead_id


class InvalidTransition(BatonError):
    """The lead is not in a state that allows the action (it moved on, or never could)."""

    def __init__(
        self, message: str, *, lead_id: int, status: LeadStatus, owner_id: str | None
    ) -> None:
        super().__init__(message)
        self.lead_id = lead_id
        self.status = status
        self.owner_id = owner_id


class AlreadyClaimed(InvalidTransition):
    """Someone else decided on the lead first; `owner_id` says who (the rep who claimed it, or who
    rejected it), `lead` how a message names the lead (bot.slack_text.lead_label). The message
    names nobody: how to name them depends on where it is shown (bot.notices.refusal), so the
    adapter words it with `describe`."""

    def __init__(
        self, *, lead_id: int, lead: str, status: LeadStatus, owner_id: str | None
    ) -> None:
        self.decision = "rejected" if status == LeadStatus.REJECTED else "claimed"
        self.lead = lead
        super().__init__(
            self.describe("another rep"), lead_id=lead_id, status=status, owner_id=owner_id
        )

    def describe(self, who: str, *, lead: str | None = None) -> str:
        """The refusal, naming whoever decided as `who` (a mention, "you", "another rep"), and the
        lead as `lead` where the surface already shows which (a form about it)."""
        return f"{lead or self.lead} was already {self.decision} by {who}."


class NotAllowed(BatonError):
    """The actor may not do this (not the owner, not a manager)."""


class InvalidInput(BatonError):
    """Input failed validation; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in errors.items()))
        self.errors = errors

    def in_words(self) -> str:
        """The problems as one sentence, without the field names, which mean nothing to someone
        typing a command or clicking a button (`lead`: "`x` is not a lead number")."""
        problems = "; ".join(self.errors.values())
        return problems[:1].upper() + problems[1:] + "."
