"""Typed access to a request's arguments: path parameters, query string and JSON body."""

from dataclasses import dataclass
from typing import Any

from hubspot_emulator.errors import invalid_input


@dataclass(frozen=True)
class ApiCall:
    path_params: dict[str, str]
    query: dict[str, list[str]]
    body: Any

    def first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def names(self, name: str) -> list[str]:
        """A list parameter, repeated (`properties=a&properties=b`, as the official client
        sends it) or comma-separated (`properties=a,b`): HubSpot takes both."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    def flag(self, name: str) -> bool:
        return (self.first(name) or "").lower() == "true"


def whole_number(raw: Any, default: int, name: str, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        number = int(raw)
    except (TypeError, ValueError):
        raise invalid_input(f"{name} must be an integer") from None
    if not 0 <= number <= maximum:
        raise invalid_input(f"{name} must be between 0 and {maximum}")
    return number
