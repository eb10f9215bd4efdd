"""Configuration as Baton starts: deployment settings (tokens, addresses, the database) from the
environment and `.env`, and the rules from the TOML file they name.

Anything wrong stops start-up with a ConfigError whose message is one line naming the variable,
the file or the key. The rules themselves (what the TOML may say) are the domain's: bot.rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from bot import hook_mapping, intake
from bot.rules import ConfigError, Rules, rules_from_toml
from bot.validation import one_line
from handlers.text_files import UnreadableFile, decode_utf8
from storage.db import url_problem

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_HUBSPOT_API_URL = "https://api.hubapi.com"
DEFAULT_DATABASE_URL = "sqlite:///baton.db"
DEFAULT_CONFIG_PATH = Path("baton.toml")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
MAX_WEB_PROCESSES = 64  # more than any machine Baton runs on has cores to give them
# Slack's tokens say what they are by their prefix.
_TOKEN_KINDS = {
    "slack_bot_token": ("a bot token", "xoxb-"),
    "slack_app_token": ("an app-level token", "xapp-"),
}


class Settings(BaseSettings):
    """Deployment settings: secrets and addresses, each from the environment variable its alias
    names (a real environment variable wins over `.env`; a blank value counts as unset)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    # Secrets are left out of repr() and str(), so they never reach a log line.

    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN", repr=False)
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET", repr=False)
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN", repr=False)
    slack_api_url: str = Field(DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    config_file: Path | None = Field(None, alias="BATON_CONFIG")
    intake_token: str | None = Field(None, alias="BATON_INTAKE_TOKEN", repr=False)
    hubspot_client_secret: str | None = Field(None, alias="HUBSPOT_CLIENT_SECRET", repr=False)
    # A HubSpot private app's token: when set, decisions are written back (bot.hubspot).
    hubspot_access_token: str | None = Field(None, alias="HUBSPOT_ACCESS_TOKEN", repr=False)
    hubspot_api_url: str = Field(DEFAULT_HUBSPOT_API_URL, alias="HUBSPOT_API_URL")
    host: str = Field(DEFAULT_HOST, alias="BATON_HOST")
    port: int = Field(DEFAULT_PORT, alias="BATON_PORT")
    # Where `baton serve` runs Slack delivery (handlers.serve.delivery_mode): "auto" is a child
    # process (a thread for a SQLite database in memory); "child", a process of its own;
    # "inline", a thread of the server's process; "separate", nowhere: `baton deliver` runs
    # apart (another container, another host).
    delivery: Literal["auto", "child", "inline", "separate"] = Field("auto", alias="BATON_DELIVERY")
    # How many processes of `baton serve` answer HTTP on its port (handlers.web_processes):
    # one process answers on one core; more share the port, each on a core of its own.
    web_processes: int = Field(1, alias="BATON_WEB_PROCESSES")

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, values: Any) -> Any:
        """A template's `SLACK_BOT_TOKEN=` line sets nothing; values are taken trimmed."""
        if not isinstance(values, Mapping):
            return values
        return {
            name: value.strip() if isinstance(value, str) else value
            for name, value in values.items()
            if not isinstance(value, str) or value.strip()
        }

    @field_validator(*_TOKEN_KINDS)
    @classmethod
    def _token_kind(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A token of the wrong kind (a user token for the bot's) fails here, not at Slack."""
        assert info.field_name is not None
        kind, prefix = _TOKEN_KINDS[info.field_name]
        if value is not None and not value.startswith(prefix):
            raise ValueError(f"must be {kind} starting with {prefix}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _check_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("hubspot_api_url")
    @classmethod
    def _hubspot_url(cls, value: str) -> str:
        """The client appends paths starting with `/` to it."""
        _check_http_url(value)
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(f"{problem}, got {redact_url(value)!r}")
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> int:
        text = str(value)
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise ValueError(f"must be a port number 1-65535, got {text!r}")
        return int(text)

    @field_validator("web_processes", mode="before")
    @classmethod
    def _web_processes(cls, value: Any) -> int:
        text = str(value)
        if not text.isdigit() or not 0 < int(text) <= MAX_WEB_PROCESSES:
            raise ValueError(f"must be a whole number 1-{MAX_WEB_PROCESSES}, got {text!r}")
        return int(text)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def hubspot_write_back(self) -> bool:
        """Decisions are written back to HubSpot (a private app's token is set)."""
        return self.hubspot_access_token is not None

    @property
    def config_path(self) -> Path:
        return self.config_file or DEFAULT_CONFIG_PATH

    @property
    def config_path_explicit(self) -> bool:
        """BATON_CONFIG was set: then its file must exist (unset, a missing baton.toml means
        the built-in defaults)."""
        return self.config_file is not None

    def require_delivering(self) -> None:
        """Check what `baton deliver` cannot run without."""
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is required to serve (the bot token, xoxb-...)")

    def require_serving(self) -> None:
        """Check what `baton serve` cannot run without."""
        self.require_delivering()
        if not self.socket_mode and not self.slack_signing_secret:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (Basic Information page of the "
                "Slack app); or set SLACK_APP_TOKEN for Socket Mode"
            )
        if not self.intake_token:
            raise ConfigError(
                "BATON_INTAKE_TOKEN is required to serve (the bearer token of POST /api/leads)"
            )

    def __repr_args__(self) -> Any:
        """The printed form masks the database password too."""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "database_url" else value


def _check_http_url(value: str) -> None:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an http(s) URL, got {value!r}")


def load_settings(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = None
) -> Settings:
    """The settings `environ` gives (tests, the demo), or else the process environment's over
    `env_file`'s. A file that is missing sets nothing; one that cannot be read stops start-up."""
    try:
        if environ is not None:
            return Settings.model_validate(environ)  # validation alone: no other source
        readable = env_file if env_file is not None and _check_env_file(env_file) else None
        return Settings(_env_file=readable, _env_file_encoding="utf-8-sig")
    except ValidationError as error:
        raise ConfigError(one_line(error)) from None


def _check_env_file(path: Path) -> bool:
    """Whether `path` exists; ConfigError naming its line when it is not UTF-8 text."""
    try:
        decode_utf8(path.read_bytes())
    except FileNotFoundError:
        return False
    except UnreadableFile as error:
        raise ConfigError(f"{path}:{error.line}: {error.problem}") from None
    except OSError as error:
        raise ConfigError(f"--env-file: cannot read {str(path)!r}: {error.strerror}") from None
    return True


def read_rules(path: Path, *, explicit: bool) -> Rules:
    """Read the TOML rules; a missing file is fine only when nobody named it (defaults apply)."""
    if not path.exists():
        if explicit:
            raise ConfigError(f"BATON_CONFIG: file {str(path)!r} does not exist")
        return Rules()
    try:
        text = decode_utf8(path.read_bytes())
    except UnreadableFile as error:
        raise ConfigError(f"{path}:{error.line}: {error.problem}") from None
    except OSError as error:
        raise ConfigError(f"BATON_CONFIG: cannot read {str(path)!r}: {error.strerror}") from None
    rules = rules_from_toml(text, source=str(path))
    try:
        hook_mapping.check_targets(rules.hooks, intake.FIELD_NAMES)
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from None
    return rules


def _signing_secret(secret: str) -> bool:
    try:
        Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # binascii.Error is a ValueError
        return False
    return True


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for a log line or an error message."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


@dataclass(frozen=True)
class Config:
    settings: Settings
    rules: Rules
    # The secret of each `[hooks.<name>]` sender, from the variable its secret_env names.
    hook_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    # The signing secrets of each `[[webhooks]]` endpoint by name (several during a rotation).
    webhook_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)


def load_config(
    environ: Mapping[str, str] | None = None, *, env_file: Path | None = None
) -> Config:
    settings = load_settings(environ, env_file=env_file)
    rules = read_rules(settings.config_path, explicit=settings.config_path_explicit)
    variables = environ if environ is not None else _environment(env_file)
    return Config(
        settings, rules, hook_secrets(rules, variables), webhook_secrets(rules, variables)
    )


def _environment(env_file: Path | None) -> dict[str, str]:
    """The process environment over `.env`, as Settings reads them (checked by load_settings)."""
    if env_file is None or not env_file.exists():
        return dict(os.environ)
    from_file = dotenv_values(env_file, encoding="utf-8-sig")
    return {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}


def hook_secrets(rules: Rules, environ: Mapping[str, str]) -> dict[str, str]:
    """Each configured sender's secret; ConfigError naming the first variable that is unset."""
    secrets = {}
    for name, source in rules.hooks.items():
        if source.secret_env is None:
            continue
        secret = environ.get(source.secret_env, "").strip()
        if not secret:
            raise ConfigError(
                f"{source.secret_env} is required: hooks.{name}.secret_env names it "
                f"(the {source.auth} secret of POST /api/hooks/{name})"
            )
        if source.auth == "standard-webhooks" and not _signing_secret(secret):
            raise ConfigError(
                f"{source.secret_env}: not a Standard Webhooks secret (whsec_ and base64)"
            )
        secrets[name] = secret
    return secrets


def webhook_secrets(rules: Rules, environ: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Each outbound endpoint's `whsec_` secrets, space-separated in the variable its
    secret_env names (the new one and the old one while receivers rotate); ConfigError naming
    the first variable that is unset or holds something else."""
    secrets = {}
    for endpoint in rules.webhooks:
        values = tuple(environ.get(endpoint.secret_env, "").split())
        if not values:
            raise ConfigError(
                f"{endpoint.secret_env} is required: webhooks {endpoint.name!r} names it "
                "(its whsec_ signing secret)"
            )
        if not all(value.startswith("whsec_") and _signing_secret(value) for value in values):
            raise ConfigError(
                f"{endpoint.secret_env}: not a Standard Webhooks secret (whsec_ and base64; "
                "several are separated by spaces)"
            )
        secrets[endpoint.name] = values
    return secrets
