"""Imports go one way, handlers -> bot -> storage, so the domain stays free of Slack and HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BATON = ("bot", "handlers", "storage")
FORBIDDEN = {
    "bot": (
        "handlers",
        "slack_bolt",
        "fastapi",
        "starlette",
        "uvicorn",
        "slack_emulator",
        "slack_driver",
    ),
    "storage": ("bot", "handlers", "slack_bolt", "slack_sdk", "fastapi", "starlette"),
    # The stand-ins for Slack know nothing of Baton; the driver nothing of the emulator.
    "slack_emulator": BATON,
    "slack_driver": (*BATON, "slack_emulator"),
}
# `python -m bot` must start the CLI, which is an adapter; this one file is the entry point.
ENTRY_POINTS = {ROOT / "bot" / "__main__.py"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_does_not_import_outer_layers(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if path in ENTRY_POINTS:
            continue
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                offences.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offences == []
