"""What tests seed the fake with (owners, contacts) and read back (notes, changes, requests)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Owner:
    """A HubSpot user who can own records; Baton finds one by its email."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    user_id: int | None = None
    archived: bool = False


@dataclass(frozen=True)
class Contact:
    """A contact to seed: its numeric id and properties (`email`, `hs_lead_status`, …)."""

    id: str
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Note:
    """A note as created through the API, with the contacts it was associated with."""

    id: str
    body: str
    timestamp: str
    contact_ids: tuple[str, ...]
    owner_id: str | None
    created_at: float


@dataclass(frozen=True)
class PropertyChange:
    """One property written on a contact, recorded even when the value stayed the same, so a
    repeated write (a retry, a duplicate delivery) is visible."""

    contact_id: str
    name: str
    previous: str | None
    value: str
    at: float


@dataclass(frozen=True)
class Request:
    """One request the fake received and the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    at: float
