"""`POST /crm/v3/objects/contacts/search`: HubSpot's filter groups over the contacts."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hubspot_emulator.arguments import whole_number
from hubspot_emulator.errors import invalid_input
from hubspot_emulator.portal import StoredObject

MAX_FILTER_GROUPS = 5
MAX_FILTERS = 18
MAX_LIMIT = 200
MAX_AFTER = 10_000  # HubSpot pages no further than 10,000 results
DEFAULT_LIMIT = 10

# Operators the fake evaluates; HubSpot compares strings without regard to case.
_OPERATORS: dict[str, Callable[[str | None, "Filter"], bool]] = {
    "EQ": lambda value, f: value is not None and value.lower() == f.value.lower(),
    "NEQ": lambda value, f: value is None or value.lower() != f.value.lower(),
    "IN": lambda value, f: value is not None and value.lower() in f.values,
    "HAS_PROPERTY": lambda value, _: bool(value),
    "NOT_HAS_PROPERTY": lambda value, _: not value,
}


@dataclass(frozen=True)
class Filter:
    property_name: str
    operator: str
    value: str
    values: frozenset[str]

    def matches(self, contact: StoredObject) -> bool:
        value = contact.properties.get(self.property_name) or None
        return _OPERATORS[self.operator](value, self)


@dataclass(frozen=True)
class Query:
    groups: tuple[tuple[Filter, ...], ...]
    properties: tuple[str, ...]
    limit: int
    after: int

    def run(self, contacts: Iterable[StoredObject]) -> list[StoredObject]:
        """Contacts matching any group (all filters of a group), in id order."""
        return [
            contact
            for contact in sorted(contacts, key=lambda contact: int(contact.id))
            if not self.groups or any(all(f.matches(contact) for f in g) for g in self.groups)
        ]


def parse(body: Any) -> Query:
    if not isinstance(body, dict):
        raise invalid_input("The search request must be a JSON object")
    groups = body.get("filterGroups") or []
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise invalid_input("filterGroups must be a list of objects")
    filters = [group.get("filters") or [] for group in groups]
    if len(groups) > MAX_FILTER_GROUPS or sum(len(f) for f in filters) > MAX_FILTERS:
        raise invalid_input(
            f"At most {MAX_FILTER_GROUPS} filterGroups and {MAX_FILTERS} filters in all"
        )
    properties = body.get("properties") or []
    if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
        raise invalid_input("properties must be a list of property names")
    return Query(
        tuple(tuple(_filter(f) for f in group) for group in filters),
        tuple(properties),
        whole_number(body.get("limit"), DEFAULT_LIMIT, "limit", MAX_LIMIT),
        whole_number(body.get("after"), 0, "after", MAX_AFTER),
    )


def _filter(raw: Any) -> Filter:
    if not isinstance(raw, dict) or not isinstance(raw.get("propertyName"), str):
        raise invalid_input("Every filter needs a propertyName")
    operator = raw.get("operator")
    if operator not in _OPERATORS:
        raise invalid_input(f"Operator {operator} is not one of {', '.join(_OPERATORS)}")
    values = raw.get("values") or []
    return Filter(
        raw["propertyName"],
        operator,
        str(raw.get("value", "")),
        frozenset(str(value).lower() for value in values),
    )
