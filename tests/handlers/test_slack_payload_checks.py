"""A verified body Baton hands to Bolt is refused, whatever its shape, exactly when it nests past
MAX_DEPTH or holds a lone surrogate (in a key or a value): judged as a walk over every parsed
value would judge it, though Baton looks at the JSON text and the containers only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handlers.slack_request import FORM, JSON, MAX_DEPTH, Refusal, parse_body

# Lone halves, a whole pair, backslashes and the letters of an escape, side by side.
TRICKY = st.text(alphabet=["\ud83d", "\udcc8", "\U0001f4c8", "\\", "u", "d", "8", "c", "a", "é"])
SCALARS = st.none() | st.booleans() | st.integers() | TRICKY
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=12,
)


def expected_refusal(payload: dict[str, Any]) -> str | None:
    """The rule, walked value by value (depth first, as Baton checks it)."""
    if deepest(payload) > MAX_DEPTH:
        return "payload nested too deeply"
    if any(re.search("[\ud800-\udfff]", text) for text in strings(payload)):
        return "payload holds a lone surrogate"
    return None


def deepest(value: Any, depth: int = 1) -> int:
    """The depth of the deepest value: the payload lies at 1, what a container holds one deeper."""
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    return max((deepest(child, depth + 1) for child in children), default=depth)


def strings(value: Any) -> Iterator[str]:
    """Every key and every string value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from strings(child)


def refusal(body: bytes, content_type: str) -> str | None:
    try:
        payload = parse_body(body, content_type)
    except Refusal as refused:
        assert refused.status == 400
        return refused.reason
    assert json.loads(payload.json_text) == payload.value  # what Bolt reads is what passed
    return None


def upper_escapes(text: str) -> str:
    """The same JSON with its \\u escapes in capitals, as other encoders write them."""
    return re.sub(
        r"(?<!\\)((?:\\\\)*)\\u([0-9a-f]{4})", lambda m: m[1] + "\\u" + m[2].upper(), text
    )


@given(st.dictionaries(TRICKY, VALUES, max_size=4))
@example({"note": "\ud800"})
@example({"\udc00": 1})
@example({"\ud83d\udcc8": None})  # two halves side by side: one emoji, once parsed
@example({"text": "\ud83d\\\udcc8"})  # an escaped backslash between two halves keeps them apart
@example({"text": "\\ud800"})  # a backslash, then the letters of an escape: no surrogate at all
def test_a_payload_is_refused_exactly_when_a_value_breaks_the_rule(payload: dict[str, Any]) -> None:
    text = json.dumps(payload)  # ASCII: every surrogate as an escape, pairs as two
    # Judged as received: a high half escaped right before a low half is how JSON writes one
    # character beyond the BMP (an emoji), whichever string the halves came from here.
    expected = expected_refusal(json.loads(text))
    for variant in (text, upper_escapes(text)):
        assert refusal(variant.encode(), JSON) == expected
    form = urlencode({"payload": text}).encode("ascii")
    assert refusal(form, FORM) == expected


def nested(containers: int, items: list[Any]) -> dict[str, Any]:
    """A payload of `containers` containers, one inside the other, the innermost (a list at
    depth `containers`) holding `items`."""
    value: Any = items
    for _ in range(containers - 2):
        value = [value]
    return {"a": value}


@pytest.mark.parametrize(
    ("containers", "items", "refused"),
    [
        (MAX_DEPTH - 1, [1], False),  # the 1 lies at MAX_DEPTH
        (MAX_DEPTH - 1, [{}], False),  # so does the empty object
        (MAX_DEPTH - 1, [{"a": 1}], True),  # its 1 would lie at MAX_DEPTH + 1
        (MAX_DEPTH, [], False),  # an empty list at MAX_DEPTH holds nothing deeper
        (MAX_DEPTH, [1], True),
        (MAX_DEPTH + 5, [], True),
    ],
)
def test_nesting_is_counted_to_the_deepest_value(
    containers: int, items: list[Any], refused: bool
) -> None:
    payload = nested(containers, items)
    expected = "payload nested too deeply" if refused else None
    assert expected_refusal(payload) == expected
    assert refusal(json.dumps(payload).encode(), JSON) == expected
