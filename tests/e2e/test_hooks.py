"""Inbound hooks end to end: HubSpot's workflow webhook and a configured sender, signed as the
real senders sign (HubSpot's official client, the Standard Webhooks reference library), over
HTTP to the real server, the card arriving in the Slack emulator."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hubspot.utils.signature import Signature
from standardwebhooks.webhooks import Webhook

from handlers.intake_api import MAX_BODY_BYTES
from handlers.serve import BatonServer
from slack_emulator import SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import INTAKE_AUTH, card_text, wait_for_card

HUBSPOT_SECRET = "hubspot-app-client-secret"
SALESFORCE_TOKEN = "salesforce-flow-token"
MARKETO_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HOOKS = """
[hooks.salesforce]
auth = "bearer"
secret_env = "SALESFORCE_HOOK_TOKEN"

[hooks.salesforce.fields]
external_id = "Lead.Id"
name = ["Lead.FirstName", "Lead.LastName"]
email = "Lead.Email"
company = "Lead.Company"
score = "Lead.Scores.0.value"
source = { value = "salesforce" }

[hooks.marketo]
auth = "standard-webhooks"
secret_env = "MARKETO_WEBHOOK_SECRET"

[hooks.marketo.fields]
name = "lead.fullName"
email = "lead.email"
"""
CONTACT = {
    "vid": 5101,
    "canonical-vid": 5101,
    "portal-id": 62515,
    "is-contact": True,
    "properties": {
        "email": {"value": "ada@analytical.example"},
        "firstname": {"value": "Ada"},
        "lastname": {"value": "Lovelace"},
        "company": {"value": "Analytical Engines"},
        "jobtitle": {"value": "Head of Computing"},
        "hubspotscore": {"value": "77"},
    },
}


@pytest.fixture
def config_env(config_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The example rules with two configured senders, and every hook secret set."""
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + HOOKS, encoding="utf-8")
    return {
        **config_env,
        "BATON_CONFIG": str(rules),
        "HUBSPOT_CLIENT_SECRET": HUBSPOT_SECRET,
        "SALESFORCE_HOOK_TOKEN": SALESFORCE_TOKEN,
        "MARKETO_WEBHOOK_SECRET": MARKETO_SECRET,
    }


def hubspot_post(
    bot: BatonServer,
    contact: Any,
    *,
    secret: str = HUBSPOT_SECRET,
    timestamp_ms: int | None = None,
    tamper: bool = False,
    query: str = "",
    signed_url: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST as a HubSpot workflow does, signed v3 by HubSpot's own client code over the URL it
    called (URL-decoded, as HubSpot signs it)."""
    url = f"{bot.url}/api/hooks/hubspot{query}"
    body = json.dumps(contact)
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    uri = unquote(signed_url or url)
    signature = Signature.get_signature(secret, body, "v3", uri, "POST", timestamp)
    sent = body.replace("Lovelace", "Byron") if tamper else body
    signed = {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": timestamp,
        **(headers or {}),
    }
    return httpx.post(url, content=sent, headers=signed, timeout=10)


def stored_leads(bot: BatonServer) -> list[tuple[str, str]]:
    with bot.services.db.read() as session:
        return [(lead.external_id, lead.name) for lead in lead_store.list_leads(session)]


def test_a_hubspot_signed_contact_becomes_a_card(bot: BatonServer, slack: SlackEmulator) -> None:
    response = hubspot_post(bot, CONTACT)

    assert response.status_code == 201, response.text
    lead = response.json()
    assert (lead["external_id"], lead["name"], lead["email"], lead["score"]) == (
        "hubspot:5101",
        "Ada Lovelace",
        "ada@analytical.example",
        77,
    )
    assert (lead["title"], lead["source"]) == ("Head of Computing", "hubspot")
    assert lead["crm_url"] == "https://app.hubspot.com/contacts/62515/record/0-1/5101"
    text = card_text(wait_for_card(slack, lead["id"]))
    assert "Ada Lovelace" in text and "Analytical Engines" in text


@pytest.mark.parametrize(
    ("query", "signed_url", "headers"),
    [
        ("?workflow=SQL%20handoff&step=2", None, {}),
        (
            "",
            "https://baton.example.com/api/hooks/hubspot",
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "baton.example.com"},
        ),
    ],
    ids=["query-string", "behind-a-proxy"],
)
def test_the_signature_covers_the_url_hubspot_called(
    bot: BatonServer, query: str, signed_url: str | None, headers: dict[str, str]
) -> None:
    response = hubspot_post(bot, CONTACT, query=query, signed_url=signed_url, headers=headers)
    elsewhere = hubspot_post(
        bot, CONTACT, signed_url="https://other.example/api/hooks/hubspot", headers=headers
    )

    assert (response.status_code, elsewhere.status_code) == (201, 401), response.text


def test_a_body_past_the_limit_or_not_json_is_refused_before_anything_else(
    bot: BatonServer,
) -> None:
    url = f"{bot.url}/api/hooks/salesforce"
    auth = {"Authorization": f"Bearer {SALESFORCE_TOKEN}"}
    large = salesforce_lead(Description="x" * MAX_BODY_BYTES)

    assert httpx.post(url, json=large, headers=auth, timeout=10).status_code == 413
    assert httpx.post(url, content=b"{}", headers=auth, timeout=10).status_code == 415
    assert stored_leads(bot) == []


def test_the_same_contact_sent_twice_is_one_lead_and_one_card(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    first = hubspot_post(bot, CONTACT)
    wait_for_card(slack, first.json()["id"])
    again = hubspot_post(bot, CONTACT)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert stored_leads(bot) == [("hubspot:5101", "Ada Lovelace")]
    assert len(slack.calls("chat.postMessage")) == 1


def test_a_contact_sent_again_with_a_new_property_value_updates_the_lead(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    first = hubspot_post(bot, CONTACT).json()
    card = wait_for_card(slack, first["id"])
    rescored = {**CONTACT, "properties": {**CONTACT["properties"], "hubspotscore": {"value": "91"}}}

    again = hubspot_post(bot, rescored)

    assert again.status_code == 200, again.text
    assert (again.json()["updated"], again.json()["score"]) == (True, 91)
    assert again.json()["changes"] == {"score": {"from": 77, "to": 91}}
    redrawn = wait_for_card(slack, first["id"], lambda c: "score 77 → 91" in card_text(c))
    assert redrawn["ts"] == card["ts"] and len(slack.messages(SALES_CHANNEL)) == 1
    thread = slack.wait_for(lambda: slack.thread(SALES_CHANNEL, card["ts"])[1:], timeout=10)
    assert thread[-1]["text"].endswith("updated by hubspot: score 77 → 91")


@pytest.mark.parametrize(
    "forgery",
    [
        {"tamper": True},
        {"secret": "someone-elses-secret"},
        {"timestamp_ms": int(time.time() * 1000) - 6 * 60 * 1000},
    ],
    ids=["tampered-body", "wrong-secret", "stale-timestamp"],
)
def test_a_forged_or_stale_hubspot_request_is_refused_with_nothing_stored(
    bot: BatonServer, forgery: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = hubspot_post(bot, CONTACT, **forgery)

    assert response.status_code == 401
    assert stored_leads(bot) == []
    assert "refused a request to /api/hooks/hubspot" in caplog.text
    assert "analytical" not in caplog.text.lower() and HUBSPOT_SECRET not in caplog.text


def test_hubspot_without_a_signature_needs_the_intake_token(bot: BatonServer) -> None:
    """A workflow authenticated by an API key in a header sends the intake token; the body may be
    the flat object a customised webhook body gives."""
    flat = {"hs_object_id": "77", "firstname": "Grace", "lastname": "Hopper", "company": "Navy"}
    url = f"{bot.url}/api/hooks/hubspot"

    unsigned = httpx.post(url, json=flat, timeout=10)
    with_token = httpx.post(url, json=flat, headers=INTAKE_AUTH, timeout=10)

    assert unsigned.status_code == 401
    assert with_token.status_code == 201, with_token.text
    assert stored_leads(bot) == [("hubspot:77", "Grace Hopper")]


def salesforce_lead(**overrides: Any) -> dict[str, Any]:
    lead = {
        "Id": "00Q5e00000AbCdE",
        "FirstName": "Katherine",
        "LastName": "Johnson",
        "Email": "kj@orbit.example",
        "Company": "Orbital Mechanics",
        "Scores": [{"value": 64}],
        **overrides,
    }
    return {"Lead": lead}


def test_a_configured_sender_maps_a_nested_payload(bot: BatonServer, slack: SlackEmulator) -> None:
    auth = {"Authorization": f"Bearer {SALESFORCE_TOKEN}"}
    url = f"{bot.url}/api/hooks/salesforce"

    refused = httpx.post(url, json=salesforce_lead(), headers=INTAKE_AUTH, timeout=10)
    response = httpx.post(url, json=salesforce_lead(), headers=auth, timeout=10)

    assert refused.status_code == 401  # the intake token is not this sender's
    assert response.status_code == 201, response.text
    lead = response.json()
    assert (lead["external_id"], lead["name"], lead["company"], lead["score"]) == (
        "salesforce:00Q5e00000AbCdE",
        "Katherine Johnson",
        "Orbital Mechanics",
        64,
    )
    assert lead["source"] == "salesforce"
    assert "Katherine Johnson" in card_text(wait_for_card(slack, lead["id"]))


def test_an_invalid_mapped_value_names_the_field_and_its_source_path(bot: BatonServer) -> None:
    response = httpx.post(
        f"{bot.url}/api/hooks/salesforce",
        json=salesforce_lead(Email="not-an-address"),
        headers={"Authorization": f"Bearer {SALESFORCE_TOKEN}"},
        timeout=10,
    )

    assert response.status_code == 422
    assert response.json() == {
        "error": "invalid lead",
        "fields": {"email": "not a valid email address (from Lead.Email)"},
    }
    assert stored_leads(bot) == []


def test_a_standard_webhooks_sender_is_verified_and_its_message_id_keys_the_lead(
    bot: BatonServer,
) -> None:
    url = f"{bot.url}/api/hooks/marketo"
    body = json.dumps({"lead": {"fullName": "Hedy Lamarr", "email": "hedy@radio.example"}})
    headers = {"Content-Type": "application/json", "webhook-id": "msg_2xyz"}
    now = datetime.now(UTC)
    headers["webhook-timestamp"] = str(int(now.timestamp()))
    headers["webhook-signature"] = Webhook(MARKETO_SECRET).sign("msg_2xyz", now, body)
    forged = {**headers, "webhook-signature": Webhook("whsec_b3RoZXI=").sign("msg_2xyz", now, body)}

    assert httpx.post(url, content=body, headers=forged, timeout=10).status_code == 401
    first = httpx.post(url, content=body, headers=headers, timeout=10)
    again = httpx.post(url, content=body, headers=headers, timeout=10)  # the sender's retry

    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert stored_leads(bot) == [("marketo:msg_2xyz", "Hedy Lamarr")]


def test_an_unknown_sender_is_not_found(bot: BatonServer) -> None:
    response = httpx.post(f"{bot.url}/api/hooks/pardot", json={}, headers=INTAKE_AUTH, timeout=10)

    assert response.status_code == 404
