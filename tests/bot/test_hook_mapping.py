"""Hook mappings: what a sender's JSON becomes, and which configurations stop start-up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import hook_mapping
from bot.errors import InvalidInput
from bot.hook_mapping import FieldSource
from bot.rules import ConfigError, parse_rules

SALESFORCE = {
    "auth": "bearer",
    "secret_env": "SF_TOKEN",
    "fields": {
        "external_id": "Lead.Id",
        "name": {"paths": ["Lead.FirstName", "Lead.LastName"], "separator": " "},
        "email": "Lead.Email",
        "company": "Lead.Account.Name",
        "phone": "Lead.Phones.1",
        "source": {"value": "salesforce"},
        "crm_url": {"template": "https://acme.my.salesforce.com/{Lead.Id}"},
    },
}


def fields_of(source: dict[str, Any]) -> dict[str, FieldSource]:
    return dict(
        parse_rules({"hooks": {"salesforce": source}}, source="baton.toml")
        .hooks["salesforce"]
        .fields
    )


def test_paths_joins_constants_and_templates_fill_lead_fields() -> None:
    document = {
        "Lead": {
            "Id": "00Q1",
            "FirstName": "Ada",
            "LastName": " ",
            "Email": "ada@example.com",
            "Account": {"Name": "Engines"},
            "Phones": ["+1 555 0100", "+1 555 0199"],
        }
    }

    payload = hook_mapping.map_document(document, fields_of(SALESFORCE), source="salesforce")

    assert payload == {
        "external_id": "salesforce:00Q1",
        "name": "Ada",  # a blank part leaves no stray separator
        "email": "ada@example.com",
        "company": "Engines",
        "phone": "+1 555 0199",
        "source": "salesforce",
        "crm_url": "https://acme.my.salesforce.com/00Q1",
    }


def test_absent_paths_leave_fields_out_and_a_template_unfilled() -> None:
    payload = hook_mapping.map_document(
        {"Lead": {"Id": 7, "Phones": "not a list"}}, fields_of(SALESFORCE), source="salesforce"
    )

    assert payload == {"external_id": "salesforce:7", "source": "salesforce"} | {
        "crm_url": "https://acme.my.salesforce.com/7"
    }


def test_without_an_external_id_the_delivery_id_keys_the_lead() -> None:
    fields = {"name": FieldSource(path="name")}

    keyed = hook_mapping.map_document({"name": "A"}, fields, source="zap", delivery_id="msg_1")
    with pytest.raises(InvalidInput) as missing:
        hook_mapping.map_document({"name": "A"}, fields, source="zap")

    assert keyed["external_id"] == "zap:msg_1"
    assert missing.value.errors == {"external_id": "Field required (from the mapping)"}


def test_a_hubspot_contact_and_a_flat_body_map_alike() -> None:
    contact = {
        "vid": 123,
        "portal-id": 456,
        "properties": {
            "email": {"value": "a@b.example"},
            "firstname": {"value": "Ada"},
            "lastname": {"value": "Lovelace"},
            "hubspotscore": {"value": "42"},
        },
    }
    flat = {
        "hs_object_id": "123",
        "email": "a@b.example",
        "firstname": "Ada",
        "lastname": "Lovelace",
    }
    fields = hook_mapping.hubspot_fields({})

    from_contact = hook_mapping.map_document(
        hook_mapping.hubspot_properties(contact), fields, source="hubspot"
    )
    from_flat = hook_mapping.map_document(
        hook_mapping.hubspot_properties(flat), fields, source="hubspot"
    )

    assert from_contact == {
        "external_id": "hubspot:123",
        "name": "Ada Lovelace",
        "email": "a@b.example",
        "score": "42",
        "source": "hubspot",
        "crm_url": "https://app.hubspot.com/contacts/456/record/0-1/123",
    }
    assert from_flat == {
        key: value for key, value in from_contact.items() if key not in ("score", "crm_url")
    }


def test_hubspot_overrides_replace_defaults_field_by_field() -> None:
    rules = parse_rules(
        {"hooks": {"hubspot": {"fields": {"source": "hs_analytics_source", "score": []}}}},
        source="baton.toml",
    )
    fields = hook_mapping.hubspot_fields(rules.hooks["hubspot"].fields)

    payload = hook_mapping.map_document(
        {"hs_object_id": 1, "hs_analytics_source": "ORGANIC_SEARCH", "hubspotscore": 250},
        fields,
        source="hubspot",
    )

    assert payload == {"external_id": "hubspot:1", "source": "ORGANIC_SEARCH"}


def test_refusals_name_the_source_path() -> None:
    refused = InvalidInput({"email": "not a valid email address", "notes": "too long"})

    explained = hook_mapping.explain(refused, fields_of(SALESFORCE))

    assert explained.errors == {
        "email": "not a valid email address (from Lead.Email)",
        "notes": "too long",
    }


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"x": {**SALESFORCE, "fields": {"name": "a"}}}, "'x': map external_id"),
        ({"x": {"fields": {"external_id": "id"}}}, "'x': needs auth and secret_env"),
        ({"Bad Name": SALESFORCE}, "a source name is lower-case"),
        ({"hubspot": {"auth": "bearer"}}, "HubSpot is authenticated by its signature"),
        ({"x": {**SALESFORCE, "auth": "basic"}}, "hooks.x.auth"),
        (
            {"x": {**SALESFORCE, "fields": {"external_id": {"path": "a", "value": "b"}}}},
            "exactly one of path, paths, value or template",
        ),
    ],
)
def test_a_configuration_that_cannot_work_stops_start_up_in_one_line(
    hooks: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_rules({"hooks": hooks}, source="baton.toml")

    assert message in str(error.value) and "\n" not in str(error.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(document=json_values, path=st.text(alphabet="ab.0", max_size=6))
def test_any_document_and_path_give_a_value_or_nothing(document: Any, path: str) -> None:
    """A lookup never raises, whatever the sender's JSON holds."""
    hook_mapping.lookup(document, path)


@given(document=json_values)
def test_any_document_maps_to_a_payload_or_a_clear_refusal(document: Any) -> None:
    fields = hook_mapping.hubspot_fields({})
    try:
        payload = hook_mapping.map_document(
            hook_mapping.hubspot_properties(document), fields, source="hubspot"
        )
    except InvalidInput as invalid:
        assert set(invalid.errors) <= {"body", "external_id"}
    else:
        assert payload["external_id"].startswith("hubspot:")
