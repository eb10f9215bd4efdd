"""`POST /api/leads/batch` over real HTTP: a result per lead as the single endpoint gives it,
each external_id stored and posted once, and the single endpoint's refusals for the whole batch."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bot.intake import MAX_BATCH
from handlers.intake_api import MAX_BATCH_BODY_BYTES
from handlers.serve import BatonServer
from slack_emulator import SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from storage.bulk import SQLITE_ROWS_PER_INSERT
from tests.e2e.conftest import send_lead, wait_for_card
from tests.factories import lead_payload
from tests.handlers.test_hostile_intake import NOTHING, stored, write_lock_held

AUTH = {"Authorization": "Bearer test-intake-token"}


@pytest.fixture
def client(bot: BatonServer) -> httpx.Client:
    with httpx.Client(base_url=bot.url, timeout=30) as http:
        yield http


def external_ids(bot: BatonServer) -> list[str]:
    with bot.services.db.read() as session:
        return [lead.external_id for lead in lead_store.list_leads(session)]


def cards_per_lead(bot: BatonServer, slack: SlackEmulator) -> Counter[int]:
    """Lead id -> how many cards Slack shows for it, once a lead sent last has its card: the
    outbox posts a channel's cards in order, so anything queued before is there by then."""
    canary = send_lead(bot, external_id="canary", name="Canary Lead")
    wait_for_card(slack, canary["id"])
    shown = Counter(
        message["metadata"]["event_payload"]["lead_id"]
        for message in slack.messages(SALES_CHANNEL)
        if "lead_id" in ((message.get("metadata") or {}).get("event_payload") or {})
    )
    assert shown.pop(canary["id"]) == 1
    return shown


def test_mixed_batch_gets_a_result_per_lead_and_posts_each_new_lead_once(
    client: httpx.Client, bot: BatonServer, slack: SlackEmulator
) -> None:
    earlier = send_lead(bot, external_id="hs-earlier", name="Stored Before")
    bad = lead_payload(external_id="hs-bad", email="not-an-address", score=101)
    batch = [
        lead_payload(external_id="hs-a", name="Ann First"),
        bad,
        lead_payload(external_id="hs-b", name="Ben Second"),
        lead_payload(external_id="hs-a", name="Ann Again, Changed"),
        lead_payload(external_id="hs-earlier", name="Changed Too"),
        42,
    ]

    response = client.post("/api/leads/batch", json={"leads": batch}, headers=AUTH)

    assert response.status_code == 200, response.text
    answer = response.json()
    results = answer["results"]
    assert [result["status"] for result in results] == [201, 422, 201, 200, 200, 422]
    assert (answer["created"], answer["existing"], answer["invalid"]) == (2, 2, 2)
    assert answer["updated"] == 2  # the two repeats with a new name
    first, second = results[0]["body"], results[2]["body"]
    assert (first["external_id"], first["name"], first["status"]) == ("hs-a", "Ann First", "new")
    assert second["name"] == "Ben Second"
    # A repeat updates the lead as if sent after the lead before it; each answer tells its own.
    assert (results[3]["body"]["id"], results[3]["body"]["name"]) == (
        first["id"],
        "Ann Again, Changed",
    )
    assert results[3]["body"]["changes"] == {
        "name": {"from": "Ann First", "to": "Ann Again, Changed"}
    }
    assert (results[4]["body"]["id"], results[4]["body"]["name"]) == (earlier["id"], "Changed Too")
    single = client.post("/api/leads", json=bad, headers=AUTH)
    assert results[1]["body"] == single.json()  # the single endpoint's 422, word for word
    assert results[5]["body"] == {
        "error": "invalid lead",
        "fields": {"body": "must be a JSON object"},
    }

    assert sorted(external_ids(bot)) == ["hs-a", "hs-b", "hs-earlier"]
    assert cards_per_lead(bot, slack) == {earlier["id"]: 1, first["id"]: 1, second["id"]: 1}


def test_a_batch_sent_again_stores_and_posts_nothing_more(
    client: httpx.Client, bot: BatonServer, slack: SlackEmulator
) -> None:
    batch = {"leads": [lead_payload(external_id=f"hs-{n}", name=f"Lead {n}") for n in range(5)]}
    first = client.post("/api/leads/batch", json=batch, headers=AUTH).json()
    again = client.post("/api/leads/batch", json=batch, headers=AUTH).json()

    assert [result["status"] for result in first["results"]] == [201] * 5
    assert [result["status"] for result in again["results"]] == [200] * 5
    ids = [result["body"]["id"] for result in first["results"]]
    assert [result["body"]["id"] for result in again["results"]] == ids
    # Delivery may post a card between the two requests, so compare what the sender sent.
    sent = [*batch["leads"][0], "created_at"]
    assert [{key: r["body"][key] for key in sent} for r in again["results"]] == [
        {key: r["body"][key] for key in sent} for r in first["results"]
    ]
    assert cards_per_lead(bot, slack) == dict.fromkeys(ids, 1)
    cards_in_order = [
        message["metadata"]["event_payload"]["lead_id"] for message in slack.messages(SALES_CHANNEL)
    ]
    assert cards_in_order[: len(ids)] == ids  # posted in the order the batch listed them


def test_concurrent_batches_sharing_external_ids_create_each_lead_once(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    # Four batches at once, each sharing half its leads with the next.
    batches = [
        {"leads": [lead_payload(external_id=f"hs-{n}") for n in range(start, start + 40)]}
        for start in range(0, 80, 20)
    ]

    def send(batch: dict[str, Any]) -> list[dict[str, Any]]:
        response = httpx.post(f"{bot.url}/api/leads/batch", json=batch, headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        return list(response.json()["results"])

    with ThreadPoolExecutor(max_workers=len(batches)) as senders:
        answers = [result for results in senders.map(send, batches) for result in results]

    ids: dict[str, set[int]] = {}
    created = Counter()
    for result in answers:
        external_id = result["body"]["external_id"]
        ids.setdefault(external_id, set()).add(result["body"]["id"])
        created[external_id] += result["status"] == 201
    assert sorted(ids) == sorted(f"hs-{n}" for n in range(100))
    assert all(len(lead_ids) == 1 for lead_ids in ids.values())  # one lead per external_id
    assert set(created.values()) == {1}  # created by exactly one of the batches
    assert sorted(external_ids(bot)) == sorted(ids)
    assert cards_per_lead(bot, slack) == {lead_id: 1 for (lead_id,) in ids.values()}


def test_a_batch_longer_than_one_insert_answers_each_lead_with_its_own_stored_lead(
    client: httpx.Client, bot: BatonServer
) -> None:
    """On SQLite a batch's new leads go in by statements of SQLITE_ROWS_PER_INSERT rows: leads
    stored before, at and around each statement's edge come back as themselves, each new one as
    the lead it named."""
    per = SQLITE_ROWS_PER_INSERT
    count = 2 * per + 50
    edges = (0, per - 1, per, 2 * per, count - 1)
    before = {n: send_lead(bot, external_id=f"hs-{n}", name=f"Stored {n}")["id"] for n in edges}
    leads = [lead_payload(external_id=f"hs-{n}", name=f"Lead {n}") for n in range(count)]

    response = client.post("/api/leads/batch", json={"leads": leads}, headers=AUTH)

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [result["status"] for result in results] == [
        200 if n in before else 201 for n in range(count)
    ]
    assert [result["body"]["external_id"] for result in results] == [
        f"hs-{n}" for n in range(count)
    ]
    ids = [result["body"]["id"] for result in results]
    assert len(set(ids)) == count
    assert {n: ids[n] for n in before} == before
    for n in (per - 2, per + 1, 2 * per + 1, count - 2):  # new leads beside the edges
        read = client.get(f"/api/leads/{ids[n]}", headers=AUTH)
        assert (read.json()["external_id"], read.json()["name"]) == (f"hs-{n}", f"Lead {n}")


def test_empty_batch_is_answered_with_no_results(client: httpx.Client, bot: BatonServer) -> None:
    response = client.post("/api/leads/batch", json={"leads": []}, headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "results": [],
        "created": 0,
        "existing": 0,
        "updated": 0,
        "invalid": 0,
    }
    assert stored(bot) == NOTHING


def test_the_largest_batch_is_taken_and_one_more_lead_is_refused_whole(
    client: httpx.Client, bot: BatonServer
) -> None:
    leads = [{"external_id": f"hs-{n}", "name": f"Lead {n}"} for n in range(MAX_BATCH + 1)]

    refused = client.post("/api/leads/batch", json={"leads": leads}, headers=AUTH)
    assert refused.status_code == 422
    assert refused.json() == {
        "error": "invalid batch",
        "fields": {"leads": f"holds {MAX_BATCH + 1} leads; at most {MAX_BATCH} are taken at once"},
    }
    assert stored(bot) == NOTHING

    taken = client.post("/api/leads/batch", json={"leads": leads[:MAX_BATCH]}, headers=AUTH)
    assert taken.status_code == 200
    assert taken.json()["created"] == MAX_BATCH
    assert len(external_ids(bot)) == MAX_BATCH


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ([lead_payload()], {"body": "must be a JSON object"}),
        ({}, {"leads": "Field required"}),
        ({"leads": lead_payload()}, {"leads": "must be a list of leads"}),
        ({"leads": [], "dry_run": True}, {"dry_run": "unknown field"}),
    ],
    ids=["bare-list", "no-leads", "leads-not-a-list", "unknown-field"],
)
def test_a_batch_of_the_wrong_shape_is_refused_whole(
    client: httpx.Client, bot: BatonServer, body: Any, fields: dict[str, str]
) -> None:
    response = client.post("/api/leads/batch", json=body, headers=AUTH)

    assert response.status_code == 422
    assert response.json() == {"error": "invalid batch", "fields": fields}
    assert stored(bot) == NOTHING


@pytest.mark.parametrize(
    ("headers", "content", "status"),
    [
        ({}, json.dumps({"leads": [lead_payload()]}), 401),
        ({**AUTH, "Authorization": "Bearer wrong"}, json.dumps({"leads": [lead_payload()]}), 401),
        ({**AUTH, "Content-Type": "text/csv"}, "external_id,name\nhs-1,Dana\n", 415),
        (AUTH, '{"leads": [{"external_id": "hs-1",]}', 400),
        (AUTH, json.dumps({"leads": [lead_payload(notes="x" * 5000)] * 1700}), 413),
    ],
    ids=["no-token", "wrong-token", "not-json", "broken-json", "over-8-MiB"],
)
def test_the_single_endpoints_refusals_apply_to_the_whole_batch(
    client: httpx.Client, bot: BatonServer, headers: dict[str, str], content: str, status: int
) -> None:
    if status == 413:
        assert len(content) > MAX_BATCH_BODY_BYTES
    headers = {"Content-Type": "application/json", **headers}
    response = client.post("/api/leads/batch", content=content, headers=headers)

    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert stored(bot) == NOTHING


def test_a_locked_database_answers_503_and_keeps_none_of_the_batch(
    client: httpx.Client, bot: BatonServer
) -> None:
    batch = {"leads": [lead_payload(external_id=f"hs-{n}") for n in range(3)]}
    with write_lock_held(bot.services.db):
        refused = client.post("/api/leads/batch", json=batch, headers=AUTH)

        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
    assert stored(bot) == NOTHING

    retried = client.post("/api/leads/batch", json=batch, headers=AUTH)
    assert retried.json()["created"] == 3
