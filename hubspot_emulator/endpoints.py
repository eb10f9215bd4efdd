"""The endpoints Baton uses, answering in the JSON shapes of HubSpot's v3 API."""

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hubspot_emulator import schema, search
from hubspot_emulator.arguments import ApiCall, whole_number
from hubspot_emulator.errors import invalid_input
from hubspot_emulator.portal import NOTE_TO_CONTACT, Portal, StoredObject
from hubspot_emulator.records import Owner
from hubspot_emulator.timestamps import iso

Handler = Callable[[Portal, ApiCall], tuple[int, dict[str, Any]]]

OWNERS_PAGE = 100
OWNERS_PAGE_MAX = 500


def list_owners(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    limit = whole_number(call.first("limit"), OWNERS_PAGE, "limit", OWNERS_PAGE_MAX)
    after = whole_number(call.first("after"), 0, "after", len(portal.owners))
    owners = portal.owners_matching(call.first("email"), call.flag("archived"))
    body: dict[str, Any] = {
        "results": [_owner_json(portal, owner) for owner in owners[after : after + limit]]
    }
    if after + limit < len(owners):
        body["paging"] = {"next": {"after": str(after + limit)}}
    return 200, body


def get_contact(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    contact = portal.contact(call.path_params["object_id"], call.first("idProperty"))
    body = _contact_json(portal, contact, call.names("properties"))
    note_ids = portal.note_ids_for(contact.id)
    if "notes" in call.names("associations") and note_ids:
        results = [{"id": note_id, "type": "contact_to_note"} for note_id in note_ids]
        body["associations"] = {"notes": {"results": results}}
    return 200, body


def update_contact(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    contact = portal.contact(call.path_params["object_id"], call.first("idProperty"))
    written = portal.update_contact(contact, _properties(call.body))
    return 200, _contact_json(portal, contact, list(written))


def search_contacts(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    query = search.parse(call.body)
    found = query.run(portal.contacts.values())
    page = found[query.after : query.after + query.limit]
    body: dict[str, Any] = {
        "total": len(found),
        "results": [_contact_json(portal, contact, list(query.properties)) for contact in page],
    }
    if query.after + query.limit < len(found):
        body["paging"] = {"next": {"after": str(query.after + query.limit)}}
    return 200, body


def create_note(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    contact_ids = _note_contacts(call.body)
    note = portal.create_note(_properties(call.body), contact_ids)
    return 201, _object_json(note, note.properties)


def get_note(portal: Portal, call: ApiCall) -> tuple[int, dict[str, Any]]:
    note = portal.note(call.path_params["object_id"])
    return 200, _object_json(note, note.properties)


_OBJECT_ID = r"(?P<object_id>[^/]+)"
# (method, path pattern, handler); the first match wins, so search precedes the id routes.
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/crm/v3/owners/?"), list_owners),
    ("POST", re.compile(r"/crm/v3/objects/contacts/search"), search_contacts),
    ("GET", re.compile(rf"/crm/v3/objects/contacts/{_OBJECT_ID}"), get_contact),
    ("PATCH", re.compile(rf"/crm/v3/objects/contacts/{_OBJECT_ID}"), update_contact),
    ("POST", re.compile(r"/crm/v3/objects/notes"), create_note),
    ("GET", re.compile(rf"/crm/v3/objects/notes/{_OBJECT_ID}"), get_note),
]


SEARCH = search_contacts  # its own rate limit, and no rate-limit headers


def route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groupdict()
    return None


def _properties(body: Any) -> Any:
    if not isinstance(body, dict) or "properties" not in body:
        raise invalid_input("The request body needs a properties object")
    return body["properties"]


def _note_contacts(body: Any) -> list[str]:
    """Contact ids from `associations`, each typed note→contact (HUBSPOT_DEFINED, 202)."""
    associations = (body.get("associations") or []) if isinstance(body, dict) else []
    if not isinstance(associations, list):
        raise invalid_input("associations must be a list")
    contact_ids = []
    for association in associations:
        to = association.get("to") if isinstance(association, dict) else None
        types = association.get("types") if isinstance(association, dict) else None
        if not isinstance(to, dict) or not isinstance(types, list) or not types:
            raise invalid_input("Every association needs `to` and `types`")
        for spec in types:
            category = spec.get("associationCategory") if isinstance(spec, dict) else None
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            if (category, type_id) != ("HUBSPOT_DEFINED", NOTE_TO_CONTACT):
                raise invalid_input(
                    f"Association type {category}/{type_id} is not note to contact "
                    f"(HUBSPOT_DEFINED/{NOTE_TO_CONTACT}), the only one this fake knows"
                )
        contact_ids.append(str(to.get("id")))
    return contact_ids


def _contact_json(
    portal: Portal, contact: StoredObject, requested: Sequence[str]
) -> dict[str, Any]:
    """Requested properties (null when unset, unknown names left out) and the ones HubSpot
    always returns; its default set when none are requested."""
    names = [*requested, *schema.CONTACT_ALWAYS] if requested else schema.CONTACT_DEFAULTS
    properties = {
        name: contact.properties.get(name) for name in names if name in portal.contact_properties
    }
    return _object_json(contact, properties)


def _object_json(stored: StoredObject, properties: Mapping[str, str | None]) -> dict[str, Any]:
    return {
        "id": stored.id,
        "properties": properties,
        "createdAt": iso(stored.created_at),
        "updatedAt": iso(stored.updated_at),
        "archived": False,
    }


def _owner_json(portal: Portal, owner: Owner) -> dict[str, Any]:
    return {
        "id": owner.id,
        "email": owner.email,
        "type": "PERSON",
        "firstName": owner.first_name,
        "lastName": owner.last_name,
        "userId": owner.user_id,
        "userIdIncludingInactive": owner.user_id,
        "createdAt": iso(portal.created_at),
        "updatedAt": iso(portal.created_at),
        "archived": owner.archived,
        "teams": [],
    }
