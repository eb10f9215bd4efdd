"""The private app's bearer token, and HubSpot's rate limits with their headers."""

import json

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import UnauthorizedException

from hubspot_emulator import HubSpotEmulator
from slack_emulator import ManualClock
from tests.hubspot_emulator.conftest import ADA, NO_RETRIES, official_client


def test_a_wrong_token_is_hubspots_401_and_changes_nothing(hubspot: HubSpotEmulator) -> None:
    stranger = HubSpot(
        access_token="pat-na1-not-the-apps-token", host=hubspot.url, retry=NO_RETRIES
    )

    with pytest.raises(UnauthorizedException) as raised:
        stranger.crm.contacts.basic_api.update(
            "101", SimplePublicObjectInput(properties={"hs_lead_status": "OPEN"})
        )

    body = json.loads(raised.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["message"].startswith("Authentication credentials not found.")
    assert set(body) == {"status", "message", "correlationId", "category"}
    assert hubspot.contact("101")["hs_lead_status"] == "NEW"
    assert hubspot.changes() == []


def test_no_token_at_all_is_a_401(hubspot: HubSpotEmulator) -> None:
    response = httpx.get(f"{hubspot.url}/crm/v3/objects/contacts/101")

    assert response.status_code == 401
    assert "X-HubSpot-RateLimit-Remaining" not in response.headers


def test_every_answer_reports_the_rate_limits(client: HubSpot) -> None:
    _, status, headers = client.crm.contacts.basic_api.get_by_id_with_http_info("101")

    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "100"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "99"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "250000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "249999"


def test_past_the_ten_second_limit_hubspot_answers_429_until_the_window_moves(
    clock: ManualClock,
) -> None:
    with HubSpotEmulator(contacts=[ADA], requests_per_ten_seconds=3, clock=clock) as hubspot:
        contacts = official_client(hubspot).crm.contacts.basic_api
        contacts.get_by_id("101")
        clock.advance(4)
        contacts.get_by_id("101")
        contacts.get_by_id("101")

        with pytest.raises(ApiException) as raised:
            contacts.get_by_id("101")

        assert raised.value.status == 429
        assert raised.value.headers["Retry-After"] == "6"
        assert raised.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert raised.value.headers["X-HubSpot-RateLimit-Max"] == "3"
        body = json.loads(raised.value.body)
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        clock.advance(6)
        _, _, headers = contacts.get_by_id_with_http_info("101")
        assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert [r.status for r in hubspot.requests] == [200, 200, 200, 429, 200]


def test_the_daily_limit_answers_429_until_midnight(clock: ManualClock) -> None:
    with HubSpotEmulator(contacts=[ADA], requests_per_day=1, clock=clock) as hubspot:
        contacts = official_client(hubspot).crm.contacts.basic_api
        contacts.get_by_id("101")

        with pytest.raises(ApiException) as raised:
            contacts.get_by_id("101")

        assert json.loads(raised.value.body)["policyName"] == "DAILY"
        clock.advance(int(raised.value.headers["Retry-After"]))
        assert contacts.get_by_id("101").id == "101"


def test_search_has_its_own_limit_and_no_rate_limit_headers(clock: ManualClock) -> None:
    with HubSpotEmulator(contacts=[ADA], search_requests_per_second=1, clock=clock) as hubspot:
        search = official_client(hubspot).crm.contacts.search_api
        _, _, headers = search.do_search_with_http_info(PublicObjectSearchRequest())

        with pytest.raises(ApiException) as raised:
            search.do_search(PublicObjectSearchRequest())

        assert "X-HubSpot-RateLimit-Max" not in headers
        assert raised.value.status == 429
        assert json.loads(raised.value.body)["policyName"] == "SECONDLY"
        clock.advance(1)
        assert search.do_search(PublicObjectSearchRequest()).total == 1
