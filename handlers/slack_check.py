"""`baton check`'s Slack part: can the configured token reach the configured API, and which
deliveries did Slack refuse for good?"""

from __future__ import annotations

from datetime import UTC

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import delivery_failures
from handlers.config import Config
from storage import outbox as outbox_store
from storage.db import Database

LATEST_FAILURES = 5


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


def failed_deliveries(db: Database) -> list[str]:
    """Lines for the admin: how many deliveries were given up on, and the latest few."""
    with db.read() as session:
        count = outbox_store.count_failed(session)
        latest = delivery_failures.latest(session, limit=LATEST_FAILURES)
    if not count:
        return ["deliveries: none failed"]
    lines = [f"deliveries: {count} failed for good, not retried (latest first):"]
    for failure in latest:
        when = failure.failed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        lead = f"lead {failure.lead_id}" if failure.lead_id is not None else "no lead"
        lines.append(f"  {when}  {lead}  {failure.kind}  {failure.reason}")
    return lines
