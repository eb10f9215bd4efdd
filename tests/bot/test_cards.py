"""The lead card and the owner's DM: what a rep sees in each state, escaped and within limits."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import intake
from bot.cards import CARD_NOTE_LIMIT, Message, detail_blocks, lead_card, lead_dm
from bot.lead_details import details_modal
from bot.lead_history import HISTORY_SHOWN
from bot.outbox import DmKind
from bot.rules import DEFAULT_REASONS
from bot.slack_ids import ActionId
from bot.slack_text import (
    MESSAGE_BLOCKS_LIMIT,
    VIEW_BLOCKS_LIMIT,
    clip,
    escape_mrkdwn,
    safe_text,
)
from storage.models import Lead, LeadEvent, LeadStatus
from tests.conftest import NOW
from tests.factories import lead_payload

LEAD_ID = 4242
REP = "U0REP000001"
CLAIM_DUE = NOW + timedelta(minutes=15)  # 2026-11-24 15:15 UTC
CLAIM_DUE_UNIX = 1795533300
HOSTILE = "<!channel>&<@U123>&<https://evil|click>🙂"
CRM_BASE = "https://crm.example/record?"

# Slack markup the card itself may emit; after removing it, no `<` or `>` may remain.
_OWN_MARKUP = re.compile(
    r"<@[UW][A-Z0-9]+>|<!date\^\d+\^[^|<>]*\|[^<>]*>|<https?://[^|<>\s]+\|Open in CRM \([^|<>]+\)>"
)
_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def make_lead(**overrides: Any) -> Lead:
    """An open lead as intake stores it (not in a database), with fixed values."""
    fields = intake.validate_lead(lead_payload()).to_fields()
    fields.update(
        id=LEAD_ID,
        status=LeadStatus.OPEN.value,
        sla_policy="hot",
        created_at=NOW,
        updated_at=NOW,
        posted_at=NOW,
        claim_due_at=CLAIM_DUE,
    )
    fields.update(overrides)
    return Lead(**fields)


def card(lead: Lead, **kwargs: Any) -> Message:
    return lead_card(lead, reasons=DEFAULT_REASONS, **kwargs)


def details(
    lead: Lead, events: list[LeadEvent] | None = None, reasons: dict[str, str] = DEFAULT_REASONS
) -> dict[str, Any]:
    """The Details modal of `lead`, with `events` as its history."""
    return details_modal(
        lead,
        events or [],
        reasons=reasons,
        emojis={"hot": "🔥"},
        timezone=ZoneInfo("America/New_York"),
        now=NOW,
    )


def buttons(message: Message) -> dict[str, dict[str, Any]]:
    """The message's buttons by action id."""
    return {
        element["action_id"]: element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }


def rendered(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def texts(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every text object in the blocks, wherever it sits."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn"):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return found


def assert_within_slack_limits(message: Message) -> None:
    """Slack's Block Kit limits, and that lead text can neither ping nor carry a cut entity."""
    assert_blocks_within_limits(message.blocks, MESSAGE_BLOCKS_LIMIT)
    assert_plain_fallback(message)


def assert_view_within_limits(view: dict[str, Any]) -> None:
    """A modal's limits: its title, and its blocks as in a message but up to 100 of them."""
    assert 0 < len(view["title"]["text"]) <= 24 and 0 < len(view["close"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    assert_blocks_within_limits(view["blocks"], VIEW_BLOCKS_LIMIT)


def assert_blocks_within_limits(blocks: list[dict[str, Any]], most: int) -> None:
    assert 0 < len(blocks) <= most
    for block in blocks:
        assert len(block.get("block_id", "")) <= 255
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(1 <= len(field["text"]) <= 2000 for field in fields)
        elif kind == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(1 <= len(element["text"]) <= 3000 for element in block["elements"])
        elif kind == "actions":
            assert 1 <= len(block["elements"]) <= 25
            for button in block["elements"]:
                assert 1 <= len(button["text"]["text"]) <= 75
                assert len(button["action_id"]) <= 255
                assert len(button.get("value", "")) <= 2000
                assert len(button.get("url", "")) <= 3000
        else:
            assert kind == "divider"
    for text in texts(blocks):
        assert len(text["text"]) <= 3000
        assert _BROKEN_ENTITY.search(text["text"]) is None, text["text"][-40:]
        assert "<" not in _OWN_MARKUP.sub("", text["text"])
        assert ">" not in _OWN_MARKUP.sub("", text["text"])


def assert_plain_fallback(message: Message) -> None:
    assert 0 < len(message.text) <= 3000
    assert "<" not in message.text and ">" not in message.text
    assert "*" not in message.text
    assert _BROKEN_ENTITY.search(message.text) is None


def hostile(length: int) -> str:
    return (HOSTILE * (length // len(HOSTILE) + 1))[:length]


def _max_length(schema: dict[str, Any]) -> int | None:
    options = schema.get("anyOf", [schema])
    return next((option["maxLength"] for option in options if "maxLength" in option), None)


def largest_realistic_fields() -> dict[str, Any]:
    """Every field at the longest length intake accepts, filled with text escaping lengthens."""
    schema = intake.LeadInput.model_json_schema()
    payload: dict[str, Any] = {
        name: hostile(length)
        for name, field in schema["properties"].items()
        if (length := _max_length(field)) is not None
    }
    local_part = 320 - len("@mail.example")
    payload["email"] = payload["owner_email"] = "&" * local_part + "@mail.example"
    payload["crm_url"] = (CRM_BASE + "token=abc|def&" * 200)[:2000]
    payload["score"] = 100
    activity = schema["$defs"]["Activity"]["properties"]
    payload["activities"] = [
        {
            "type": hostile(_max_length(activity["type"]) or 0),
            "detail": hostile(_max_length(activity["detail"]) or 0),
            "at": "2026-11-24T14:00:00Z",
        }
    ] * intake.MAX_ACTIVITIES
    fields = intake.validate_lead(payload).to_fields()
    assert len(fields["name"]) == 200 and len(fields["notes"]) == 5000
    return fields


STATE_OVERRIDES: dict[LeadStatus, dict[str, Any]] = {
    LeadStatus.MQL: {"claim_due_at": None, "posted_at": None},
    LeadStatus.RECYCLED: {"claim_due_at": None, "posted_at": None},
    LeadStatus.NEW: {"claim_due_at": None, "posted_at": None},
    LeadStatus.OPEN: {},
    LeadStatus.ESCALATED: {"escalated_at": CLAIM_DUE},
    LeadStatus.ACCEPTED: {
        "owner_id": REP,
        "accepted_at": NOW,
        "follow_up_due_at": NOW + timedelta(hours=1),
    },
    LeadStatus.REJECTED: {
        "rejected_by": REP,
        "rejected_at": NOW,
        "reject_reason": "other",
        "reject_note": "Student doing research",
    },
    LeadStatus.CONTACTED: {"owner_id": REP, "accepted_at": NOW, "contacted_at": NOW},
    LeadStatus.OPPORTUNITY: {
        "owner_id": REP,
        "opportunity_at": NOW,
        "outcome_amount": Decimal("1234567890123456.78"),
        "outcome_currency": "EUR",
        "outcome_reason": "Budget approved " * 31,  # the 500 characters the API takes
    },
    LeadStatus.WON: {"owner_id": REP, "contacted_at": NOW, "closed_at": NOW},
    LeadStatus.LOST: {"owner_id": REP, "contacted_at": NOW, "closed_at": NOW},
}


def lead_in(status: LeadStatus, **overrides: Any) -> Lead:
    return make_lead(status=status.value, **{**STATE_OVERRIDES[status], **overrides})


# --------------------------------------------------------------------------- states


def block(message: Message, block_id: str) -> str:
    """The text of the card's block `block_id` (who, why, state)."""
    (found,) = [b for b in message.blocks if b.get("block_id") == block_id]
    return str(found["text"]["text"])


def test_the_card_is_a_glance_urgency_who_why_state_then_buttons() -> None:
    message = lead_card(make_lead(), reasons=DEFAULT_REASONS, emojis={"hot": "🔥"})

    assert [b.get("block_id") for b in message.blocks] == ["who", "why", "state", "buttons"]
    assert block(message, "who") == (
        f"🔥 *hot* · *Dana Whitfield* · VP Operations · Northwind Traders · #{LEAD_ID}"
    )
    assert block(message, "why") == "Score *82* · Intent *demo_request* · 📈 Asked for a demo"
    assert block(message, "state") == (  # one line: four cards fit a 1440×900 window
        "Open: waiting for a rep · "
        f"⏰ Claim by <!date^{CLAIM_DUE_UNIX}^{{date_short_pretty}} at {{time}}"
        "|2026-11-24 15:15 UTC>"
    )
    lines = sum(len(block(message, name).splitlines()) for name in ("who", "why", "state"))
    assert lines + 1 <= 4  # and a row of buttons
    for buried in ("dana@northwind.example", "Approved for Q1", "Came from the webinar", "CRM"):
        assert buried not in rendered(message)  # behind Details


def test_a_policy_without_an_emoji_is_named_and_a_lead_without_a_why_has_no_why_line() -> None:
    message = card(make_lead(score=None, intent=None, activities=[], title=None))

    assert block(message, "who") == f"*hot* · *Dana Whitfield* · Northwind Traders · #{LEAD_ID}"
    assert [b.get("block_id") for b in message.blocks] == ["who", "state", "buttons"]


def test_open_card_offers_accept_reject_and_details_carrying_the_lead_id() -> None:
    message = card(make_lead())

    found = buttons(message)
    assert list(found) == [ActionId.ACCEPT, ActionId.REJECT, ActionId.DETAILS]
    assert found[ActionId.ACCEPT]["style"] == "primary"
    assert found[ActionId.REJECT]["style"] == "danger"
    assert {button["value"] for button in found.values()} == {str(LEAD_ID)}


def test_escalated_card_says_the_sla_was_breached_and_can_still_be_claimed() -> None:
    message = card(lead_in(LeadStatus.ESCALATED))

    assert block(message, "state").startswith(f"⚠️ SLA breached at <!date^{CLAIM_DUE_UNIX}^")
    assert list(buttons(message)) == [ActionId.ACCEPT, ActionId.REJECT, ActionId.DETAILS]


def test_an_escalated_lead_still_owned_names_its_owner_and_offers_their_next_step() -> None:
    message = card(lead_in(LeadStatus.ESCALATED, owner_id=REP))

    assert f"escalated, still <@{REP}>'s" in block(message, "state")
    assert list(buttons(message)) == [ActionId.MARK_CONTACTED, ActionId.DETAILS]


def test_accepted_card_shows_the_owner_and_offers_their_next_step_but_no_release() -> None:
    """Release is the owner's alone: it is offered where only the owner sees it (DM, Home)."""
    message = card(lead_in(LeadStatus.ACCEPTED))

    assert block(message, "state").startswith(
        f"✅ Claimed by <@{REP}> <!date^{int(NOW.timestamp())}^"
    )
    assert list(buttons(message)) == [ActionId.MARK_CONTACTED, ActionId.DETAILS]
    assert all(button["value"] == str(LEAD_ID) for button in buttons(message).values())


def test_rejected_card_shows_reason_label_and_note_and_only_details() -> None:
    message = card(lead_in(LeadStatus.REJECTED, reject_reason="no_budget", reject_note="Q3 only"))

    status = block(message, "state")
    assert status.startswith(f"❌ Rejected by <@{REP}> <!date^")
    assert status.endswith(": No budget — Q3 only")
    assert list(buttons(message)) == [ActionId.DETAILS]
    assert "No budget" in message.text


def test_a_long_reject_note_is_cut_on_the_card() -> None:
    message = card(lead_in(LeadStatus.REJECTED, reject_note="word " * 400))

    assert len(block(message, "state").split(" — ")[1]) <= CARD_NOTE_LIMIT
    assert block(message, "state").endswith("…")


def test_rejected_card_falls_back_to_the_code_of_a_reason_no_longer_configured() -> None:
    message = card(lead_in(LeadStatus.REJECTED, reject_reason="retired_code", reject_note=None))

    assert block(message, "state").endswith(": retired_code")


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (LeadStatus.CONTACTED, f"📞 Contacted by <@{REP}> <!date^"),
        (LeadStatus.OPPORTUNITY, f"💼 Opportunity for <@{REP}> <!date^"),
        (LeadStatus.WON, f"🏆 Won by <@{REP}> <!date^"),
        (LeadStatus.LOST, f"🏁 Lost by <@{REP}> <!date^"),
    ],
)
def test_decided_cards_say_what_happened_and_offer_only_details(
    status: LeadStatus, line: str
) -> None:
    message = card(lead_in(status))

    assert block(message, "state").startswith(line)
    assert list(buttons(message)) == [ActionId.DETAILS]


# --------------------------------------------------------------------------- content


def test_details_show_who_why_signals_bant_notes_and_the_crm_link() -> None:
    text = json.dumps(
        [b.to_dict() for b in detail_blocks(make_lead(timeline=None))], ensure_ascii=False
    )

    for expected in (
        "*Title*\\nVP Operations",
        "*Company*\\nNorthwind Traders",
        "*Email*\\ndana@northwind.example",
        "*Phone*\\n+1 555 0100",
        "*Company size*\\n201-500",
        "*Industry*\\nLogistics",
        "*Country*\\nUS",
        "*Source*\\nwebinar",
        "*Campaign*\\nQ4 Ops Webinar",
        "*Score*\\n82",
        "*Intent*\\ndemo_request",
        "• *demo_request*: Asked for a demo (<!date^",
        "*Budget*\\nApproved for Q1",
        "*Need*\\nRoute planning",
        "*Notes*\\nCame from the webinar chat.",
        "<https://crm.example/leads/1001|Open in CRM (crm.example)>",
    ):
        assert expected in text
    assert "Timeline" not in text
    assert "Segment" not in text  # unknown, so not shown as empty


def test_details_show_every_signal() -> None:
    activities = [{"type": f"visit_{n}", "detail": None, "at": None} for n in range(8)]
    (signals,) = [
        b.to_dict()["text"]["text"]
        for b in detail_blocks(make_lead(activities=activities))
        if b.to_dict().get("text", {}).get("text", "").startswith("*Sig")
    ]
    assert signals.splitlines() == ["*Signals*"] + [f"• *visit_{n}*" for n in range(8)]


def test_follow_up_deadline_shows_once_claimed_and_is_marked_when_passed() -> None:
    lead = lead_in(LeadStatus.ACCEPTED)
    due = f"⏰ Follow up by <!date^{CLAIM_DUE_UNIX + 45 * 60}^"

    assert due in rendered(card(lead, now=NOW))
    assert "(passed)" not in rendered(card(lead, now=NOW))
    assert "(passed)" in rendered(card(lead, now=NOW + timedelta(hours=2)))
    assert "Claim by" not in rendered(card(lead))


def test_fallback_text_says_urgency_who_and_state_in_plain_words() -> None:
    assert (
        lead_card(make_lead(), reasons=DEFAULT_REASONS, emojis={"hot": "🔥"}).text
        == "🔥 hot · Dana Whitfield (Northwind Traders): new SQL, waiting for a rep"
    )
    assert (
        card(lead_in(LeadStatus.ACCEPTED)).text
        == "hot · Dana Whitfield (Northwind Traders): claimed"
    )
    assert card(make_lead(sla_policy=None)).text.startswith("Dana Whitfield (Northwind")


# --------------------------------------------------------------------------- hostile input


def test_lead_text_is_escaped_so_it_pings_and_links_nobody() -> None:
    lead = make_lead(
        name=HOSTILE,
        company="Smith & <@U123> Co",
        notes="call me <!channel> <https://evil|click> :tada:",
        activities=[{"type": "<!here>", "detail": HOSTILE, "at": None}],
    )
    view = details(lead)
    for message in (
        card(lead),
        lead_dm(lead, kind=DmKind.OWNER, reasons=DEFAULT_REASONS),
        Message(text="-", blocks=view["blocks"]),
    ):
        text = rendered(message) + message.text
        for raw in ("<!channel>", "<!here>", "<@U123>", "<https://evil"):
            assert raw not in text
        assert "&lt;!channel&gt;" in text
        assert "Smith &amp; &lt;@U123&gt; Co" in text
        assert "🙂" in text
    assert "call me &lt;!channel&gt; &lt;https://evil|click&gt; :tada:" in json.dumps(view)
    assert_view_within_limits(view)


@pytest.mark.parametrize("user_id", ["<!channel>", "U123\n", "u0lower", "C0CHANNEL1", "U" * 40])
def test_only_slack_user_ids_become_mentions(user_id: str) -> None:
    message = card(lead_in(LeadStatus.ACCEPTED, owner_id=user_id))

    assert "<@" not in rendered(message)
    assert "<!channel>" not in rendered(message)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "https://crm.example/a b",
        None,
        CRM_BASE + "&" * 1900,  # valid, but escaped it is longer than a link may be
        "https://crm.example@evil.example/leads/1",  # reads as the CRM, opens evil.example
        "https://[crm.example/leads/1",
    ],
)
def test_crm_link_is_left_out_unless_it_is_a_plain_http_url_that_fits(url: str | None) -> None:
    view = details(make_lead(crm_url=url))

    assert "Open in CRM" not in json.dumps(view)
    assert_view_within_limits(view)


def test_crm_link_cannot_be_broken_out_of() -> None:
    text = json.dumps(details(make_lead(crm_url="https://crm.example/?a=1&b=<x>|y")))

    assert "<https://crm.example/?a=1&amp;b=%3Cx%3E%7Cy|Open in CRM (crm.example)>" in text


def test_ten_thousand_character_fields_are_clipped_within_every_limit() -> None:
    huge = hostile(10_000)
    overrides = {
        name: huge
        for name in (
            "name",
            "title",
            "company",
            "company_size",
            "industry",
            "country",
            "segment",
            "source",
            "campaign",
            "intent",
            "budget",
            "authority",
            "need",
            "timeline",
            "notes",
            "email",
            "phone",
            "sla_policy",
            "promoted_why",
        )
    }
    activities = [{"type": huge, "detail": huge, "at": "not a date"}] * 200
    for status in LeadStatus:
        lead = lead_in(status, **overrides, activities=activities, reject_note=huge)
        for message in (
            card(lead),
            lead_dm(lead, kind=DmKind.OWNER, reasons=DEFAULT_REASONS),
        ):
            assert_within_slack_limits(message)
            assert "<!channel>" not in rendered(message)
        assert "<!channel>" not in json.dumps(details(lead))
        assert_view_within_limits(details(lead))
        assert block(card(lead), "who").endswith(f"… · #{LEAD_ID}")


@pytest.mark.parametrize("status", list(LeadStatus))
def test_the_largest_realistic_lead_fits_every_limit(status: LeadStatus) -> None:
    reasons = {**DEFAULT_REASONS, "other": hostile(75)}
    lead = lead_in(status, **largest_realistic_fields(), reject_note=hostile(2000))

    for message in (
        lead_card(lead, reasons=reasons, now=NOW, emojis={"hot": hostile(32)}),
        lead_dm(lead, kind=DmKind.OWNER, reasons=reasons),
    ):
        assert_within_slack_limits(message)
    events = [history_event(n) for n in range(HISTORY_SHOWN + 5)]
    view = details(lead, events, reasons)
    assert_view_within_limits(view)
    shown = json.dumps(view, ensure_ascii=False)
    assert "Open in CRM" in shown
    assert shown.count("• *") == intake.MAX_ACTIVITIES  # every signal
    assert shown.count("rejected by") == HISTORY_SHOWN and "5 earlier moves not shown" in shown


def history_event(n: int) -> LeadEvent:
    """A long line of history: a rejection with the longest note it shows."""
    return LeadEvent(
        lead_id=LEAD_ID,
        action="reject",
        to_status=LeadStatus.REJECTED,
        actor=REP,
        at=NOW + timedelta(minutes=n),
        details={"reason": "other", "note": hostile(2000)},
    )


# --------------------------------------------------------------------------- owner DM


def test_owner_dm_names_the_lead_and_offers_the_owners_moves_release_included() -> None:
    message = lead_dm(lead_in(LeadStatus.ACCEPTED), kind=DmKind.OWNER, reasons=DEFAULT_REASONS)

    assert message.text == "You claimed Dana Whitfield (Northwind Traders)."
    assert message.blocks[0]["text"]["text"] == "You claimed *Dana Whitfield (Northwind Traders)*."
    assert list(buttons(message)) == [ActionId.MARK_CONTACTED, ActionId.RELEASE, ActionId.DETAILS]
    assert {b["value"] for b in buttons(message).values()} == {str(LEAD_ID)}
    assert block(message, "who").endswith(
        f"*Dana Whitfield* · VP Operations · Northwind Traders · #{LEAD_ID}"
    )


def test_owner_dm_of_an_escalated_lead_offers_no_release_it_would_refuse() -> None:
    lead = lead_in(LeadStatus.ESCALATED, owner_id=REP)
    message = lead_dm(lead, kind=DmKind.FOLLOW_UP_REMINDER, reasons=DEFAULT_REASONS)

    assert list(buttons(message)) == [ActionId.MARK_CONTACTED, ActionId.DETAILS]


def test_owner_dm_keeps_only_details_once_the_lead_is_contacted() -> None:
    message = lead_dm(lead_in(LeadStatus.CONTACTED), kind=DmKind.OWNER, reasons=DEFAULT_REASONS)

    assert list(buttons(message)) == [ActionId.DETAILS]
    assert "📞 Contacted by" in rendered(message)


# --------------------------------------------------------------------------- text helpers


def test_escape_replaces_only_the_three_control_characters() -> None:
    assert escape_mrkdwn("""<@U1> & "O'Brien" > *bold*""") == (
        """&lt;@U1&gt; &amp; "O'Brien" &gt; *bold*"""
    )


def test_clip_cuts_to_the_limit_with_an_ellipsis() -> None:
    assert clip("short", 10) == "short"
    assert clip("abcdefghijkl", 10) == "abcdefghi…"
    assert len(clip("x" * 10_000, 150)) == 150


def test_safe_text_never_cuts_inside_an_entity() -> None:
    for limit in range(2, 30):
        clipped = safe_text("a&<>" * 20, limit)
        assert len(clipped) <= limit
        assert _BROKEN_ENTITY.search(clipped) is None
        assert clipped.endswith("…")
    assert safe_text("AT&T", 10) == "AT&amp;T"


def test_follow_up_reminder_dm_names_the_deadline_and_offers_mark_contacted() -> None:
    lead = lead_in(LeadStatus.ACCEPTED, follow_up_due_at=NOW)
    message = lead_dm(lead, kind=DmKind.FOLLOW_UP_REMINDER, reasons=DEFAULT_REASONS)
    assert "Reminder" in message.text and f"<!date^{int(NOW.timestamp())}^" in message.text
    assert list(buttons(message)) == ["lead.contacted", "lead.release", "lead.details"]


def test_details_show_the_fields_only_the_sender_knows() -> None:
    shown = json.dumps(details(make_lead(extra={"region": "<!channel> EMEA"})))

    assert "From the sender: " in shown and "EMEA" in shown and "<!channel>" not in shown
    assert "From the sender" not in json.dumps(details(make_lead(extra=None)))
