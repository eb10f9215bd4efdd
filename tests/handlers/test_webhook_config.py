"""`[[webhooks]]` endpoints: checked at start-up, their secrets read from the variables they
name; anything wrong is one line naming the key or the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rules import ConfigError
from handlers.config import load_config
from tests.webhook_receiver import OLD_SECRET, SECRET, webhook_toml

URL = "https://crm.example/hooks/baton"


def rules_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "baton.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_endpoint_subscribes_to_what_its_patterns_name_and_signs_with_every_secret(
    tmp_path: Path,
) -> None:
    config = load_config(
        {
            "BATON_CONFIG": rules_file(tmp_path, webhook_toml(URL, events='["lead.re*", "sla.*"]')),
            "RECEIVER_SECRET": f" {SECRET}  {OLD_SECRET} ",
        }
    )
    (endpoint,) = config.rules.webhooks
    assert endpoint.event_types == [
        "lead.recycled",
        "lead.rejected",
        "lead.released",
        "lead.reopened",
        "sla.reminded",
        "sla.breached",
    ]
    assert (endpoint.retry_hours, endpoint.timeout_seconds) == (24.0, 10.0)
    assert config.webhook_secrets == {"crm": (SECRET, OLD_SECRET)}
    assert SECRET not in repr(config)


@pytest.mark.parametrize(
    ("toml", "secret", "message"),
    [
        (webhook_toml(URL), None, "RECEIVER_SECRET is required: webhooks 'crm' names it"),
        (webhook_toml(URL), "not-a-secret", "RECEIVER_SECRET: not a Standard Webhooks secret"),
        (webhook_toml(URL), f"{SECRET} whsec_%%%", "RECEIVER_SECRET: not a Standard Webhooks"),
        (webhook_toml(URL, events='["leads.*"]'), SECRET, "webhooks[0].events: 'leads.*' names"),
        (webhook_toml(URL, events="[]"), SECRET, "webhooks[0].events: List should have at"),
        (webhook_toml("crm.example/x"), SECRET, "webhooks[0].url: must be an http(s) URL"),
        (webhook_toml(URL, retry_hours=0), SECRET, "webhooks[0].retry_hours: Input should be"),
        (webhook_toml(URL, secret="x"), SECRET, "webhooks[0].secret: unknown setting"),
        (webhook_toml(URL) + webhook_toml(URL), SECRET, "webhooks: endpoint name 'crm' is used"),
        (
            webhook_toml(URL).replace('"crm"', '"hubspot"'),
            SECRET,
            "webhooks[0].name: 'hubspot' is reserved for the HubSpot write-back",
        ),
        (
            "[hubspot]\nowner_property = 'Owner'\n",
            SECRET,
            "hubspot.owner_property: 'Owner' is not a HubSpot property",
        ),
    ],
)
def test_a_wrong_endpoint_stops_start_up_with_one_line(
    tmp_path: Path, toml: str, secret: str | None, message: str
) -> None:
    environ = {"BATON_CONFIG": rules_file(tmp_path, toml)}
    if secret is not None:
        environ["RECEIVER_SECRET"] = secret
    with pytest.raises(ConfigError) as raised:
        load_config(environ)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert SECRET not in str(raised.value)
