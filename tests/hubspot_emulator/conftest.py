"""Fixtures: a started HubSpot fake on a manual clock, seeded with owners and contacts, and
HubSpot's official client pointed at it."""

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm import AssociationType
from hubspot.crm.objects.notes import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from urllib3.util.retry import Retry

from hubspot_emulator import Contact, HubSpotEmulator, Owner
from slack_emulator import ManualClock

ALICE = Owner("5001", "alice@example.com", "Alice", "Rep", user_id=9001)
BOB = Owner("5002", "bob@example.com", "Bob", "Rep", user_id=9002)
FORMER_REP = Owner("5003", "carol@example.com", "Carol", "Gone", user_id=9003, archived=True)
ADA = Contact("101", {"email": "ada@example.com", "firstname": "Ada", "hs_lead_status": "NEW"})
GRACE = Contact("102", {"email": "grace@example.com", "firstname": "Grace"})


# The client's default (urllib3's Retry(3)) retries GETs, sleeping out a 429's Retry-After;
# off, each call is one request and a test sees what the fake answered (test_faults turns
# retries on).
NO_RETRIES = Retry(0)


def official_client(hubspot: HubSpotEmulator, retry: Retry = NO_RETRIES) -> HubSpot:
    return HubSpot(access_token=hubspot.token, host=hubspot.url, retry=retry)


def note_input(
    contact_id: str,
    body: str,
    timestamp: str = "1700000000000",
    type_id: int = AssociationType.NOTE_TO_CONTACT,
) -> SimplePublicObjectInputForCreate:
    """A note on one contact, associated as the client types it."""
    association = PublicAssociationsForObject(
        to=PublicObjectId(id=contact_id),
        types=[
            AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)
        ],
    )
    properties = {"hs_note_body": body, "hs_timestamp": timestamp}
    return SimplePublicObjectInputForCreate(properties=properties, associations=[association])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_700_000_000.0)


@pytest.fixture
def hubspot(clock: ManualClock) -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(
        owners=[ALICE, BOB, FORMER_REP], contacts=[ADA, GRACE], clock=clock
    ) as hubspot:
        yield hubspot


@pytest.fixture
def client(hubspot: HubSpotEmulator) -> HubSpot:
    return official_client(hubspot)
