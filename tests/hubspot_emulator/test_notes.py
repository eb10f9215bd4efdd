"""A note on the contact carrying a rejection's reason, associated the way the client types it."""

import json

import pytest
from hubspot import HubSpot
from hubspot.crm import AssociationType
from hubspot.crm.objects.notes import ApiException, SimplePublicObjectInputForCreate

from hubspot_emulator import HubSpotEmulator
from tests.hubspot_emulator.conftest import note_input


def test_note_is_created_on_the_contact(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    created = client.crm.objects.notes.basic_api.create(
        note_input("101", "Rejected by Alice: bad fit. Note: student project")
    )

    assert created.id
    assert created.properties["hs_note_body"] == "Rejected by Alice: bad fit. Note: student project"
    assert created.properties["hs_timestamp"] == "2023-11-14T22:13:20.000Z"
    [note] = hubspot.notes_for("101")
    assert (note.id, note.body, note.contact_ids) == (
        created.id,
        "Rejected by Alice: bad fit. Note: student project",
        ("101",),
    )
    assert hubspot.notes_for("102") == []
    assert hubspot.requests[-1].status == 201


def test_the_contact_lists_its_notes_as_associations(client: HubSpot) -> None:
    created = client.crm.objects.notes.basic_api.create(note_input("101", "Rejected"))

    contact = client.crm.contacts.basic_api.get_by_id("101", associations=["notes"])

    assert [(a.id, a.type) for a in contact.associations["notes"].results] == [
        (created.id, "contact_to_note")
    ]
    assert client.crm.objects.notes.basic_api.get_by_id(created.id).properties["hs_note_body"] == (
        "Rejected"
    )


def test_an_iso_timestamp_is_taken_too(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    client.crm.objects.notes.basic_api.create(
        note_input("101", "Rejected", timestamp="2024-03-01T09:30:00+01:00")
    )

    assert hubspot.notes_for("101")[0].timestamp == "2024-03-01T08:30:00.000Z"


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (note_input("101", "Rejected", timestamp=""), "hs_timestamp"),
        (note_input("101", "Rejected", timestamp="yesterday"), "hs_timestamp"),
        (note_input("101", "x" * 65_537), "hs_note_body"),
        (note_input("999", "Rejected"), "999"),
        (note_input("101", "Rejected", type_id=AssociationType.CONTACT_TO_NOTE), "201"),
    ],
    ids=["no timestamp", "bad timestamp", "body too long", "unknown contact", "wrong direction"],
)
def test_a_note_hubspot_would_refuse_is_a_400_and_not_created(
    client: HubSpot, hubspot: HubSpotEmulator, note: SimplePublicObjectInputForCreate, expected: str
) -> None:
    with pytest.raises(ApiException) as raised:
        client.crm.objects.notes.basic_api.create(note)

    assert raised.value.status == 400
    body = json.loads(raised.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert expected in body["message"]
    assert hubspot.notes_for("101") == []
