"""What a repeat changes about a stored lead (bot.lead_updates), and how the card and the thread
tell it: applying a change and comparing again finds nothing; a repeat never erases; the words
stay escaped and within Slack's limits."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot import intake, lead_updates
from bot.cards import lead_card
from bot.rules import DEFAULT_REASONS
from bot.slack_text import SECTION_LIMIT
from tests.bot.test_cards import HOSTILE, make_lead
from tests.conftest import NOW
from tests.factories import lead_payload

text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
activities = st.lists(
    st.fixed_dictionaries({"type": text.filter(str.strip), "detail": st.none() | text}),
    max_size=5,
)
repeats = st.fixed_dictionaries(
    {},
    optional={
        "name": text.filter(str.strip),
        "email": st.sampled_from(["dana@northwind.example", "d@other.example", None, ""]),
        "score": st.none() | st.integers(0, 100),
        "title": st.none() | text,
        "activities": activities,
        "hs_lead_status": st.none() | text | st.booleans() | st.integers(),
    },
)


def sent(**overrides: Any) -> dict[str, Any]:
    """The fields of a repeat of the stored lead, as intake hands them over."""
    return intake.validate_lead(lead_payload(**overrides), keep_unknown=True).to_fields()


@given(repeat=repeats)
def test_a_change_applied_leaves_nothing_to_change_and_erases_nothing(
    repeat: dict[str, Any],
) -> None:
    lead = make_lead(extra={"hs_lead_status": 1})
    fields = sent(**repeat)

    change = lead_updates.compare(lead, fields)
    if change is None:
        return
    for name, value in change.values.items():
        setattr(lead, name, value)

    assert lead_updates.compare(lead, fields) is None
    assert all(value is not None for value in change.values.values())
    assert len(lead.activities) >= 1  # the stored activity stays


def test_an_identical_repeat_or_one_leaving_fields_out_changes_nothing() -> None:
    lead = make_lead()

    assert lead_updates.compare(lead, sent()) is None
    assert lead_updates.compare(lead, sent(email=None, phone="", activities=[])) is None


def test_a_new_activity_is_appended_once_and_the_oldest_drop_off_past_the_limit() -> None:
    stored = [{"type": f"visit-{n}", "detail": None, "at": None} for n in range(50)]
    lead = make_lead(activities=stored)
    new = {"type": "pricing_page", "detail": None, "at": None}

    change = lead_updates.compare(lead, sent(activities=[new, new, stored[3]]))

    assert change is not None
    assert change.changes == {"activities": {"added": [new]}}
    assert change.values["activities"] == [*stored[1:], new]


def test_one_and_true_are_different_values_of_a_senders_field() -> None:
    lead = make_lead(extra={"active": 1})

    change = lead_updates.compare(lead, sent(active=True))

    assert change is not None and change.changes == {"extra": {"active": {"from": 1, "to": True}}}


def test_the_words_name_the_change_escaped() -> None:
    changes = {
        "score": {"from": 72, "to": 88},
        "email": {"from": "a@old.example", "to": "a@new.example"},
        "phone": {"from": None, "to": "+1 555"},
        "activities": {"added": [{"type": HOSTILE}]},
        "extra": {HOSTILE: {"from": None, "to": 1}},
    }

    words = lead_updates.summary(changes, 1000)

    assert words.startswith("score 72 → 88 · new signal: &lt;!channel&gt;")
    assert "email corrected · phone added" in words and "<" not in words
    assert lead_updates.summary({"score": "not a change"}, 100) == "details updated"


def test_the_card_says_what_changed_within_slacks_limits() -> None:
    huge = {f"field_{n}_{'x' * 90}": {"from": None, "to": n} for n in range(200)}
    lead = make_lead(
        data_changed_at=NOW, data_changes={"score": {"from": 72, "to": 88}, "extra": huge}
    )

    blocks = lead_card(lead, reasons=DEFAULT_REASONS).blocks

    (changed,) = [block for block in blocks if block.get("block_id") == "changed"]
    line = changed["elements"][0]["text"]
    assert line.startswith("ℹ️ Updated <!date^") and ": score 72 → 88 · field 0" not in line
    assert ": score 72 → 88 · field_0_" in line and len(line) <= SECTION_LIMIT
    assert [block.get("block_id") for block in blocks][-2:] == ["changed", "buttons"]
