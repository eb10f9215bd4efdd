"""auth.test: who the token belongs to (Bolt calls it when an App is built)."""

from typing import Any

from slack_emulator.errors import Args
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def auth_test(store: Store, _args: Args) -> dict[str, Any]:
    team, bot = store.workspace.team, store.workspace.bot
    return {
        "ok": True,
        "url": f"https://{team.domain}.slack.com/",
        "team": team.name,
        "user": bot.name,
        "team_id": team.id,
        "user_id": bot.user_id,
        "bot_id": bot.bot_id,
        "is_enterprise_install": False,
    }


HANDLERS: dict[str, Handler] = {"auth.test": auth_test}
