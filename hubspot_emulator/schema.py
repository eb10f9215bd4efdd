"""The properties the fake knows, and HubSpot's validation of the values written to them."""

from collections.abc import Collection, Mapping
from typing import Any

from hubspot_emulator import timestamps
from hubspot_emulator.errors import invalid_properties, property_problem

# None: free text; a tuple: an enumeration's internal values.
Options = tuple[str, ...] | None

LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
OWNER_PROPERTY = "hubspot_owner_id"
# Set by HubSpot itself; writing one is refused.
READ_ONLY = frozenset({"createdate", "lastmodifieddate", "hs_object_id"})

CONTACT_PROPERTIES: dict[str, Options] = {
    **dict.fromkeys(
        (
            "email",
            "firstname",
            "lastname",
            "phone",
            "mobilephone",
            "jobtitle",
            "company",
            "website",
            "numemployees",
            "industry",
            "city",
            "state",
            "country",
            "hs_analytics_source",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
            OWNER_PROPERTY,
        )
    ),
    "hs_lead_status": LEAD_STATUSES,
    "lifecyclestage": LIFECYCLE_STAGES,
}
# Returned when a request names no properties.
CONTACT_DEFAULTS = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
# Returned whatever a request names.
CONTACT_ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")

NOTE_BODY = "hs_note_body"
NOTE_TIMESTAMP = "hs_timestamp"
NOTE_BODY_LIMIT = 65_536
NOTE_PROPERTIES: dict[str, Options] = dict.fromkeys(
    (
        NOTE_BODY,
        NOTE_TIMESTAMP,
        OWNER_PROPERTY,
        "hs_attachment_ids",
        "hs_createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    )
)
NOTE_READ_ONLY = frozenset({"hs_createdate", "hs_lastmodifieddate", "hs_object_id"})


def contact_properties(custom: Mapping[str, Options] | None) -> dict[str, Options]:
    """The default contact properties, plus or overridden by a portal's own (custom
    properties, or different `hs_lead_status` options)."""
    return {**CONTACT_PROPERTIES, **(custom or {})}


def check(
    values: Any,
    known: Mapping[str, Options],
    read_only: Collection[str],
    owner_ids: Collection[str],
) -> dict[str, str]:
    """The values as HubSpot stores them (strings), or every problem in one 400."""
    if not isinstance(values, dict):
        raise invalid_properties([property_problem("properties", "INVALID_INPUT", "not an object")])
    stored: dict[str, str] = {}
    problems = []
    for name, raw in values.items():
        value = _as_text(raw)
        problem = _problem(name, value, known, read_only, owner_ids)
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            stored[name] = value
    if problems:
        raise invalid_properties(problems)
    return stored


def _problem(
    name: str,
    value: str | None,
    known: Mapping[str, Options],
    read_only: Collection[str],
    owner_ids: Collection[str],
) -> dict[str, Any] | None:
    if name not in known:
        return property_problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
    if name in read_only:
        return property_problem(name, "READ_ONLY_VALUE", f'"{name}" is a read only property')
    if value is None:
        return property_problem(name, "INVALID_PROPERTY_VALUE", f"{name} must be a plain value")
    options = known[name]
    if value and options is not None and value not in options:
        allowed = ", ".join(options)
        return property_problem(
            name, "INVALID_OPTION", f"{value} was not one of the allowed options: [{allowed}]"
        )
    if value and name == OWNER_PROPERTY and value not in owner_ids:
        return property_problem(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id")
    return None


def _as_text(raw: Any) -> str | None:
    """HubSpot takes numbers and booleans for string properties; null clears like ""."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, str | int | float):
        return str(raw)
    return None


def note_values(values: dict[str, str]) -> dict[str, str]:
    """A note's checked values with `hs_timestamp` (required) in HubSpot's ISO form."""
    problems = []
    stamp = values.get(NOTE_TIMESTAMP, "")
    moment = timestamps.parse(stamp) if stamp else None
    if not stamp:
        problems.append(
            property_problem(NOTE_TIMESTAMP, "REQUIRED_PROPERTY", f"{NOTE_TIMESTAMP} is required")
        )
    elif moment is None:
        problems.append(
            property_problem(
                NOTE_TIMESTAMP,
                "INVALID_DATETIME",
                f"{stamp} is neither epoch milliseconds nor an ISO 8601 datetime",
            )
        )
    if len(values.get(NOTE_BODY, "")) > NOTE_BODY_LIMIT:
        problems.append(
            property_problem(
                NOTE_BODY, "INVALID_STRING", f"{NOTE_BODY} is longer than {NOTE_BODY_LIMIT}"
            )
        )
    if problems or moment is None:
        raise invalid_properties(problems)
    return {**values, NOTE_TIMESTAMP: timestamps.iso(moment)}
