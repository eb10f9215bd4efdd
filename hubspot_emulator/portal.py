"""The fake's HubSpot account: owners, contacts, notes and what was written, under one lock."""

import itertools
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot_emulator import schema
from hubspot_emulator.errors import HubSpotError, invalid_input, not_found
from hubspot_emulator.records import Contact, Note, Owner, PropertyChange, Request
from hubspot_emulator.timestamps import iso
from slack_emulator.clock import Clock

NOTE_TO_CONTACT = 202  # HubSpot's association type id, category HUBSPOT_DEFINED
_FIRST_NOTE_ID = 80_000_000_001


@dataclass
class StoredObject:
    id: str
    properties: dict[str, str]
    created_at: float
    updated_at: float


class Portal:
    """Everything HubSpot would remember. Hold `lock` (or `changed`) while reading or writing."""

    def __init__(
        self,
        clock: Clock,
        contact_properties: Mapping[str, schema.Options],
        owners: Iterable[Owner],
        contacts: Iterable[Contact],
    ) -> None:
        self.clock = clock
        self.contact_properties = dict(contact_properties)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.created_at = clock()
        self.owners: dict[str, Owner] = {}
        self.contacts: dict[str, StoredObject] = {}
        self.notes: dict[str, StoredObject] = {}
        self.note_contacts: dict[str, tuple[str, ...]] = {}
        self.changes: list[PropertyChange] = []
        self.requests: list[Request] = []
        self._note_ids = itertools.count(_FIRST_NOTE_ID)
        for owner in owners:
            self.add_owner(owner)
        for contact in contacts:
            self.add_contact(contact)

    # --- seeding ---------------------------------------------------------------------------

    def add_owner(self, owner: Owner) -> None:
        self.owners[owner.id] = owner

    def add_contact(self, contact: Contact) -> None:
        """A contact as if it had been there all along: checked like a write, but unrecorded."""
        if not contact.id.isdigit():
            raise ValueError(f"contact ids are numeric in HubSpot, not {contact.id!r}")
        try:
            values = self._check_contact_values(contact.properties, read_only=())
        except HubSpotError as error:
            raise ValueError(f"contact {contact.id}: {error.message}") from None
        now = self.clock()
        values.update(createdate=iso(now), lastmodifieddate=iso(now), hs_object_id=contact.id)
        self.contacts[contact.id] = StoredObject(contact.id, values, now, now)

    # --- owners ----------------------------------------------------------------------------

    def owners_matching(self, email: str | None, archived: bool) -> list[Owner]:
        """Owners in id order; HubSpot compares emails without regard to case."""
        return [
            owner
            for owner in sorted(self.owners.values(), key=lambda owner: int(owner.id))
            if owner.archived == archived
            and (email is None or owner.email.lower() == email.lower())
        ]

    def active_owner_ids(self) -> set[str]:
        return {owner.id for owner in self.owners.values() if not owner.archived}

    # --- contacts --------------------------------------------------------------------------

    def contact(self, object_id: str, id_property: str | None = None) -> StoredObject:
        """A contact by id, or by email with `idProperty=email`."""
        if id_property in (None, "hs_object_id"):
            found = self.contacts.get(object_id)
        elif id_property == "email":
            found = next(
                (
                    contact
                    for contact in self.contacts.values()
                    if contact.properties.get("email", "").lower() == object_id.lower()
                ),
                None,
            )
        else:
            raise invalid_input(f"idProperty {id_property} is not a unique property")
        if found is None:
            raise not_found(object_id)
        return found

    def update_contact(self, contact: StoredObject, values: Any) -> dict[str, str]:
        """Write the values (all or none) and record each; returns what was written."""
        written = self._check_contact_values(values, read_only=schema.READ_ONLY)
        now = self.clock()
        for name, value in written.items():
            previous = contact.properties.get(name)
            self.changes.append(PropertyChange(contact.id, name, previous, value, now))
            contact.properties[name] = value
        contact.updated_at = now
        contact.properties["lastmodifieddate"] = iso(now)
        return written

    def _check_contact_values(self, values: Any, read_only: Collection[str]) -> dict[str, str]:
        return schema.check(
            values, self.contact_properties, read_only, owner_ids=self.active_owner_ids()
        )

    # --- notes -----------------------------------------------------------------------------

    def create_note(self, values: Any, contact_ids: Sequence[str]) -> StoredObject:
        written = schema.note_values(
            schema.check(
                values, schema.NOTE_PROPERTIES, schema.NOTE_READ_ONLY, self.active_owner_ids()
            )
        )
        for contact_id in contact_ids:
            if contact_id not in self.contacts:
                raise invalid_input(f"No contact with id {contact_id} to associate the note with")
        now = self.clock()
        note_id = str(next(self._note_ids))
        written.update(hs_createdate=iso(now), hs_lastmodifieddate=iso(now), hs_object_id=note_id)
        note = StoredObject(note_id, written, now, now)
        self.notes[note_id] = note
        self.note_contacts[note_id] = tuple(contact_ids)
        return note

    def note(self, note_id: str) -> StoredObject:
        if note_id not in self.notes:
            raise not_found(note_id)
        return self.notes[note_id]

    def note_ids_for(self, contact_id: str) -> list[str]:
        return [
            note_id for note_id, contacts in self.note_contacts.items() if contact_id in contacts
        ]

    def note_record(self, note_id: str) -> Note:
        note = self.notes[note_id]
        properties = note.properties
        return Note(
            note_id,
            properties.get(schema.NOTE_BODY, ""),
            properties.get(schema.NOTE_TIMESTAMP, ""),
            self.note_contacts[note_id],
            properties.get(schema.OWNER_PROPERTY) or None,
            note.created_at,
        )
