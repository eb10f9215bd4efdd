"""A local fake of the HubSpot CRM API that Baton writes back to, over real HTTP.

Point HubSpot's official Python client (`hubspot-api-client`) at it:

    with HubSpotEmulator(owners=[Owner("5001", "alice@example.com")],
                         contacts=[Contact("101", {"email": "ada@example.com"})]) as hubspot:
        client = HubSpot(access_token=hubspot.token, host=hubspot.url)

Faithful to HubSpot (paths, parameters and JSON shapes as the official client sends and reads
them, checked against its source):
- `GET /crm/v3/owners/` with `email`, `limit` (100, at most 500), `after` and `archived`;
  emails compared without regard to case; `paging.next.after` while more remain.
- `GET` and `PATCH /crm/v3/objects/contacts/{id}`, also by email with `idProperty=email`;
  `properties` repeated or comma-separated, unset ones null, the default set when none are
  named; `associations=notes`. A PATCH writes all or nothing: an unknown property
  (PROPERTY_DOESNT_EXIST), a value outside an enumeration such as `hs_lead_status`
  (INVALID_OPTION), an owner id that is no active owner (INVALID_OWNER_ID) or a read-only
  property is a 400 listing every problem in `message`, as HubSpot does.
- `POST /crm/v3/objects/contacts/search`: filter groups (OR) of filters (AND) with EQ, NEQ,
  IN, HAS_PROPERTY and NOT_HAS_PROPERTY, case-insensitive; `total`, paging by `after`.
- `POST /crm/v3/objects/notes` with `properties` (`hs_note_body` up to 65,536 characters,
  `hs_timestamp` required, epoch milliseconds or ISO 8601) and `associations` typed
  HUBSPOT_DEFINED/202 (note to contact, `hubspot.crm.AssociationType.NOTE_TO_CONTACT`);
  answered 201. `GET /crm/v3/objects/notes/{id}`.
- Errors as `{"status": "error", "message", "correlationId", "category"[, "context"]}`:
  401 INVALID_AUTHENTICATION for a missing or wrong `Authorization: Bearer` token, 404
  OBJECT_NOT_FOUND, 400 VALIDATION_ERROR. Every answer carries `X-HubSpot-Correlation-Id`.
- Rate limits: a rolling ten-second window (`requests_per_ten_seconds`, 100 like a private
  app on a Free or Starter account) and a daily count, reported on every answer in
  `X-HubSpot-RateLimit-Max`, `-Remaining`, `-Interval-Milliseconds`, `-Daily` and
  `-Daily-Remaining`; past one, 429 with `{"errorType": "RATE_LIMIT", "policyName":
  "TEN_SECONDLY_ROLLING" | "DAILY"}`. Search answers carry no rate-limit headers and have
  their own per-second limit (5).

Simplified or invented:
- `Retry-After` (whole seconds until the window frees) is on every 429; HubSpot documents it
  for some endpoints only. A refused request does not count against the limits, and the day
  turns at midnight UTC, not in the account's time zone.
- The 401 message is the same for a missing and a wrong token; HubSpot words an expired one
  differently. INVALID_OWNER_ID is from memory, not a published sample; the codes for rarer
  problems (READ_ONLY_VALUE, REQUIRED_PROPERTY, INVALID_DATETIME, a note associated with a
  missing contact) and the search limit's 429 body (policy SECONDLY) are the fake's own.
- A PATCH answers the written properties (plus createdate, hs_object_id, lastmodifieddate),
  not every property. Search is consistent at once, where HubSpot's index lags seconds behind
  a write. Only the properties in `schema.py` (plus `contact_properties`) exist; lifecycle
  stages may move backwards; owners have no teams.
- Not served: creating, archiving or merging contacts, batch endpoints, other objects and
  association endpoints, OAuth. Faulted 5xx answers are JSON with category INTERNAL_ERROR,
  where HubSpot's edge may answer HTML.

Tests read what happened: `contact(id)`, `notes_for(contact_id)`, `changes(contact_id, name)`
(every property written, even unchanged, so a duplicate write shows), `requests`, and script
failures with `faults` (see `hubspot_emulator.faults`).
"""

from hubspot_emulator.emulator import DEFAULT_TOKEN, HubSpotEmulator
from hubspot_emulator.records import Contact, Note, Owner, PropertyChange, Request
from hubspot_emulator.schema import LEAD_STATUSES

__all__ = [
    "DEFAULT_TOKEN",
    "LEAD_STATUSES",
    "Contact",
    "HubSpotEmulator",
    "Note",
    "Owner",
    "PropertyChange",
    "Request",
]
