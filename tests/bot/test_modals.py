"""The reject modal: it offers the configured reasons; its submission reads back and errs back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import lifecycle
from bot.errors import InvalidInput
from bot.modals import parse_reject_submission, reject_errors, reject_modal
from bot.rules import DEFAULT_REASONS
from bot.slack_ids import NOTE_ACTION, NOTE_BLOCK, REASON_ACTION, REASON_BLOCK, ViewId
from tests.bot.test_cards import HOSTILE, LEAD_ID, make_lead


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def submitted(reason: str | None, note: str | None) -> dict[str, Any]:
    """`view.state.values` as Slack sends it in a view_submission."""
    selected = (
        None
        if reason is None
        else {"text": {"type": "plain_text", "text": DEFAULT_REASONS[reason]}, "value": reason}
    )
    return {
        REASON_BLOCK: {REASON_ACTION: {"type": "static_select", "selected_option": selected}},
        NOTE_BLOCK: {NOTE_ACTION: {"type": "plain_text_input", "value": note}},
    }


def domain_errors(reason: str, note: str | None) -> dict[str, str]:
    """What the domain says about this input when a rep rejects a lead."""
    with pytest.raises(InvalidInput) as raised:
        lifecycle.check_rejection(reason=reason, note=note, reasons=DEFAULT_REASONS)
    return raised.value.errors


def test_modal_is_a_reject_view_for_this_lead() -> None:
    view = reject_modal(make_lead(), reasons=DEFAULT_REASONS)

    assert view["type"] == "modal"
    assert view["callback_id"] == ViewId.REJECT == "lead.reject.submit"
    assert view["private_metadata"] == str(LEAD_ID)
    assert view["title"]["text"] == "Reject lead"
    assert view["submit"]["text"] == "Reject"
    assert view["close"]["text"] == "Cancel"
    assert "Dana Whitfield (Northwind Traders)" in view["blocks"][0]["text"]["text"]


def test_modal_lists_every_configured_reason_with_its_code_as_value() -> None:
    reason = blocks_by_id(reject_modal(make_lead(), reasons=DEFAULT_REASONS))[REASON_BLOCK]

    assert reason["type"] == "input"
    assert "optional" not in reason
    select = reason["element"]
    assert select["type"] == "static_select"
    assert select["action_id"] == REASON_ACTION
    assert {option["value"]: option["text"]["text"] for option in select["options"]} == (
        DEFAULT_REASONS
    )


def test_note_is_an_optional_multiline_input_whose_hint_says_when_it_is_required() -> None:
    note = blocks_by_id(reject_modal(make_lead(), reasons=DEFAULT_REASONS))[NOTE_BLOCK]

    assert note["optional"] is True
    assert note["element"] == {
        "type": "plain_text_input",
        "action_id": NOTE_ACTION,
        "multiline": True,
        "max_length": 2000,
    }
    assert DEFAULT_REASONS["other"] in note["hint"]["text"]
    assert blocks_by_id(reject_modal(make_lead(), reasons=DEFAULT_REASONS))[REASON_BLOCK][
        "dispatch_action"
    ]  # choosing a reason redraws the form for it


@pytest.mark.parametrize(("reason", "optional"), [("other", False), ("no_budget", True)])
def test_the_form_redrawn_for_a_reason_marks_the_note_as_the_rule_says(
    reason: str, optional: bool
) -> None:
    """Slack labels an optional input "(optional)": for Other, the note is not."""
    view = reject_modal(make_lead(), reasons=DEFAULT_REASONS, reason=reason)
    blocks = blocks_by_id(view)

    assert blocks[NOTE_BLOCK]["optional"] is optional
    assert ("hint" in blocks[NOTE_BLOCK]) is optional  # "Required when…" only while optional
    assert blocks[REASON_BLOCK]["element"]["initial_option"]["value"] == reason
    if not optional:  # the rule the server checks on submit
        assert "note" in domain_errors(reason, None)


def test_modal_escapes_and_clips_the_lead() -> None:
    lead = make_lead(name=HOSTILE * 300, company="<@U123>")
    view = reject_modal(lead, reasons=DEFAULT_REASONS)
    text = json.dumps(view, ensure_ascii=False)

    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt;" in text
    assert len(view["blocks"][0]["text"]["text"]) <= 3000


def test_modal_offers_at_most_a_hundred_reasons_with_labels_cut_to_fit() -> None:
    reasons = {f"reason_{n}": "x" * 80 for n in range(120)}
    options = blocks_by_id(reject_modal(make_lead(), reasons=reasons))[REASON_BLOCK]["element"][
        "options"
    ]

    assert len(options) == 100
    assert all(len(option["text"]["text"]) <= 75 for option in options)


def test_submission_reads_reason_code_and_trimmed_note() -> None:
    assert parse_reject_submission(submitted("no_budget", "  Too small \n")) == (
        "no_budget",
        "Too small",
    )


@pytest.mark.parametrize(
    "values",
    [
        {},
        submitted(None, None),
        submitted(None, "   "),
        {REASON_BLOCK: {}, NOTE_BLOCK: None},
        {REASON_BLOCK: {REASON_ACTION: {"selected_option": {}}}},
    ],
)
def test_submission_with_nothing_filled_in_reads_as_none(values: dict[str, Any]) -> None:
    assert parse_reject_submission(values) == (None, None)


def test_other_without_a_note_comes_back_as_an_error_under_the_note() -> None:
    reason, note = parse_reject_submission(submitted("other", ""))
    assert (reason, note) == ("other", None)

    errors = reject_errors(domain_errors("other", note))

    assert errors == {NOTE_BLOCK: "Note is required when the reason is 'other'"}
    assert set(errors) <= set(blocks_by_id(reject_modal(make_lead(), reasons=DEFAULT_REASONS)))


def test_a_note_longer_than_the_form_allows_comes_back_under_the_note() -> None:
    assert reject_errors(domain_errors("no_need", "x" * 2001)) == {
        NOTE_BLOCK: "Note must be at most 2,000 characters, not 2,001"
    }
    assert lifecycle.check_rejection(
        reason="no_need", note=" " + "x" * 2000 + "\n", reasons=DEFAULT_REASONS
    ) == ("no_need", "x" * 2000)


def test_unknown_reason_comes_back_as_an_error_under_the_reason() -> None:
    errors = reject_errors(domain_errors("retired_code", "note"))

    assert list(errors) == [REASON_BLOCK]
    assert errors[REASON_BLOCK].startswith("Reason must be one of: no_budget")


def test_a_field_without_its_own_block_is_shown_under_the_reason() -> None:
    assert reject_errors({"reason": "is missing", "lead": "is gone"}) == {
        REASON_BLOCK: "Reason is missing; Lead is gone"
    }
