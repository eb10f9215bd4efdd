"""Slack action, view and block ids: declared once, shared by the builders and the listeners."""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    """The `action_id` of each lead button; the button's `value` carries the lead id."""

    ACCEPT = "lead.accept"
    REJECT = "lead.reject"
    RELEASE = "lead.release"
    MARK_CONTACTED = "lead.contacted"
    DETAILS = "lead.details"
    REOPEN = "lead.reopen"
    ASSIGN_TO = "lead.assign_to"  # a user picker; its block id carries the lead id
    UNDO = "lead.undo"  # its value is the id of the event to undo
    PASS = "lead.pass"  # the rep a lead is offered to hands it on (bot.offers)


# The block holding an escalation's Assign to… picker: this prefix, then the lead id (a
# users_select has no value of its own to carry it).
ASSIGN_BLOCK_PREFIX = "lead.assign:"


class ViewId(StrEnum):
    """The `callback_id` of each modal; its `private_metadata` carries the lead id."""

    REJECT = "lead.reject.submit"
    PASS = "lead.pass.submit"  # an offered lead handed on, with an optional reason
    DETAILS = "lead.details.view"  # has no submit: it only shows


# Block and action ids of the reject modal's inputs, as they come back in `view.state.values`.
REASON_BLOCK = "reason"
REASON_ACTION = "reason_select"
NOTE_BLOCK = "note"
NOTE_ACTION = "note_input"
# The pass modal's one input, its optional reason.
PASS_REASON_BLOCK = "pass_reason"
PASS_REASON_ACTION = "pass_reason_input"
