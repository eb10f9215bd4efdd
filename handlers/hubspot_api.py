"""The HubSpot calls the write-back makes, through HubSpot's official client
(`hubspot-api-client`): owners by email (remembered a while), a contact read and written, notes
read and created. Every failure becomes one HubSpotError saying whether to try again.

The client's own retries are off (urllib3 `Retry(0)`): it would sleep out a 429 inside a
sender, and retry writes blindly; the write-back worker decides when to try again instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import urllib3.exceptions
from hubspot import HubSpot
from hubspot.crm import AssociationType
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.objects.notes import ApiException as NotesApiException
from hubspot.crm.objects.notes import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.owners import ApiException as OwnersApiException
from urllib3.util.retry import Retry

from bot.hubspot import epoch_milliseconds
from handlers.webhook_delivery import retry_after_seconds

OWNER_CACHE_SECONDS = 600.0  # a rep's owner id is read again after this
UNKNOWN_OWNER_CACHE_SECONDS = 60.0  # an email without an owner: asked again sooner
OWNER_CACHE_SIZE = 1000
NOTE_PROPERTIES = ["hs_note_body", "hs_timestamp", "hs_createdate"]
_API_ERRORS = (ContactsApiException, NotesApiException, OwnersApiException)
# Statuses worth another try: rate limited, HubSpot's own trouble, or a token being replaced.
_RETRYABLE = frozenset({401, 403, 408, 423, 429})


class HubSpotError(Exception):
    """A call HubSpot did not answer with success; `status` None when no answer came."""

    def __init__(
        self, status: int | None, problem: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in _RETRYABLE or self.status >= 500

    @property
    def not_found(self) -> bool:
        return self.status == 404


@dataclass(frozen=True)
class Contact:
    id: str
    properties: dict[str, str | None]
    note_ids: list[str]  # newest first (HubSpot's ids grow)


@dataclass(frozen=True)
class StoredNote:
    body: str
    timestamp: datetime | None
    created_at: datetime | None


class HubSpotApi:
    """One private app's HubSpot account; safe to call from several threads."""

    def __init__(
        self,
        *,
        token: str,
        url: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        client = HubSpot(access_token=token, host=url, retry=Retry(0))
        # Each of these builds an API client with its own connection pool: built once.
        self._owners = client.crm.owners.owners_api
        self._contacts = client.crm.contacts.basic_api
        self._notes = client.crm.objects.notes.basic_api
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._owner_ids: dict[str, tuple[float, str | None]] = {}

    def owner_id(self, email: str) -> str | None:
        """The id of the active HubSpot owner (user) with this email, None if there is none."""
        key = email.lower()
        now = self._clock()
        with self._lock:
            cached = self._owner_ids.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        with _answered():
            page = self._owners.get_page(
                email=email, archived=False, limit=1, _request_timeout=self._timeout
            )
        found = str(page.results[0].id) if page.results else None
        keep = OWNER_CACHE_SECONDS if found else UNKNOWN_OWNER_CACHE_SECONDS
        with self._lock:
            if len(self._owner_ids) >= OWNER_CACHE_SIZE:
                self._owner_ids.clear()
            self._owner_ids[key] = (now + keep, found)
        return found

    def contact(
        self,
        *,
        contact_id: str | None,
        email: str | None,
        properties: Sequence[str],
        with_notes: bool,
    ) -> Contact:
        """The contact by id, else by email, with these properties (and its notes' ids)."""
        key = contact_id if contact_id is not None else email
        assert key is not None
        with _answered():
            found = self._contacts.get_by_id(
                key,
                properties=list(properties) or None,
                associations=["notes"] if with_notes else None,
                id_property=None if contact_id is not None else "email",
                _request_timeout=self._timeout,
            )
        notes = (found.associations or {}).get("notes") if with_notes else None
        note_ids = [str(note.id) for note in (notes.results if notes else [])]
        return Contact(
            id=str(found.id),
            properties=dict(found.properties or {}),
            note_ids=sorted(note_ids, key=lambda id_: (len(id_), id_), reverse=True),
        )

    def update_contact(self, contact_id: str, properties: dict[str, str]) -> None:
        with _answered():
            self._contacts.update(
                contact_id,
                SimplePublicObjectInput(properties=properties),
                _request_timeout=self._timeout,
            )

    def note(self, note_id: str) -> StoredNote:
        with _answered():
            found = self._notes.get_by_id(
                note_id, properties=NOTE_PROPERTIES, _request_timeout=self._timeout
            )
        properties = found.properties or {}
        return StoredNote(
            body=properties.get("hs_note_body") or "",
            timestamp=_moment(properties.get("hs_timestamp")),
            created_at=_moment(properties.get("hs_createdate")),
        )

    def create_note(
        self, *, contact_id: str, body: str, at: datetime, owner_id: str | None
    ) -> None:
        """A note on the contact, dated `at`, owned by `owner_id` when known."""
        properties = {"hs_note_body": body, "hs_timestamp": epoch_milliseconds(at)}
        if owner_id is not None:
            properties["hubspot_owner_id"] = owner_id
        association = PublicAssociationsForObject(
            to=PublicObjectId(id=contact_id),
            types=[
                AssociationSpec(
                    association_category="HUBSPOT_DEFINED",
                    association_type_id=AssociationType.NOTE_TO_CONTACT,
                )
            ],
        )
        with _answered():
            self._notes.create(
                SimplePublicObjectInputForCreate(properties=properties, associations=[association]),
                _request_timeout=self._timeout,
            )


@contextmanager
def _answered() -> Iterator[None]:
    """Turn what the client raises into a HubSpotError: the status and HubSpot's message, or
    why no answer came."""
    try:
        yield
    except _API_ERRORS as error:
        status = int(error.status or 0) or None
        headers = error.headers or {}
        retry_after = retry_after_seconds(headers.get("Retry-After")) if status == 429 else None
        raise HubSpotError(
            status, f"HTTP {status}{_message(error.body)}", retry_after=retry_after
        ) from None
    except urllib3.exceptions.TimeoutError:
        raise HubSpotError(None, "timeout") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise HubSpotError(None, f"connection failed ({type(error).__name__})") from None


def _message(body: bytes | str | None) -> str:
    """HubSpot's own explanation of an error (`message` in its JSON), cut short."""
    try:
        message = json.loads(body or b"{}").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {str(message)[:500]}" if message else ""


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
