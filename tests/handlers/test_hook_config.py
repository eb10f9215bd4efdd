"""Hook senders' secrets: read at start-up from the variables baton.toml names, or one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rules import ConfigError
from handlers.config import load_config

RULES = """
[hooks.zapier]
auth = "{auth}"
secret_env = "ZAPIER_HOOK_SECRET"
fields = {{ external_id = "id", name = "name" }}
"""


def rules_file(tmp_path: Path, auth: str = "bearer") -> str:
    path = tmp_path / "baton.toml"
    path.write_text(RULES.format(auth=auth), encoding="utf-8")
    return str(path)


def test_a_senders_secret_comes_from_the_variable_it_names(tmp_path: Path) -> None:
    config = load_config({"BATON_CONFIG": rules_file(tmp_path), "ZAPIER_HOOK_SECRET": " s3 "})

    assert config.hook_secrets == {"zapier": "s3"}
    assert "s3" not in repr(config)


def test_the_named_variable_may_be_in_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZAPIER_HOOK_SECRET", raising=False)
    monkeypatch.delenv("BATON_CONFIG", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"BATON_CONFIG={rules_file(tmp_path)}\nZAPIER_HOOK_SECRET=from-the-file\n", encoding="utf-8"
    )

    assert load_config(env_file=env_file).hook_secrets == {"zapier": "from-the-file"}


@pytest.mark.parametrize(
    ("auth", "secret", "named"),
    [
        ("bearer", "", "ZAPIER_HOOK_SECRET is required: hooks.zapier.secret_env names it"),
        ("standard-webhooks", "whsec_!!!", "ZAPIER_HOOK_SECRET: not a Standard Webhooks secret"),
        ("standard-webhooks", "whsec_not base64", "not a Standard Webhooks secret"),
    ],
)
def test_a_missing_or_unusable_secret_stops_start_up_in_one_line(
    tmp_path: Path, auth: str, secret: str, named: str
) -> None:
    environ = {"BATON_CONFIG": rules_file(tmp_path, auth), "ZAPIER_HOOK_SECRET": secret}

    with pytest.raises(ConfigError) as error:
        load_config(environ)

    assert named in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("field", ["nmae", "activities"])
def test_a_field_baton_does_not_take_stops_start_up_in_one_line(tmp_path: Path, field: str) -> None:
    path = tmp_path / "baton.toml"
    path.write_text(f'[hooks.hubspot.fields]\n{field} = "x"\n', encoding="utf-8")

    with pytest.raises(ConfigError) as error:
        load_config({"BATON_CONFIG": str(path)})

    assert str(error.value) == f"{path}: hooks.hubspot.fields: {field!r} is not a lead field"
