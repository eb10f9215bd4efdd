"""Finding the HubSpot owner for a rep's email, as Baton does on accept."""

from hubspot import HubSpot

from hubspot_emulator import HubSpotEmulator, Owner
from tests.hubspot_emulator.conftest import ALICE


def test_owner_is_found_by_email_whatever_its_case(client: HubSpot) -> None:
    page = client.crm.owners.owners_api.get_page(email="Alice@Example.COM")

    assert [(owner.id, owner.email, owner.user_id) for owner in page.results] == [
        ("5001", "alice@example.com", 9001)
    ]
    assert page.results[0].first_name == "Alice"
    assert page.results[0].type == "PERSON"
    assert page.paging is None


def test_unknown_email_finds_no_owner(client: HubSpot) -> None:
    assert client.crm.owners.owners_api.get_page(email="nobody@example.com").results == []


def test_archived_owners_are_listed_only_when_asked_for(client: HubSpot) -> None:
    owners = client.crm.owners.owners_api

    assert owners.get_page(email="carol@example.com").results == []
    assert [o.id for o in owners.get_page(email="carol@example.com", archived=True).results] == [
        "5003"
    ]


def test_owners_are_paged_with_an_after_cursor(client: HubSpot, hubspot: HubSpotEmulator) -> None:
    for number in range(3, 8):
        hubspot.add_owner(Owner(f"60{number:02d}", f"rep{number}@example.com"))
    owners = client.crm.owners.owners_api

    seen, after = [], None
    while True:
        page = owners.get_page(limit=3, after=after)
        seen += [owner.id for owner in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after

    assert seen == ["5001", "5002", "6003", "6004", "6005", "6006", "6007"]
    assert [r.query.get("after") for r in hubspot.requests] == [None, ["3"], ["6"]]


def test_the_client_asks_at_the_path_and_parameters_hubspot_serves(
    client: HubSpot, hubspot: HubSpotEmulator
) -> None:
    client.crm.owners.owners_api.get_page(email=ALICE.email)

    [request] = hubspot.requests
    assert (request.method, request.path, request.query, request.status) == (
        "GET",
        "/crm/v3/owners/",
        {"email": ["alice@example.com"]},
        200,
    )
