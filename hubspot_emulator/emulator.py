"""`HubSpotEmulator`: the fake on a background thread, plus what tests seed, read and script."""

import time
from collections.abc import Mapping, Sequence

from hubspot_emulator import schema
from hubspot_emulator.faults import HubSpotFaults
from hubspot_emulator.portal import Portal
from hubspot_emulator.ratelimit import RateLimits
from hubspot_emulator.records import Contact, Note, Owner, PropertyChange, Request
from hubspot_emulator.server import build_app
from slack_emulator.clock import Clock
from slack_emulator.serving import ServedFake

DEFAULT_TOKEN = "pat-na1-00000000-0000-4000-8000-emulator0000"


class HubSpotEmulator(ServedFake):
    """HubSpot's CRM API for one private app over real HTTP on 127.0.0.1.

    For the official client: `HubSpot(access_token=emulator.token, host=emulator.url)` (the
    API's base URL; HubSpot's is https://api.hubapi.com).
    Accessors return copies, so a test can keep them while the bot goes on calling.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        owners: Sequence[Owner] = (),
        contacts: Sequence[Contact] = (),
        contact_properties: Mapping[str, schema.Options] | None = None,
        requests_per_ten_seconds: int = 100,
        requests_per_day: int = 250_000,
        search_requests_per_second: int = 5,
        clock: Clock = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.clock = clock
        self.portal = Portal(clock, schema.contact_properties(contact_properties), owners, contacts)
        self.faults = HubSpotFaults(clock)
        self.rate_limits = RateLimits(
            clock, requests_per_ten_seconds, requests_per_day, search_requests_per_second
        )
        app = build_app(self.portal, self.faults, self.rate_limits, token)
        super().__init__(app, self.portal.changed, host=host, port=port)

    # --- seeding ---------------------------------------------------------------------------

    def add_owner(self, owner: Owner) -> None:
        with self.portal.changed:
            self.portal.add_owner(owner)

    def add_contact(self, contact: Contact) -> None:
        """Seed a contact (ValueError for a property or value HubSpot would refuse)."""
        with self.portal.changed:
            self.portal.add_contact(contact)

    # --- reading state ---------------------------------------------------------------------

    def contact(self, contact_id: str) -> dict[str, str]:
        """A contact's properties as stored now (KeyError for an unknown id)."""
        with self.portal.lock:
            return dict(self.portal.contacts[contact_id].properties)

    def notes_for(self, contact_id: str) -> list[Note]:
        """Notes associated with the contact, oldest first."""
        with self.portal.lock:
            return [self.portal.note_record(n) for n in self.portal.note_ids_for(contact_id)]

    def changes(
        self, contact_id: str | None = None, name: str | None = None
    ) -> list[PropertyChange]:
        """Property writes through the API, oldest first, for one contact and/or property
        (`hubspot_owner_id` for owner changes, `hs_lead_status` for status changes)."""
        with self.portal.lock:
            return [
                change
                for change in self.portal.changes
                if contact_id in (None, change.contact_id) and name in (None, change.name)
            ]

    @property
    def requests(self) -> list[Request]:
        """Every request received, in order of arrival, with the status it was answered."""
        with self.portal.lock:
            return list(self.portal.requests)
