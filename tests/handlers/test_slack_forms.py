"""A signed form body from Slack (a slash command, an interaction's payload field) is read exactly
as urllib's strict `parse_qsl` reads it, whichever way Baton decodes it, and refused alike."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import assume, example, given
from hypothesis import strategies as st

from handlers.slack_request import FORM, Refusal, parse_body

# What can trip a form decoder: escapes good and broken, either case of hex, separators, line
# breaks, spaces and pluses, non-ASCII text and what quoted-printable reads differently.
TRICKY = st.text(alphabet="%+=&;\r\n \t_aAfFgG0129.\u00e9\u20ac\U0001f600")
FIELDS = st.lists(st.tuples(st.text(), st.text()), max_size=6)


def urllib_reads(body: bytes) -> dict[str, str] | str:
    try:
        fields = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        return "malformed form"
    form = dict(fields)
    return form if len(form) == len(fields) else "repeated form field"


def baton_reads(body: bytes) -> dict[str, Any] | str:
    try:
        return parse_body(body, FORM).value
    except Refusal as refusal:
        return refusal.reason


def assert_read_alike(body: bytes) -> None:
    expected = urllib_reads(body)
    assume(not isinstance(expected, dict) or "payload" not in expected)  # a payload is JSON
    assert baton_reads(body) == expected


@given(TRICKY)
@example("text==41&a=%41")  # a value's own = is no escape
@example("text=%3d41")  # nor is an escaped one
@example("text=\u00e9%C3%A9%e2%82%ac")  # non-ASCII as it is and escaped, side by side
@example("text=%C3\u00e9")  # an escaped lead byte before a character as it is
@example("text=%41%\r\nb&c=%")  # broken escapes; quoted-printable's soft line breaks
def test_any_form_text_is_read_as_urllib_reads_it(text: str) -> None:
    assert_read_alike(text.encode("utf-8"))


@given(FIELDS)
def test_any_encoded_form_is_read_as_urllib_reads_it(fields: list[tuple[str, str]]) -> None:
    assert_read_alike(urlencode(fields).encode("ascii"))


@given(st.dictionaries(st.text(), st.text()), st.sampled_from(["%7e", "%7E", "%25", "+", "%"]))
def test_an_interaction_payload_is_the_json_it_encodes(payload: dict[str, str], extra: str) -> None:
    body = urlencode({"payload": json.dumps(payload)}).encode("ascii") + extra.encode("ascii")
    expected = urllib_reads(body)
    if isinstance(expected, str):
        assert baton_reads(body) == expected
        return
    try:
        decoded = json.loads(expected["payload"])
    except ValueError:
        assert baton_reads(body) == "malformed JSON"
        return
    assert baton_reads(body) == decoded
