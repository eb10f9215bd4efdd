"""HubSpot's error answers: `{"status": "error", "message", "correlationId", "category", …}`."""

import json
from collections.abc import Mapping
from typing import Any


class HubSpotError(Exception):
    """An error answer; `fields` replace `category` for shapes such as the 429 body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        category: str | None = None,
        context: Mapping[str, list[str]] | None = None,
        fields: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.context = dict(context or {})
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})

    def body(self, correlation_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id,
        }
        if self.context:
            body["context"] = self.context
        if self.category:
            body["category"] = self.category
        body.update(self.fields)
        return body


def not_found(object_id: str) -> HubSpotError:
    """What HubSpot answers for an object id (or email with `idProperty`) it does not know."""
    return HubSpotError(
        404,
        "Object not found.  objectId are usually numeric.",
        category="OBJECT_NOT_FOUND",
        context={"id": [object_id]},
    )


def invalid_input(message: str) -> HubSpotError:
    return HubSpotError(400, message, category="VALIDATION_ERROR")


def invalid_properties(problems: list[dict[str, Any]]) -> HubSpotError:
    """HubSpot lists every rejected property, JSON-encoded inside the message."""
    return invalid_input(
        f"Property values were not valid: {json.dumps(problems, separators=(',', ':'))}"
    )


def property_problem(name: str, error: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }
