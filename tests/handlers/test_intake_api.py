"""The intake API over real HTTP: what a marketing automation sees when it sends leads."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from handlers.intake_api import MAX_BODY_BYTES
from handlers.serve import BatonServer
from storage import leads as lead_store
from tests.factories import lead_payload

AUTH = {"Authorization": "Bearer test-intake-token"}


@pytest.fixture
def client(bot: BatonServer) -> httpx.Client:
    with httpx.Client(base_url=bot.url, timeout=10) as http:
        yield http


def lead_count(bot: BatonServer) -> int:
    with bot.services.db.read() as session:
        return len(lead_store.list_leads(session))


def test_new_lead_is_created_and_can_be_read_back(client: httpx.Client) -> None:
    created = client.post("/api/leads", json=lead_payload(), headers=AUTH)
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "new" and body["external_id"] == "hs-1001"
    assert body["activities"][0]["at"] == "2026-11-24T14:00:00+00:00"
    assert created.headers["location"] == f"/api/leads/{body['id']}"

    read = client.get(f"/api/leads/{body['id']}", headers=AUTH)
    assert read.status_code == 200
    # The card may be posted between the two requests: the lead is then open, and where its
    # card is, and its claim deadline, are known. Everything the sender sent reads back as sent.
    posting = {
        "status",
        "updated_at",
        "posted_at",
        "slack_channel",
        "slack_ts",
        "sla_policy",
        "claim_due_at",
    }
    read_back = read.json()
    assert read_back["status"] in ("new", "open")
    assert {k: v for k, v in read_back.items() if k not in posting} == {
        k: v for k, v in body.items() if k not in posting
    }


@pytest.mark.parametrize("score", [None, "", 0, 100, "82", 82.0])
def test_score_may_be_absent_or_any_whole_number_to_100(
    client: httpx.Client, score: object
) -> None:
    created = client.post("/api/leads", json=lead_payload(score=score), headers=AUTH)

    assert created.status_code == 201, created.text
    assert created.json()["score"] == (int(score) if score not in (None, "") else None)


def test_repeated_external_id_returns_the_stored_lead_updated_when_it_changed(
    client: httpx.Client, bot: BatonServer
) -> None:
    first = client.post("/api/leads", json=lead_payload(), headers=AUTH)
    again = client.post("/api/leads", json=lead_payload(), headers=AUTH)
    changed = client.post("/api/leads", json=lead_payload(name="Changed Name"), headers=AUTH)
    assert (first.status_code, again.status_code, changed.status_code) == (201, 200, 200)
    # The stored lead as it is now: its card may have been posted between the two requests.
    assert about_the_person(again.json()) == about_the_person(first.json())
    assert "updated" not in again.json()
    assert (changed.json()["id"], changed.json()["name"]) == (first.json()["id"], "Changed Name")
    assert changed.json()["changes"] == {"name": {"from": "Dana Whitfield", "to": "Changed Name"}}
    assert lead_count(bot) == 1


# What posting the card changes about a lead (status, card, SLA): the rest is what was sent.
POSTING_CHANGES = frozenset(
    {"status", "slack_channel", "slack_ts", "posted_at", "claim_due_at", "sla_policy", "updated_at"}
)


def about_the_person(lead: dict[str, object]) -> dict[str, object]:
    return {name: value for name, value in lead.items() if name not in POSTING_CHANGES}


def test_concurrent_deliveries_of_one_lead_create_it_once(
    client: httpx.Client, bot: BatonServer
) -> None:
    def deliver(_: int) -> int:
        return client.post("/api/leads", json=lead_payload(), headers=AUTH).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(deliver, range(16)))
    assert codes == [200] * 15 + [201]
    assert lead_count(bot) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_token_is_required(client: httpx.Client, bot: BatonServer, headers: dict) -> None:
    response = client.post("/api/leads", json=lead_payload(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/leads/1", headers=headers).status_code == 401
    assert lead_count(bot) == 0


def test_oversized_body_is_refused(client: httpx.Client, bot: BatonServer) -> None:
    payload = lead_payload(notes="x" * (MAX_BODY_BYTES + 1))
    response = client.post("/api/leads", json=payload, headers=AUTH)
    assert response.status_code == 413
    assert lead_count(bot) == 0


def test_oversized_body_without_content_length_is_refused(
    client: httpx.Client, bot: BatonServer
) -> None:
    def chunks():
        yield b'{"external_id": "x", "name": "y", "notes": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"z" * 1024
        yield b'"}'

    response = client.post(
        "/api/leads",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert lead_count(bot) == 0


def test_body_not_declared_as_json_is_refused(client: httpx.Client, bot: BatonServer) -> None:
    response = client.post(
        "/api/leads",
        content="external_id=x&name=y",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert lead_count(bot) == 0


def test_broken_json_is_a_bad_request_that_says_where(
    client: httpx.Client, bot: BatonServer
) -> None:
    response = client.post(
        "/api/leads",
        content='{"external_id": "x",\n "name": }',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "line 2" in response.json()["error"]
    assert lead_count(bot) == 0


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"name": "No Id"}, {"external_id"}),
        (lead_payload(external_id="  "), {"external_id"}),
        (lead_payload(email="not-an-email"), {"email"}),
        (lead_payload(score=140), {"score"}),
        (lead_payload(score="high"), {"score"}),
        (lead_payload(crm_url="javascript:alert(1)"), {"crm_url"}),
        (lead_payload(crm_url="http://evil.example@crm.example/"), {"crm_url"}),
        (lead_payload(activities=[{"detail": "no type"}]), {"activities.0.type"}),
        (
            lead_payload(activities=[{"type": "x", "at": "2026-11-24T10:00:00"}]),
            {"activities.0.at"},
        ),
        (lead_payload(name="x" * 201, email="@"), {"name", "email"}),
        ([lead_payload()], {"body"}),
    ],
    ids=[
        "no-external-id",
        "blank-external-id",
        "email",
        "score-range",
        "score-type",
        "crm-url",
        "crm-url-user-info",
        "activity-type",
        "naive-activity-time",
        "two-fields",
        "not-an-object",
    ],
)
def test_invalid_lead_gets_field_errors_and_stores_nothing(
    client: httpx.Client, bot: BatonServer, payload: object, fields: set[str]
) -> None:
    response = client.post(
        "/api/leads",
        content=json.dumps(payload),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert set(response.json()["fields"]) == fields
    assert lead_count(bot) == 0


def test_fields_baton_does_not_know_are_kept_with_the_lead(
    client: httpx.Client, bot: BatonServer
) -> None:
    """A workflow sends what it has: its own properties are stored and read back as sent (a
    number past 64 bits too), and only the known fields are checked."""
    account = 123456789012345678901234567890
    sent = lead_payload(
        hs_lead_status="NEW",
        utm={"source": "google", "terms": ["crm", "slack"]},
        account=account,
        visits=12,
    )
    created = client.post("/api/leads", json=sent, headers=AUTH)

    assert created.status_code == 201, created.text
    extra = {
        "hs_lead_status": "NEW",
        "utm": {"source": "google", "terms": ["crm", "slack"]},
        "account": account,
    }
    assert created.json()["extra"] == {**extra, "visits": 12}
    read = client.get(f"/api/leads/{created.json()['id']}", headers=AUTH)
    assert read.json()["extra"] == {**extra, "visits": 12}
    invalid = client.post(
        "/api/leads", json=lead_payload(external_id="hs-2", score=400, visits=1), headers=AUTH
    )
    assert invalid.status_code == 422 and set(invalid.json()["fields"]) == {"score"}


def test_unknown_fields_past_the_limits_are_left_out_and_the_rest_kept(
    client: httpx.Client,
) -> None:
    sent = lead_payload(
        ok="kept",
        **{"k" * 101: "key too long"},
        nul="a\x00b",
        **{"x\ud800": "a lone surrogate in the name"},
        big="x" * (17 * 1024),
        after="still kept",
    )
    created = client.post(
        "/api/leads",
        content=json.dumps(sent),  # ASCII, the lone surrogate as a `\ud800` escape
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert created.status_code == 201, created.text
    assert created.json()["extra"] == {"ok": "kept", "after": "still kept"}


def test_unknown_lead_is_404(client: httpx.Client) -> None:
    response = client.get("/api/leads/4242", headers=AUTH)
    assert response.status_code == 404
    assert "4242" in response.json()["error"]


@pytest.mark.parametrize(
    "lead_id",
    ["2147483648", "9223372036854775808", "9" * 5000, "-1", "0", "1.0", "abc", "%F0%9F%99%82"],
)
def test_an_id_no_lead_can_have_is_404(client: httpx.Client, lead_id: str) -> None:
    client.post("/api/leads", json=lead_payload(), headers=AUTH)  # lead 1 exists

    response = client.get(f"/api/leads/{lead_id}", headers=AUTH)

    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    "query",
    ["token=test-intake-token", "access_token=anything", "api_key=x", "t=test-intake-token"],
)
def test_a_token_in_the_url_is_refused_even_beside_a_good_header(
    client: httpx.Client, bot: BatonServer, query: str
) -> None:
    posted = client.post(f"/api/leads?{query}", json=lead_payload(), headers=AUTH)
    read = client.get(f"/api/leads/1?{query}", headers=AUTH)

    for response in (posted, read):
        assert response.status_code == 401
        assert "Authorization header" in response.json()["error"]
    assert lead_count(bot) == 0


def test_health_reports_database_and_scheduler(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "scheduler": "running"}


def test_metrics_count_intake_results(client: httpx.Client) -> None:
    def counted(result: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(f'baton_leads_received_total{{result="{result}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = {result: counted(result) for result in ("created", "duplicate", "invalid")}
    client.post("/api/leads", json=lead_payload(), headers=AUTH)
    client.post("/api/leads", json=lead_payload(), headers=AUTH)
    client.post("/api/leads", json={"name": "x"}, headers=AUTH)
    after = {result: counted(result) for result in before}
    assert {result: after[result] - before[result] for result in before} == {
        "created": 1,
        "duplicate": 1,
        "invalid": 1,
    }


def test_other_methods_and_a_trailing_slash_are_answered_as_fastapi_answers_them(
    client: httpx.Client, bot: BatonServer
) -> None:
    """`POST /api/leads` is served ahead of FastAPI's routing; the rest of that path is not."""
    read = client.get("/api/leads", headers=AUTH)
    slashed = client.post("/api/leads/", json=lead_payload(), headers=AUTH)

    assert (read.status_code, read.headers["allow"]) == (405, "POST")
    assert read.json() == {"detail": "Method Not Allowed"}
    assert (slashed.status_code, slashed.headers["location"]) == (307, f"{bot.url}/api/leads")
    assert lead_count(bot) == 0
