"""Slack API errors and typed access to a Web API call's arguments."""

import json
from collections.abc import Mapping
from typing import Any


class SlackError(Exception):
    """An `{"ok": false}` answer; `messages` go to `response_metadata.messages` like Slack's."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


class Args:
    """A call's arguments, from form fields (all strings) or a JSON body (typed values)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.text(name)
        if value is None:
            raise SlackError(error, f"[ERROR] missing required field: {name}")
        return value

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("1", "true")
        return bool(value)

    def number(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", f"[ERROR] {name} must be an integer") from None

    def parsed(self, name: str, error: str) -> Any:
        """A structured argument that form posts carry as a JSON string."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error, f"[ERROR] {name} is not valid JSON") from None
