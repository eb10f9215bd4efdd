"""`baton check`'s Slack part: can the configured token reach the configured API?"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Config


def check_slack(config: Config) -> tuple[bool, str]:
    settings = config.settings
    if not settings.slack_bot_token:
        return False, "not configured (SLACK_BOT_TOKEN is unset)"
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10)
    try:
        identity = client.auth_test()
    except SlackApiError as error:
        return False, f"{settings.slack_api_url} refused the token: {error.response.get('error')}"
    except OSError as error:
        return False, f"{settings.slack_api_url} is unreachable: {error}"
    return True, f"ok (workspace {identity.get('team')}, bot @{identity.get('user')})"
