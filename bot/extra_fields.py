"""Fields a sender includes that Baton does not know (a CRM's own properties, a form's hidden
fields): kept with the lead as the sender named them, so a workflow can post what it has without
glue code, and capped so no sender can make a lead's row grow without end."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_KEY_LENGTH = 100
# The kept fields of one lead, as compact JSON: generous for a CRM's properties, small beside
# the 64 KiB a request may carry.
MAX_TOTAL_BYTES = 16 * 1024


def kept(unknown: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The unknown fields kept, in the order sent, and the names of those left out: a key too
    long, text no database can store (NUL, a lone surrogate), a number that is not finite, or
    whatever would take the lead's kept fields past MAX_TOTAL_BYTES."""
    kept_fields: dict[str, Any] = {}
    left_out: list[str] = []
    size = 2  # {}
    for key, value in unknown.items():
        if len(key) > MAX_KEY_LENGTH or not _storable(key) or not _storable(value):
            left_out.append(key)
            continue
        entry = len(_compact({key: value}).encode()) - 2 + (1 if kept_fields else 0)
        if size + entry > MAX_TOTAL_BYTES:
            left_out.append(key)
            continue
        kept_fields[key] = value
        size += entry
    return kept_fields, left_out


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and not any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, dict):
        return all(_storable(key) and _storable(item) for key, item in value.items())
    return True


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def described(extra: Mapping[str, Any]) -> str:
    """`hs_lead_status: NEW · utm: {"source":"google"}`: the kept fields as one line of text
    (plain text, not yet escaped for Slack)."""
    return " · ".join(
        f"{key}: {value if isinstance(value, str) else _compact(value)}"
        for key, value in extra.items()
    )
