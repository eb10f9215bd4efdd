"""Properties of the intake validator: whatever arrives ends as a lead that can be stored and
sent back, or as field errors that can be shown; never as another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import intake, json_input
from bot.errors import InvalidInput
from tests.intake_strategies import json_values, lead_shaped

EXAMPLES = settings(max_examples=400, deadline=None)


def outcome(payload: Any) -> intake.LeadInput | InvalidInput:
    try:
        return intake.validate_lead(payload)
    except InvalidInput as invalid:
        return invalid


def assert_storable(lead: intake.LeadInput) -> None:
    """What intake stores encodes as UTF-8 and strict JSON (the API's answer and the columns)."""
    fields = lead.to_fields()
    encoded = json.dumps(fields, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert b"\\u0000" not in encoded
    assert isinstance(fields["external_id"], str) and isinstance(fields["name"], str)
    assert fields["score"] is None or (type(fields["score"]) is int and 0 <= fields["score"] <= 100)


def assert_showable(invalid: InvalidInput) -> None:
    assert invalid.errors
    json.dumps(invalid.errors, ensure_ascii=False).encode("utf-8")


def check(result: intake.LeadInput | InvalidInput) -> None:
    if isinstance(result, InvalidInput):
        assert_showable(result)
    else:
        assert_storable(result)


@EXAMPLES
@given(json_values)
def test_any_json_value_is_a_storable_lead_or_field_errors(payload: Any) -> None:
    check(outcome(payload))


@EXAMPLES
@given(lead_shaped())
def test_any_lead_shaped_object_is_a_storable_lead_or_field_errors(payload: Any) -> None:
    check(outcome(payload))


@EXAMPLES
@given(st.binary(max_size=200) | lead_shaped().map(lambda p: json.dumps(p).encode()))
def test_any_bytes_are_broken_json_field_errors_or_a_storable_lead(body: bytes) -> None:
    try:
        payload = json_input.parse(body)
    except json_input.BrokenJson as broken:
        assert str(broken)
        return
    except InvalidInput as invalid:
        assert_showable(invalid)
        return
    check(outcome(payload))
