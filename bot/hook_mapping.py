"""Inbound hooks as data: how `baton.toml` maps a sender's JSON onto Baton's lead fields, and the
pure functions that apply such a mapping (HubSpot's default included).

A mapping turns a document into the payload `bot.intake` validates; a value the intake refuses is
reported under the Baton field with the source path it came from, so a sender can fix its side.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from bot.errors import InvalidInput

HUBSPOT = "hubspot"
# Where a HubSpot contact's record opens, from the portal and the contact id.
HUBSPOT_RECORD_URL = "https://app.hubspot.com/contacts/{portal-id}/record/0-1/{hs_object_id}"
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _shorthand(value: Any) -> Any:
    """`"Lead.Email"` is one path, `["first", "last"]` a join; a table says more."""
    if isinstance(value, str):
        return {"path": value}
    if isinstance(value, list):
        return {"paths": value}
    return value


class FieldSource(BaseModel):
    """Where one Baton field comes from: a path, paths joined, a constant, or a URL template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    paths: list[str] | None = None
    separator: str = " "
    value: str | int | None = None
    template: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FieldSource:
        given = [self.path, self.paths, self.value, self.template]
        if sum(kind is not None for kind in given) != 1:
            raise ValueError("give exactly one of path, paths, value or template")
        return self

    def describe(self) -> str:
        """The source as an error message names it."""
        if self.path is not None:
            return self.path
        if self.paths is not None:
            return " + ".join(self.paths)
        if self.template is not None:
            return self.template
        return "a constant"


Fields = dict[str, Annotated[FieldSource, BeforeValidator(_shorthand)]]


class HookSource(BaseModel):
    """One sender configured under `[hooks.<name>]`: how it authenticates and its field mapping.

    `[hooks.hubspot]` takes `fields` only (they override the default mapping): HubSpot's own
    signature or the intake token authenticates it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: Literal["bearer", "standard-webhooks"] | None = None
    secret_env: str | None = None
    fields: Fields = Field(default_factory=dict)


def check_sources(sources: Mapping[str, HookSource]) -> None:
    """ValueError naming the first source whose name, authentication or ids cannot work."""
    for name, source in sources.items():
        where = repr(name)
        if not _SOURCE_NAME.match(name):
            raise ValueError(f"{where}: a source name is lower-case letters, digits, - and _")
        if name == HUBSPOT:
            if source.auth is not None or source.secret_env is not None:
                raise ValueError(f"{where}: HubSpot is authenticated by its signature; give fields")
            continue
        if source.auth is None or source.secret_env is None:
            raise ValueError(f"{where}: needs auth and secret_env")
        if source.auth == "bearer" and "external_id" not in source.fields:
            raise ValueError(f"{where}: map external_id (a bearer sender carries no delivery id)")


def check_targets(sources: Mapping[str, HookSource], lead_fields: Iterable[str]) -> None:
    """ValueError naming the first mapped field that is no lead field Baton takes (activities
    are a list, not a value a path names).

    The caller passes bot.intake's fields: the rules this module is part of are read before
    the intake that needs them, so it cannot import the intake itself.
    """
    mappable = set(lead_fields) - {"activities"}
    for name, source in sources.items():
        unknown = sorted(set(source.fields) - mappable)
        if unknown:
            raise ValueError(f"hooks.{name}.fields: {unknown[0]!r} is not a lead field")


HUBSPOT_FIELDS: dict[str, FieldSource] = {
    "external_id": FieldSource(path="hs_object_id"),
    "name": FieldSource(paths=["firstname", "lastname"]),
    "email": FieldSource(path="email"),
    "phone": FieldSource(path="phone"),
    "title": FieldSource(path="jobtitle"),
    "company": FieldSource(path="company"),
    "company_size": FieldSource(path="numemployees"),
    "industry": FieldSource(path="industry"),
    "country": FieldSource(path="country"),
    "score": FieldSource(path="hubspotscore"),
    "source": FieldSource(value=HUBSPOT),
    "crm_url": FieldSource(template=HUBSPOT_RECORD_URL),
}


def hubspot_fields(overrides: Mapping[str, FieldSource]) -> dict[str, FieldSource]:
    """The default HubSpot mapping with `[hooks.hubspot.fields]` laid over it, field by field."""
    return {**HUBSPOT_FIELDS, **overrides}


def hubspot_properties(document: Any) -> Any:
    """A HubSpot workflow body as one flat object of properties.

    "Include all properties" sends the contact (`{"vid": 1, "portal-id": 2, "properties":
    {"email": {"value": ...}}}`); a customised body sends the properties flat, perhaps still as
    `{"value": ...}`. Either way the contact id is `hs_object_id` (from `vid` when absent).
    """
    if not isinstance(document, dict):
        return document
    properties = document.get("properties")
    flat = {name: value for name, value in document.items() if name != "properties"}
    if isinstance(properties, dict):
        flat.update(properties)
    flat = {name: _unwrapped(value) for name, value in flat.items()}
    if flat.get("hs_object_id") in (None, "") and "vid" in flat:
        flat["hs_object_id"] = flat["vid"]
    return flat


def _unwrapped(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and "value" in value else value


def map_document(
    document: Any,
    fields: Mapping[str, FieldSource],
    *,
    source: str,
    delivery_id: str | None = None,
) -> dict[str, Any]:
    """The lead payload `fields` takes out of `document`, its external_id namespaced by `source`
    (`hubspot:123`), or `source:<delivery_id>` where the mapping gives none.

    InvalidInput when the document is not an object or holds no usable external id.
    """
    if not isinstance(document, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    payload: dict[str, Any] = {}
    for target, field_source in fields.items():
        value = _extract(document, field_source)
        if value is not None:
            payload[target] = value
    external_id = payload.get("external_id", delivery_id)
    where = fields["external_id"].describe() if "external_id" in fields else "the mapping"
    if external_id is None or (isinstance(external_id, str) and not external_id.strip()):
        raise InvalidInput({"external_id": f"Field required (from {where})"})
    if not isinstance(external_id, str | int) or isinstance(external_id, bool):
        raise InvalidInput({"external_id": f"must be text or a whole number (from {where})"})
    payload["external_id"] = f"{source}:{str(external_id).strip()}"
    return payload


def explain(invalid: InvalidInput, fields: Mapping[str, FieldSource]) -> InvalidInput:
    """The intake's field errors, each saying which source path the refused value came from."""
    errors = {}
    for name, problem in invalid.errors.items():
        field_source = fields.get(name.split(".")[0])
        errors[name] = (
            problem if field_source is None else f"{problem} (from {field_source.describe()})"
        )
    return InvalidInput(errors)


def _extract(document: Mapping[str, Any], field_source: FieldSource) -> Any:
    if field_source.value is not None:
        return field_source.value
    if field_source.path is not None:
        return lookup(document, field_source.path)
    if field_source.paths is not None:
        parts = [_text(lookup(document, path)) for path in field_source.paths]
        joined = field_source.separator.join(part for part in parts if part)
        return joined or None
    assert field_source.template is not None
    return _filled(document, field_source.template)


def _filled(document: Mapping[str, Any], template: str) -> str | None:
    """The template with each `{path}` filled in, or None when a path holds nothing."""
    values = {path: _text(lookup(document, path)) for path in _PLACEHOLDER.findall(template)}
    if not all(values.values()):
        return None
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _text(value: Any) -> str:
    """A scalar as text for a join; nothing for what is absent, blank or not a scalar."""
    if value is None or isinstance(value, dict | list | bool):
        return ""
    return str(value).strip()


def lookup(document: Any, path: str) -> Any:
    """The value at a dotted path (`Lead.Email`, `contacts.0.email`), or None where it is absent.

    A key holding dots itself is found whole first, so HubSpot-style names need no escaping.
    """
    if isinstance(document, dict) and path in document:
        return document[path]
    head, dot, rest = path.partition(".")
    if isinstance(document, dict):
        child = document.get(head)
    elif isinstance(document, list) and head.isdigit() and int(head) < len(document):
        child = document[int(head)]
    else:
        return None
    return lookup(child, rest) if dot else child
