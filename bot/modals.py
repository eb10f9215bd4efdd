"""The reject and pass modals: the views a rep fills in, and reading and answering their
submissions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import (
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.lifecycle import NOTE_MAX_LENGTH
from bot.offers import PASS_REASON_LIMIT
from bot.slack_ids import (
    NOTE_ACTION,
    NOTE_BLOCK,
    PASS_REASON_ACTION,
    PASS_REASON_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
    ViewId,
)
from bot.slack_text import OPTION_TEXT_LIMIT, OPTIONS_LIMIT, clip, lead_title
from storage.models import Lead

# The reason whose note is required (bot.lifecycle.reject enforces it on submit).
OTHER = "other"
# Domain field names (bot.lifecycle.reject's InvalidInput) to the modal blocks that show them.
_FIELD_BLOCKS = {"reason": REASON_BLOCK, "note": NOTE_BLOCK}


def reject_modal(
    lead: Lead, *, reasons: Mapping[str, str], reason: str | None = None
) -> dict[str, Any]:
    """The modal Reject opens: a reason from the taxonomy (so feedback can be counted) and a note.

    The lead id travels in `private_metadata`, so the submission names the lead it rejects.
    Choosing a reason redraws the form (`dispatch_action`) with `reason` chosen, so the note is
    marked required exactly when the rule requires it: for Other, and optional otherwise.
    """
    options = {
        code: Option(value=code, text=PlainTextObject(text=clip(label, OPTION_TEXT_LIMIT)))
        for code, label in list(reasons.items())[:OPTIONS_LIMIT]
    }
    note_required = reason == OTHER
    hint = (
        f"Required when the reason is “{clip(reasons[OTHER], OPTION_TEXT_LIMIT)}”."
        if OTHER in reasons and not note_required
        else None
    )
    view = View(
        type="modal",
        callback_id=ViewId.REJECT.value,
        private_metadata=str(lead.id),
        title=PlainTextObject(text="Reject lead"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"Rejecting *{lead_title(lead)}*")),
            InputBlock(
                block_id=REASON_BLOCK,
                label=PlainTextObject(text="Reason"),
                dispatch_action=True,
                element=StaticSelectElement(
                    action_id=REASON_ACTION,
                    placeholder=PlainTextObject(text="Why is it not a fit?"),
                    options=list(options.values()),
                    initial_option=options.get(reason or ""),
                ),
            ),
            InputBlock(
                block_id=NOTE_BLOCK,
                label=PlainTextObject(text="Note for marketing"),
                optional=not note_required,
                hint=PlainTextObject(text=hint) if hint else None,
                element=PlainTextInputElement(
                    action_id=NOTE_ACTION, multiline=True, max_length=NOTE_MAX_LENGTH
                ),
            ),
        ],
    )
    return view.to_dict()


def pass_modal(lead: Lead) -> dict[str, Any]:
    """The modal Pass opens on an offered lead: an optional reason, kept in the lead's routing
    history; the lead id travels in `private_metadata`."""
    view = View(
        type="modal",
        callback_id=ViewId.PASS.value,
        private_metadata=str(lead.id),
        title=PlainTextObject(text="Pass lead on"),
        submit=PlainTextObject(text="Pass"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Passing *{lead_title(lead)}* on to the next rep of the rotation."
                )
            ),
            InputBlock(
                block_id=PASS_REASON_BLOCK,
                label=PlainTextObject(text="Why (optional)"),
                optional=True,
                element=PlainTextInputElement(
                    action_id=PASS_REASON_ACTION, max_length=PASS_REASON_LIMIT
                ),
            ),
        ],
    )
    return view.to_dict()


def parse_pass_submission(state_values: Mapping[str, Any]) -> str | None:
    """The reason a Pass gave, None when left empty."""
    reason = _action_state(state_values, PASS_REASON_BLOCK, PASS_REASON_ACTION).get("value")
    return (reason.strip() or None) if isinstance(reason, str) else None


def parse_reject_submission(state_values: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(reason code, note) from a view_submission's `view.state.values`; None where left empty."""
    reason_state = _action_state(state_values, REASON_BLOCK, REASON_ACTION)
    selected = reason_state.get("selected_option")
    reason = selected.get("value") if isinstance(selected, Mapping) else None
    note = _action_state(state_values, NOTE_BLOCK, NOTE_ACTION).get("value")
    note = note.strip() if isinstance(note, str) else None
    return (reason if isinstance(reason, str) and reason else None), (note or None)


def reject_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Domain field errors as `{block_id: message}`, for `ack(response_action="errors", ...)`.

    A field without a block of its own is shown under the reason, so no complaint is lost.
    """
    shown: dict[str, str] = {}
    for field, problem in errors.items():
        block = _FIELD_BLOCKS.get(field, REASON_BLOCK)
        message = f"{field.capitalize()} {problem}"
        shown[block] = f"{shown[block]}; {message}" if block in shown else message
    return shown


def _action_state(state_values: Mapping[str, Any], block: str, action: str) -> Mapping[str, Any]:
    block_state = state_values.get(block)
    if not isinstance(block_state, Mapping):
        return {}
    action_state = block_state.get(action)
    return action_state if isinstance(action_state, Mapping) else {}
