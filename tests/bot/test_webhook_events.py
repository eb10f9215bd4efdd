"""Which events the lifecycle announces, and which types an endpoint's patterns name."""

from __future__ import annotations

import pytest

from bot.lifecycle import Action
from bot.webhooks import ACTION_TYPES, EVENT_TYPES, matching


def test_every_lifecycle_move_is_announced() -> None:
    """A new move fails here until it is given an event type (one line in ACTION_TYPES)."""
    assert {action.value for action in Action} - set(ACTION_TYPES) == set()
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES)


@pytest.mark.parametrize(
    ("pattern", "types"),
    [
        ("lead.rejected", ["lead.rejected"]),
        ("sla.*", ["sla.reminded", "sla.breached"]),
        ("lead.re*", ["lead.recycled", "lead.rejected", "lead.released", "lead.reopened"]),
        ("*", list(EVENT_TYPES)),
        ("lead.rejected.*", []),
        ("Lead.*", []),
    ],
)
def test_a_pattern_names_the_types_it_matches(pattern: str, types: list[str]) -> None:
    assert matching(pattern) == types
