"""What a repeated delivery of a stored lead changes about the person: the comparison of what was
sent with what is stored, the values to write, and the words that tell the change.

A repeat corrects and adds, it never erases: a field sent empty (or not at all) keeps what is
stored, since senders often send only what they have; activities not stored yet are appended
(the oldest drop off past MAX_ACTIVITIES); unknown fields are laid over those kept. The handoff
state is none of its business (bot.lifecycle.update_data writes the change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import extra_fields, scoring
from bot.slack_text import safe_text
from storage.models import Lead

MAX_ACTIVITIES = 50  # activities one lead holds, sent at once or gathered by repeats
# Fields a repeat never compares: the key it is found by, and those compared their own way.
_NOT_PLAIN = frozenset({"external_id", "activities", "extra"})


@dataclass(frozen=True)
class DataChange:
    """The columns to write, and what changed as the `update` event records it:
    `{field: {"from", "to"}}`, `"activities": {"added": [...]}`, `"extra": {key: {"from", "to"}}`.
    """

    values: dict[str, Any]
    changes: dict[str, Any]


def compare(lead: Lead, fields: Mapping[str, Any]) -> DataChange | None:
    """What laying `fields` (bot.intake.LeadInput.to_fields) over the stored lead would change;
    None when it changes nothing."""
    values: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    for name, sent in fields.items():
        stored = _sent_score(lead) if name == "score" else getattr(lead, name, None)
        if name in _NOT_PLAIN or sent is None or sent == stored:
            continue
        values[name] = sent
        changes[name] = {"from": stored, "to": sent}
    stored_activities = list(lead.activities or [])
    added = _new_activities(stored_activities, fields.get("activities") or [])
    if added:
        values["activities"] = [*stored_activities, *added][-MAX_ACTIVITIES:]
        changes["activities"] = {"added": added}
    extra = _extra_change(lead.extra or {}, fields.get("extra") or {})
    if extra is not None:
        values["extra"], changes["extra"] = extra
    return DataChange(values, changes) if changes else None


def rescored(
    change: DataChange,
    lead: Lead,
    fields: Mapping[str, Any],
    model: scoring.ScoringModel,
    *,
    now: datetime,
) -> DataChange:
    """The change with the lead scored again by the team's `model` over its data as changed, as
    intake scores a new lead: the model's score replaces the sender's (kept in the reasons). A
    changed sender's score is told as `sender_score`, a changed total as `score`."""
    values, changes = dict(change.values), dict(change.changes)
    data = {name: values.get(name, getattr(lead, name, None)) for name in fields}
    data["score"] = values.get("score", _sent_score(lead))
    scored = scoring.scored_fields(model, data, now=now)
    values.update(score=scored["score"], score_explanation=scored["score_explanation"])
    sender_score = changes.pop("score", None)
    if sender_score is not None:
        changes["sender_score"] = sender_score
    if scored["score"] != lead.score:
        changes["score"] = {"from": lead.score, "to": scored["score"]}
    return DataChange(values, changes)


def _sent_score(lead: Lead) -> Any:
    """The score the sender last sent: kept in the reasons where a scoring model replaced it."""
    explanation = lead.score_explanation
    if isinstance(explanation, Mapping):
        return explanation.get("sender_score")
    return lead.score


def _same(one: Any, other: Any) -> bool:
    """Equal as JSON: `1` and `true`, equal to Python, are different values to a sender."""
    return _canonical(one) == _canonical(other)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _new_activities(stored: Sequence[Any], sent: Sequence[Any]) -> list[Any]:
    """The activities sent that are not stored yet (nor sent twice), in the order sent."""
    seen = {_canonical(activity) for activity in stored}
    added = []
    for activity in sent:
        key = _canonical(activity)
        if key not in seen:
            seen.add(key)
            added.append(activity)
    return added


def _extra_change(
    stored: Mapping[str, Any], sent: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The kept unknown fields once `sent` is laid over `stored`, and what changed; a field sent
    as null keeps its value, and one the size cap leaves out (bot.extra_fields) changed nothing."""
    sent = {key: value for key, value in sent.items() if value is not None}
    changed = [
        key for key, value in sent.items() if key not in stored or not _same(stored[key], value)
    ]
    if not changed:
        return None
    merged, _left_out = extra_fields.kept({**stored, **sent})
    changes = {
        key: {"from": stored.get(key), "to": merged[key]}
        for key in changed
        if key in merged and not (key in stored and _same(stored[key], merged[key]))
    }
    return (merged, changes) if changes else None


def summary(changes: Mapping[str, Any], limit: int) -> str:
    """`score 72 → 88 · new signal: pricing_page · email corrected · phone added`: a change in
    a few words, escaped for mrkdwn and cut to `limit` characters. Read from stored events, so
    it takes whatever shape an event holds without failing."""
    parts = []
    score = changes.get("score")
    if isinstance(score, Mapping):
        parts.append(f"score {_shown(score.get('from'))} → {_shown(score.get('to'))}")
    activities = changes.get("activities")
    added = activities.get("added") if isinstance(activities, Mapping) else None
    if isinstance(added, list) and len(added) == 1 and isinstance(added[0], Mapping):
        parts.append(f"new signal: {added[0].get('type') or 'activity'}")
    elif isinstance(added, list) and added:
        parts.append(f"{len(added)} new signals")
    fields = {
        name: change
        for name, change in changes.items()
        if name not in {"score", "activities", "extra"} and isinstance(change, Mapping)
    }
    corrected = [name for name, change in fields.items() if change.get("from") is not None]
    filled = [name for name in fields if name not in corrected]
    if corrected:
        parts.append(f"{_names(corrected)} corrected")
    if filled:
        parts.append(f"{_names(filled)} added")
    extra = changes.get("extra")
    if isinstance(extra, Mapping) and extra:
        parts.append(f"{', '.join(extra)} updated")  # the sender's own fields, as it names them
    return safe_text(" · ".join(parts) or "details updated", limit)


def _shown(score: Any) -> str:
    return "none" if score is None else str(score)


def _names(fields: Sequence[str]) -> str:
    return ", ".join(name.replace("_", " ") for name in fields)
