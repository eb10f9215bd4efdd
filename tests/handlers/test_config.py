"""Configuration: defaults that work, and one clear line naming any wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.rules import ConfigError, Route, Window
from handlers.config import load_config, load_settings
from tests.conftest import EXAMPLE_RULES


def test_defaults_work_without_a_rules_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config({})
    assert config.settings.database_url == "sqlite:///baton.db"
    assert config.settings.slack_api_url == "https://slack.com/api/"
    assert (config.settings.host, config.settings.port) == ("127.0.0.1", 3000)
    assert config.rules.channels.sales == "C0SALES0001"
    assert [policy.name for policy in config.rules.sla] == ["hot", "standard"]
    assert "other" in config.rules.reasons


def test_the_example_rules_file_is_valid_and_complete() -> None:
    config = load_config({"BATON_CONFIG": str(EXAMPLE_RULES)})
    rules = config.rules
    assert rules.hours.timezone == "America/New_York"
    assert rules.sla[0].claim == Window(15, "m")
    assert rules.sla[-1].match is None
    assert rules.roles.managers


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
        ({"BATON_PORT": "eighty"}, "BATON_PORT"),
        ({"BATON_PORT": "70000"}, "BATON_PORT"),
        ({"BATON_WEB_PROCESSES": "0"}, "BATON_WEB_PROCESSES"),
        ({"BATON_WEB_PROCESSES": "two"}, "BATON_WEB_PROCESSES"),
        ({"BATON_WEB_PROCESSES": "65"}, "BATON_WEB_PROCESSES"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({"BATON_CONFIG": "/nonexistent/baton.toml"}, "BATON_CONFIG"),
    ],
)
def test_wrong_environment_names_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(environ)
    message = str(error.value)
    assert named in message and "\n" not in message


def test_secrets_stay_out_of_repr() -> None:
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret-bot",
            "SLACK_SIGNING_SECRET": "sign-secret",
            "BATON_INTAKE_TOKEN": "intake-secret",
            "DATABASE_URL": "postgresql://baton:dbpass@db/baton",
        }
    )
    for text in (repr(settings), str(settings)):
        assert "db/baton" in text
        for secret in ("xoxb-secret-bot", "sign-secret", "intake-secret", "dbpass"):
            assert secret not in text


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        ("SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        ("BATON_INTAKE_TOKEN", "BATON_INTAKE_TOKEN"),
    ],
)
def test_serving_requires_its_secrets(missing: str, named: str) -> None:
    environ = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "BATON_INTAKE_TOKEN": "t",
    }
    del environ[missing]
    with pytest.raises(ConfigError, match=named):
        load_settings(environ).require_serving()


def test_socket_mode_needs_no_signing_secret() -> None:
    load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "BATON_INTAKE_TOKEN": "t"}
    ).require_serving()


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[hours]\ntimezone = "Mars/Olympus"', "hours.timezone"),
        ('[hours]\ndays = ["mon", "funday"]', "hours.days"),
        ('[hours]\nstart = "18:00"\nend = "09:00"', "hours"),
        ('[hours]\nstart = "9am"', "hours.start"),
        ('[channels]\nsales = "#sales"', "channels.sales"),
        ('[roles]\nmanagers = ["bob"]', "roles.managers[0]"),
        ('[[sla]]\nname = "x"\nclaim = "4 hours"\nfollow_up = "1d"', "sla[0].claim"),
        ('[[sla]]\nname = "x"\nclaim = "4h"\nfollow_up = "1d"\nremind_before = "150%"', "sla[0]"),
        (
            '[[sla]]\nname = "x"\nmatch = { intent = ["demo"] }\nclaim = "4h"\nfollow_up = "1d"',
            "sla",
        ),
        ('[[sla]]\nname = "x"\nclaim = "4h"\nfollow_up = "1d"\nmatch = { colour = "red" }', "sla"),
        ('[reasons]\n"Bad Code" = "x"', "reasons"),
        ("[reasons]\n" + "".join(f'r{n} = "R{n}"\n' for n in range(101)), "at most 100 reasons"),
        ('[digest]\ncron = "every monday"', "digest.cron"),
        ('[hours]\nholidays = "XX"', "hours: unknown holiday country 'XX'"),
        ('[hours]\nholiday_subdivision = "NY"', "'NY' given without a country"),
        ('[[routes]]\nchannel = "C0SALES0001"\nmode = "assign"', "needs a `pool` of reps"),
        ('[[routes]]\nchannel = "C0SALES0001"\nmode = "offer"', 'mode = "offer" needs a `pool`'),
        (
            '[[routes]]\nchannel = "C0SALES0001"\npool = ["U0REP000001"]\noffer_timeout = "5s"',
            "routes[0].offer_timeout",
        ),
        (
            '[[routes]]\nchannel = "C0SALES0001"\nmode = "owner"\nfallback = "assign"',
            'mode = "owner", fallback = "assign" needs a `pool` of reps',
        ),
        ('[[routes]]\nchannel = "C0SALES0001"\nfallback = "nobody"', "routes[0].fallback"),
        ('[[routes]]\nchannel = "C0SALES0001"\npause_after_missed = 0', "pause_after_missed"),
        ('[[routes]]\nchannel = "C0SALES0001"\npool = ["sam"]', "routes[0].pool[0]"),
        (
            '[[routes]]\nchannel = "C0SALES0001"\npool = ["U0REP000001"]\n'
            "weights = { U0REP000002 = 2 }",
            "weights names 'U0REP000002', not in its pool",
        ),
        (
            '[[routes]]\nchannel = "C0SALES0001"\npool = ["U0REP000001"]\n'
            "weights = { U0REP000001 = 0 }",
            "routes[0].weights.U0REP000001",
        ),
        (
            '[[routes]]\nchannel = "C0SALES0001"\npool = ["U0REP000001"]\n'
            'timezones = { U0REP000001 = "Mars/Olympus" }',
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            '[[routes]]\nchannel = "C0SALES0001"\n'
            'working_hours = { start = "17:00", end = "09:00" }',
            "routes[0].working_hours",
        ),
        ('[[routes]]\nchannel = "C0SALES0001"\ncapacity = 0', "routes[0].capacity"),
        ("[mystery]\nx = 1", "mystery"),
        ("this is not toml", "not valid TOML"),
        ('[hours]\ntimezone = "UTC"\n# caf\udce9', ":3: byte 0xE9 is not UTF-8"),
    ],
)
def test_wrong_rules_name_the_setting(tmp_path: Path, toml: str, named: str) -> None:
    path = tmp_path / "baton.toml"
    path.write_bytes(toml.encode(errors="surrogateescape"))  # \udce9: the lone byte 0xE9
    with pytest.raises(ConfigError) as error:
        load_config({"BATON_CONFIG": str(path)})
    message = str(error.value)
    assert named in message and str(path) in message and "\n" not in message


def commented_route(tmp_path: Path, name: str) -> Route:
    """The example's commented route of that name, uncommented and loaded with the example."""
    text = EXAMPLE_RULES.read_text()
    block = text[text.index(f'# name = "{name}"') - len("# [[routes]]\n") :]
    block = block[: block.index("\n\n")]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    path = tmp_path / "baton.toml"
    path.write_text(text + "\n" + uncommented + "\n")
    (route,) = load_config({"BATON_CONFIG": str(path)}).rules.routes
    return route


def test_the_commented_routing_examples_are_valid(tmp_path: Path) -> None:
    """The example's commented `assign` and `owner` routes load as docs/routing.md says."""
    route = commented_route(tmp_path, "inbound")
    assert (route.mode, route.pool_key, route.capacity) == ("assign", "inbound", 5)
    assert route.weights == {"U0REP000002": 2.0} and route.match is None
    assert (route.away_statuses, route.pause_after_missed) == ([":palm_tree:", "Out sick"], 3)
    owned = commented_route(tmp_path, "owned")
    assert (owned.mode, owned.fallback, owned.uses_pool) == ("owner", "assign", True)


def test_the_example_env_file_is_valid_as_documented(tmp_path: Path) -> None:
    """.env.example, filled in as its comments say, loads without error."""
    values = {k: v or "" for k, v in dotenv_values(EXAMPLE_RULES.parent / ".env.example").items()}
    values.update(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", BATON_INTAKE_TOKEN="t")
    settings = load_settings(values)
    settings.require_serving()
    assert not settings.config_path_explicit


def test_the_environment_wins_over_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("BATON_HOST=0.0.0.0\nBATON_PORT=8080\nSLACK_BOT_TOKEN=\nUNRELATED=x\n")
    monkeypatch.setenv("BATON_PORT", "9090")
    monkeypatch.delenv("BATON_HOST", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    settings = load_settings(env_file=env_file)
    assert (settings.host, settings.port) == ("0.0.0.0", 9090)
    assert settings.slack_bot_token is None  # blank counts as unset


def test_blank_values_count_as_unset() -> None:
    settings = load_settings({"SLACK_API_URL": "  ", "BATON_PORT": "", "BATON_HOST": " ::1 "})
    assert (settings.slack_api_url, settings.port, settings.host) == (
        "https://slack.com/api/",
        3000,
        "::1",
    )


def test_every_wrong_variable_is_named_on_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"BATON_PORT": "0", "DATABASE_URL": "mysql://baton:dbpass@db/x"})
    message = str(error.value)
    assert message.startswith("DATABASE_URL: must be a sqlite:/// or postgresql:// URL")
    assert "; BATON_PORT: must be a port number 1-65535, got '0'" in message
    assert "dbpass" not in message and "\n" not in message
