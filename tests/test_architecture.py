"""Imports go one way, handlers -> bot -> storage, so the domain stays free of Slack and HTTP:
the state machine at its heart loads no Slack library, bot/ has no import cycle, and the
adapters in handlers/ hold no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BATON = ("bot", "handlers", "storage")
# Settings from the environment belong to the adapters: the domain reads no environment.
ENVIRONMENT_LIBRARIES = ("dotenv", "pydantic_settings")
FORBIDDEN = {
    "bot": (
        *ENVIRONMENT_LIBRARIES,
        "handlers",
        "slack_bolt",
        "fastapi",
        "starlette",
        "uvicorn",
        "slack_emulator",
        "slack_driver",
    ),
    "storage": (
        *ENVIRONMENT_LIBRARIES,
        "bot",
        "handlers",
        "slack_bolt",
        "slack_sdk",
        "fastapi",
        "starlette",
    ),
    # The stand-ins for Slack know nothing of Baton; the driver nothing of the emulator.
    "slack_emulator": BATON,
    "slack_driver": (*BATON, "slack_emulator"),
}
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt", "slack")
FILE_CALLS = {"open", "read_bytes", "read_text", "write_bytes", "write_text"}
STATE_MACHINE = "bot.lifecycle"
# What handlers may take from SQLAlchemy, and the session calls that run SQL.
HANDLER_SQLALCHEMY_NAMES = {("sqlalchemy.orm", "Session")}
SQL_CALLS = {"execute", "scalar", "scalars", "exec_driver_sql"}
# `python -m bot` must start the CLI, which is an adapter; this one file is the entry point.
ENTRY_POINTS = {ROOT / "bot" / "__main__.py"}


def module_path(module: str) -> Path | None:
    """The file of one of this repository's modules, or None for a library's."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import stands (TYPE_CHECKING blocks and
    function bodies included); `from bot import x` counts as importing `bot.x`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if module_path(submodule) is not None:
                    names.add(submodule)
    return names


def bot_imports(module: str) -> set[str]:
    """The modules of bot/ that `module` imports directly."""
    path = module_path(module)
    assert path is not None, module
    return {
        name
        for name in imported_modules(path)
        if name.startswith("bot.") and module_path(name) is not None
    }


def bot_modules() -> list[str]:
    return sorted(
        f"bot.{path.stem}" for path in (ROOT / "bot").glob("*.py") if path not in ENTRY_POINTS
    )


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


@pytest.mark.parametrize("package", ["bot", "storage"])
def test_the_inner_layers_read_no_environment(package: str) -> None:
    """Settings are read once, by handlers.config, and handed in: no `os.environ` or `getenv`
    below the adapters."""
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
            if name in ("environ", "getenv", "environb", "putenv"):
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} uses {name}")
    assert offences == []


def test_the_domain_reads_and_writes_no_file() -> None:
    """Files (CSV imports and exports, the rules file, .env) are read and written by adapters;
    bot/ takes and gives their text."""
    offences = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            called = node.func if isinstance(node, ast.Call) else None
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if name in FILE_CALLS:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()")
    assert offences == []


def test_the_state_machine_loads_no_slack_library() -> None:
    """The lifecycle names what happened; the words and blocks for Slack are built elsewhere."""
    reached, waiting = set(), [STATE_MACHINE]
    offences = []
    while waiting:
        module = waiting.pop()
        if module in reached:
            continue
        reached.add(module)
        path = module_path(module)
        assert path is not None
        for name in imported_modules(path):
            if name.split(".")[0] in SLACK_LIBRARIES:
                offences.append(f"{module} imports {name}")
        waiting.extend(bot_imports(module))
    assert "bot.outbox" in reached  # the walk follows `from bot import x`
    assert offences == []


def test_no_import_cycles_inside_bot() -> None:
    """The data path runs one way (handlers -> lifecycle -> timers; sweep -> lifecycle), with no
    cycle hidden behind TYPE_CHECKING or inside a function either."""
    graph = {module: bot_imports(module) for module in bot_modules()}
    cycles = []
    state: dict[str, str] = {}  # "open" while on the current path, "done" once explored

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [module])
    assert "bot.lifecycle" in graph["bot.sla_sweep"]  # the walk sees the sweep's import
    assert cycles == []


def test_handlers_hold_no_sql() -> None:
    """Adapters call the domain; every query lives in storage/. A handler may name a Session
    (to hand one on) but builds no statement and executes none."""
    offences = []
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                offences += [
                    f"{where} imports {alias.name}"
                    for alias in node.names
                    if alias.name.split(".")[0] == "sqlalchemy"
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                offences += [
                    f"{where} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if (node.module, alias.name) not in HANDLER_SQLALCHEMY_NAMES
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
            ):
                offences.append(f"{where}:{node.lineno} calls .{node.func.attr}()")
    assert offences == []
