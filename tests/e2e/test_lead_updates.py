"""A lead sent again with changed data, through the real server: what is known about the person
is updated and audited, the card redrawn in place with what changed, a line in its thread, and the
handoff state untouched; an identical repeat changes nothing at all."""

from __future__ import annotations

from typing import Any

import httpx

from handlers.serve import BatonServer
from slack_emulator import REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import INTAKE_AUTH, card_text, send_lead, settled, wait_for_card
from tests.e2e.test_card_details_and_thread import thread_lines
from tests.e2e.test_leads_command import As
from tests.factories import lead_payload


def post_lead(bot: BatonServer, **overrides: Any) -> httpx.Response:
    return httpx.post(
        f"{bot.url}/api/leads", json=lead_payload(**overrides), headers=INTAKE_AUTH, timeout=10
    )


def stored(bot: BatonServer, lead_id: int) -> tuple[dict[str, Any], list[str]]:
    """The lead as the API reads it back, and the actions of its events."""
    lead = httpx.get(f"{bot.url}/api/leads/{lead_id}", headers=INTAKE_AUTH, timeout=10).json()
    with bot.services.db.read() as session:
        return lead, [event.action for event in lead_store.list_events(session, lead_id)]


def claimed_card(bot: BatonServer, slack: SlackEmulator, user: As) -> tuple[int, dict[str, Any]]:
    """A lead claimed by REP_1, every side effect of it delivered."""
    lead_id = send_lead(bot)["id"]
    card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
    user(REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
    wait_for_card(slack, lead_id, lambda c: "Claimed by" in card_text(c))
    settled(bot)
    return lead_id, card


def test_a_changed_repeat_updates_the_person_and_redraws_the_card_posting_nothing_new(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id, card = claimed_card(bot, slack, user)
    before, _ = stored(bot, lead_id)
    posts = len(slack.calls("chat.postMessage"))
    top_level = len(slack.messages(SALES_CHANNEL))
    new_signal = {"type": "pricing_page", "detail": "Read pricing", "at": "2026-11-25T10:00:00Z"}

    response = post_lead(
        bot,
        score=88,
        email="dana.whitfield@northwind.example",
        activities=[*lead_payload()["activities"], new_signal],
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["updated"] is True and answer["id"] == lead_id
    assert answer["changes"] == {
        "email": {"from": "dana@northwind.example", "to": "dana.whitfield@northwind.example"},
        "score": {"from": 82, "to": 88},
        "activities": {"added": [{**new_signal, "at": "2026-11-25T10:00:00+00:00"}]},
    }
    redrawn = wait_for_card(slack, lead_id, lambda c: "Updated" in card_text(c))
    assert redrawn["ts"] == card["ts"]
    assert "score 82 → 88 · new signal: pricing_page · email corrected" in card_text(redrawn)
    assert f"Claimed by <@{REP_1}>" in card_text(redrawn)
    assert "Score *88*" in card_text(redrawn)
    settled(bot)
    # One line in the card's thread; nothing new in the channel.
    assert thread_lines(slack, card)[-1].endswith(
        "updated by the API: score 82 → 88 · new signal: pricing_page · email corrected"
    )
    assert len(slack.messages(SALES_CHANNEL)) == top_level
    assert len(slack.calls("chat.postMessage")) == posts + 1  # the thread line alone
    # The handoff is untouched: still REP_1's, same deadline; the change audited.
    after, actions = stored(bot, lead_id)
    handoff = ("status", "owner_id", "accepted_at", "follow_up_due_at", "sla_policy")
    assert [after[name] for name in handoff] == [before[name] for name in handoff]
    assert after["status"] == "accepted" and after["owner_id"] == REP_1
    assert (after["email"], after["score"], len(after["activities"])) == (
        "dana.whitfield@northwind.example",
        88,
        2,
    )
    assert actions[-1] == "update"
    assert after["data_changes"] == answer["changes"] and after["data_changed_at"]


def test_an_identical_repeat_changes_nothing(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id, _ = claimed_card(bot, slack, user)
    before, events = stored(bot, lead_id)
    calls = len(slack.calls())

    # The same lead, and the same lead with fields left out: a repeat never erases.
    again = post_lead(bot)
    partial = post_lead(bot, email=None, phone="", activities=[])
    settled(bot)

    assert (again.status_code, partial.status_code) == (200, 200)
    assert again.json() == before and partial.json() == before
    assert stored(bot, lead_id) == (before, events)
    assert len(slack.calls()) == calls


def test_an_invalid_changed_field_is_refused_and_changes_nothing(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id, _ = claimed_card(bot, slack, user)
    before = stored(bot, lead_id)

    response = post_lead(bot, score=88, email="not-an-address")
    settled(bot)

    assert response.status_code == 422
    assert response.json()["fields"] == {"email": "not a valid email address"}
    assert stored(bot, lead_id) == before


def test_a_batch_updates_its_changed_repeats_once_each(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    first = send_lead(bot)
    leads = [
        lead_payload(),  # identical
        lead_payload(score=90),  # a new score
        lead_payload(score=90),  # the same again within the batch
        lead_payload(external_id="hs-2002", name="Lee Park"),
    ]

    response = httpx.post(
        f"{bot.url}/api/leads/batch", json={"leads": leads}, headers=INTAKE_AUTH, timeout=10
    )

    answer = response.json()
    assert (answer["created"], answer["existing"], answer["updated"]) == (1, 3, 1)
    assert [result.get("body", {}).get("updated") for result in answer["results"]] == [
        None,
        True,
        None,
        None,
    ]
    _, actions = stored(bot, first["id"])
    assert actions.count("update") == 1
    wait_for_card(slack, first["id"], lambda c: "score 82 → 90" in card_text(c))


def test_a_rejected_lead_keeps_its_rejection_and_shows_the_news(
    bot: BatonServer, slack: SlackEmulator, user: As
) -> None:
    lead_id = send_lead(bot)["id"]
    card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.wait_for(lambda: slack.open_views(REP_2), timeout=10)
    user(REP_2).submit_view(
        modal["id"], {"reason": {"reason_select": "bad_timing"}, "note": {"note_input": "Q3"}}
    )
    wait_for_card(slack, lead_id, lambda c: "Rejected by" in card_text(c))
    before, _ = stored(bot, lead_id)

    response = post_lead(bot, score=97)

    assert response.json()["changes"] == {"score": {"from": 82, "to": 97}}
    redrawn = wait_for_card(slack, lead_id, lambda c: "score 82 → 97" in card_text(c))
    assert f"Rejected by <@{REP_2}>" in card_text(redrawn)
    after, _ = stored(bot, lead_id)
    rejection = ("status", "rejected_by", "reject_reason", "reject_note", "rejected_at")
    assert [after[name] for name in rejection] == [before[name] for name in rejection]
