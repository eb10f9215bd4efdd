"""Scripted failures, and what the official client's retries make of them: the contract a
write-back that must happen exactly once has to live with."""

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import ServiceException
from hubspot.crm.owners.exceptions import ServiceException as OwnersServiceException
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from hubspot_emulator import HubSpotEmulator
from slack_emulator import ManualClock
from tests.hubspot_emulator.conftest import note_input, official_client

CONTACT_PATCH = "PATCH /crm/v3/objects/contacts/*"
NOTE_POST = "POST /crm/v3/objects/notes"
RETRY_EVERYTHING = Retry(
    total=1, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None, backoff_factor=0
)


def set_status(client: HubSpot, status: str) -> None:
    client.crm.contacts.basic_api.update(
        "101", SimplePublicObjectInput(properties={"hs_lead_status": status})
    )


def test_a_server_error_changes_nothing(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    fault = hubspot.faults.add(CONTACT_PATCH, status=503)

    with pytest.raises(ServiceException) as raised:
        set_status(client, "OPEN")

    assert raised.value.status == 503
    assert fault.hits == 1
    assert hubspot.contact("101")["hs_lead_status"] == "NEW"
    set_status(client, "OPEN")
    assert [r.status for r in hubspot.requests] == [503, 200]
    assert len(hubspot.changes("101", "hs_lead_status")) == 1


def test_a_retried_server_error_writes_once(hubspot: HubSpotEmulator) -> None:
    hubspot.faults.add(CONTACT_PATCH, status=502)

    set_status(official_client(hubspot, retry=RETRY_EVERYTHING), "OPEN")

    assert [r.status for r in hubspot.requests] == [502, 200]
    assert [c.value for c in hubspot.changes("101")] == ["OPEN"]


def test_the_clients_default_retry_sleeps_out_a_429_on_a_read_but_not_on_a_write(
    hubspot: HubSpotEmulator,
) -> None:
    default_client = HubSpot(access_token=hubspot.token, host=hubspot.url)
    hubspot.faults.add("GET *", status=429, retry_after=0)
    hubspot.faults.add(CONTACT_PATCH, status=429, retry_after=0)

    assert default_client.crm.contacts.basic_api.get_by_id("101").id == "101"
    with pytest.raises(ApiException) as raised:
        set_status(default_client, "OPEN")

    assert raised.value.status == 429
    assert raised.value.headers["Retry-After"] == "0"
    assert [(r.method, r.status) for r in hubspot.requests] == [
        ("GET", 429),
        ("GET", 200),
        ("PATCH", 429),
    ]
    assert hubspot.changes() == []


def test_a_write_that_took_effect_can_still_answer_an_error(
    client: HubSpot, hubspot: HubSpotEmulator
) -> None:
    hubspot.faults.add(CONTACT_PATCH, status=502, apply=True)

    with pytest.raises(ServiceException):
        set_status(client, "OPEN")

    assert hubspot.contact("101")["hs_lead_status"] == "OPEN"


def test_a_note_answered_too_late_was_still_created(
    client: HubSpot, hubspot: HubSpotEmulator
) -> None:
    hubspot.faults.add(NOTE_POST, delay=1.0)

    with pytest.raises(ReadTimeoutError):
        client.crm.objects.notes.basic_api.create(
            note_input("101", "Rejected"), _request_timeout=0.2
        )

    assert [note.body for note in hubspot.notes_for("101")] == ["Rejected"]


def test_a_late_note_retried_blindly_is_created_twice(hubspot: HubSpotEmulator) -> None:
    """Notes are not idempotent: a retry after a timeout must first look for the note."""
    hubspot.faults.add(NOTE_POST, delay=1.0)
    client = official_client(hubspot, retry=RETRY_EVERYTHING)

    client.crm.objects.notes.basic_api.create(note_input("101", "Rejected"), _request_timeout=0.2)

    assert [note.body for note in hubspot.notes_for("101")] == ["Rejected", "Rejected"]


def test_an_outage_fails_everything_until_it_ends(
    client: HubSpot, hubspot: HubSpotEmulator, clock: ManualClock
) -> None:
    hubspot.faults.outage(seconds=30)

    for call in (
        lambda: client.crm.contacts.basic_api.get_by_id("101"),
        lambda: client.crm.owners.owners_api.get_page(email="alice@example.com"),
    ):
        with pytest.raises((ServiceException, OwnersServiceException)) as raised:
            call()
        assert raised.value.status == 503
    clock.advance(31)

    assert client.crm.contacts.basic_api.get_by_id("101").id == "101"


def test_an_injected_429_looks_like_hubspots(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    hubspot.faults.add(CONTACT_PATCH, status=429, retry_after=3)

    with pytest.raises(ApiException) as raised:
        set_status(client, "OPEN")

    assert raised.value.headers["Retry-After"] == "3"
    assert raised.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert json.loads(raised.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
