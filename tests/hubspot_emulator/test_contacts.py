"""Reading and updating a contact: the owner and lead status Baton writes on each decision."""

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest, SimplePublicObjectInput
from hubspot.crm.contacts.exceptions import NotFoundException

from hubspot_emulator import Contact, HubSpotEmulator
from slack_emulator import ManualClock
from tests.hubspot_emulator.conftest import official_client


def patch(client: HubSpot, contact_id: str, **properties: str) -> dict[str, str | None]:
    answer = client.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties=properties)
    )
    return dict(answer.properties)


def test_contact_is_read_with_the_properties_asked_for(client: HubSpot) -> None:
    contact = client.crm.contacts.basic_api.get_by_id(
        "101", properties=["hs_lead_status", "hubspot_owner_id", "no_such_property"]
    )

    assert contact.id == "101"
    assert contact.properties == {
        "hs_lead_status": "NEW",
        "hubspot_owner_id": None,
        "createdate": "2023-11-14T22:13:20.000Z",
        "hs_object_id": "101",
        "lastmodifieddate": "2023-11-14T22:13:20.000Z",
    }
    assert contact.created_at.timestamp() == 1_700_000_000


def test_without_properties_the_default_set_comes_back(client: HubSpot) -> None:
    contact = client.crm.contacts.basic_api.get_by_id("101")

    assert sorted(contact.properties) == [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ]
    assert contact.properties["firstname"] == "Ada"


def test_contact_is_found_by_email_with_id_property(client: HubSpot) -> None:
    contact = client.crm.contacts.basic_api.get_by_id("ADA@example.com", id_property="email")

    assert contact.id == "101"


def test_unknown_contact_is_hubspots_404(client: HubSpot) -> None:
    with pytest.raises(NotFoundException) as raised:
        client.crm.contacts.basic_api.get_by_id("999")

    body = json.loads(raised.value.body)
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert body["context"] == {"id": ["999"]}
    assert body["status"] == "error"
    assert body["correlationId"] == raised.value.headers["X-HubSpot-Correlation-Id"]


def test_owner_and_status_are_written_and_recorded(
    client: HubSpot, hubspot: HubSpotEmulator, clock: ManualClock
) -> None:
    clock.advance(60)

    answer = patch(client, "101", hubspot_owner_id="5001", hs_lead_status="IN_PROGRESS")

    assert answer["hubspot_owner_id"] == "5001"
    assert answer["lastmodifieddate"] == "2023-11-14T22:14:20.000Z"
    assert hubspot.contact("101")["hs_lead_status"] == "IN_PROGRESS"
    owner_change = hubspot.changes("101", "hubspot_owner_id")
    status_change = hubspot.changes("101", "hs_lead_status")
    assert [(c.previous, c.value) for c in owner_change] == [(None, "5001")]
    assert [(c.previous, c.value) for c in status_change] == [("NEW", "IN_PROGRESS")]
    assert hubspot.changes("102") == []


def test_a_repeated_write_is_recorded_again(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    """So a test can tell one owner change per decision from a duplicate delivery."""
    patch(client, "101", hubspot_owner_id="5001")
    patch(client, "101", hubspot_owner_id="5001")

    assert [(c.previous, c.value) for c in hubspot.changes("101", "hubspot_owner_id")] == [
        (None, "5001"),
        ("5001", "5001"),
    ]


def test_invalid_values_are_refused_together_and_nothing_is_written(
    client: HubSpot, hubspot: HubSpotEmulator
) -> None:
    with pytest.raises(ApiException) as raised:
        patch(
            client,
            "101",
            hs_lead_status="QUALIFIED",
            hubspot_owner_id="5003",
            baton_reason="bad fit",
            firstname="Ada L.",
        )

    assert raised.value.status == 400
    body = json.loads(raised.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    problems = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert {(p["name"], p["error"]) for p in problems} == {
        ("hs_lead_status", "INVALID_OPTION"),
        ("hubspot_owner_id", "INVALID_OWNER_ID"),
        ("baton_reason", "PROPERTY_DOESNT_EXIST"),
    }
    assert hubspot.contact("101")["firstname"] == "Ada"
    assert hubspot.changes() == []


def test_a_portals_own_properties_and_options_can_be_declared(
    clock: ManualClock,
) -> None:
    with HubSpotEmulator(
        contacts=[Contact("101")],
        contact_properties={"baton_reason": None, "hs_lead_status": ("NEW", "SALES_REJECTED")},
        clock=clock,
    ) as hubspot:
        client = official_client(hubspot)

        patch(client, "101", baton_reason="Bad fit", hs_lead_status="SALES_REJECTED")
        with pytest.raises(ApiException):
            patch(client, "101", hs_lead_status="UNQUALIFIED")

        assert hubspot.contact("101")["baton_reason"] == "Bad fit"
        assert hubspot.contact("101")["hs_lead_status"] == "SALES_REJECTED"


def test_seeding_a_contact_hubspot_would_refuse_fails_loudly() -> None:
    with pytest.raises(ValueError, match="INVALID_OPTION"):
        HubSpotEmulator(contacts=[Contact("101", {"hs_lead_status": "HOT"})])


def test_contacts_are_searched_by_email(client: HubSpot) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": "GRACE@example.com"}]}
        ],
        properties=["email", "hs_lead_status"],
    )

    found = client.crm.contacts.search_api.do_search(request)

    assert found.total == 1
    assert [(c.id, c.properties["email"]) for c in found.results] == [("102", "grace@example.com")]
    assert found.results[0].properties["hs_lead_status"] is None


def test_search_filter_groups_are_alternatives(client: HubSpot) -> None:
    request = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "hs_lead_status", "operator": "EQ", "value": "NEW"}]},
            {"filters": [{"propertyName": "firstname", "operator": "IN", "values": ["grace"]}]},
        ],
        limit=1,
    )

    first = client.crm.contacts.search_api.do_search(request)
    request.after = first.paging.next.after
    second = client.crm.contacts.search_api.do_search(request)

    assert (first.total, [c.id for c in first.results]) == (2, ["101"])
    assert ([c.id for c in second.results], second.paging) == (["102"], None)
