"""The Slack app manifest asks for what Baton's code uses: its listeners and its API calls."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
MANIFEST = (ROOT / "slack-app-manifest.yml").read_text()
# Web API methods Baton calls, and the bot scope each needs.
SCOPE_OF = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "channels:history",
    "usergroups_users_list": "usergroups:read",
    "users_info": "users:read",
    "users_lookupByEmail": "users:read.email",
    "files_upload_v2": "files:write",
}


def called_methods() -> set[str]:
    methods: set[str] = set()
    for path in (ROOT / "handlers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and re.match(r"^[a-z]+_[a-zA-Z0-9_]+$", node.attr):
                methods.add(node.attr)
    return methods


def test_every_scope_baton_needs_is_requested() -> None:
    bot_scopes = MANIFEST.split("    bot:\n", 1)[1].split("settings:", 1)[0]
    scopes = set(re.findall(r"^\s+- ([a-z_:.]+)", bot_scopes, re.MULTILINE))
    needed = {SCOPE_OF[m] for m in called_methods() if m in SCOPE_OF} | {"commands"}
    assert needed <= scopes
    # private sales channels (users:read.email also gives users.info the HubSpot write-back's
    # emails)
    assert scopes - needed <= {"groups:history"}


def test_the_listeners_baton_registers_are_declared() -> None:
    assert "command: /leads" in MANIFEST
    assert "app_home_opened" in MANIFEST and "home_tab_enabled: true" in MANIFEST
    assert "- user_change" in MANIFEST
    assert MANIFEST.count("/slack/events") == 3  # events, interactivity, the slash command
