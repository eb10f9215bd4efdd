"""The reference in docs/ names every setting, id, state and kind the code defines, so a new one
cannot ship undocumented."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import Counter
from pydantic import BaseModel

from bot.lifecycle import Action
from bot.rules import Rules
from bot.slack_ids import ActionId, ViewId
from bot.webhooks import EVENT_TYPES, TEST_EVENT
from handlers import metrics
from handlers.cli import build_parser
from handlers.config import Settings
from storage.models import LeadStatus, OutboxKind, TimerKind

DOCS = Path(__file__).parents[1] / "docs"


def quoted(page: str) -> set[str]:
    """Every `code span` on a docs page, and TOML table names without their brackets."""
    spans = re.findall(r"`([^`\n]+)`", (DOCS / page).read_text(encoding="utf-8"))
    return {span.strip("[]") for span in spans} | set(spans)


def setting_keys(model: type[BaseModel]) -> Iterator[str]:
    """Every key of the rules file, nested tables included."""
    for name, field in model.model_fields.items():
        yield name
        for kind in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from setting_keys(kind)


@pytest.mark.parametrize(
    ("page", "names"),
    [
        ("configuration.md", sorted(set(setting_keys(Rules)))),
        ("configuration.md", [field.alias for field in Settings.model_fields.values()]),
        ("slack.md", [*ActionId, *ViewId]),
        ("events.md", [*LeadStatus, *Action, *OutboxKind, *TimerKind]),
        ("webhooks.md", [*EVENT_TYPES, TEST_EVENT]),
    ],
    ids=["rules keys", "environment variables", "slack ids", "lifecycle", "webhook events"],
)
def test_docs_page_names_everything_the_code_defines(page: str, names: list[str]) -> None:
    documented = quoted(page)
    missing = [str(name) for name in names if str(name) not in documented]
    assert missing == [], f"docs/{page} does not mention {missing}"


def test_every_docs_page_is_in_the_index() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    pages = sorted(path.name for path in DOCS.glob("*.md") if path.name != "README.md")
    assert [page for page in pages if f"({page})" not in index] == []


def test_every_metric_is_in_the_http_reference() -> None:
    counters = [value for value in vars(metrics).values() if isinstance(value, Counter)]
    names = [f"{counter.describe()[0].name}_total" for counter in counters]
    documented = quoted("http-api.md")
    assert len(names) >= 5
    assert [name for name in names if name not in documented] == []


def test_every_command_line_option_is_in_the_readme() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    documented = {option for span in re.findall(r"`([^`\n]+)`", readme) for option in span.split()}
    documented |= {option.strip("[]") for option in documented}
    options = sorted(_options(build_parser(), "baton"))
    assert len(options) >= 10  # the walk finds the subcommands' options
    assert [(command, option) for command, option in options if option not in documented] == []


def _options(parser: argparse.ArgumentParser, command: str) -> Iterator[tuple[str, str]]:
    """(command, --option) for every long option of `command` and of its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _options(subparser, f"{command} {name}")
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                yield command, option
