"""Answers through a response_url: the address Slack gives with a click or a slash command for
replying where the person acted. It needs no token and counts against no method's rate tier,
and it is a credential: nothing here logs or returns it."""

from __future__ import annotations

from typing import Any

from handlers.kept_alive import KeptAliveWebhookClient


def send(response_url: str, body: dict[str, Any], *, timeout: int) -> str | None:
    """Post `body` once (no retries; on a kept-alive connection); None when Slack took it,
    else why not, in a few words fit for a log line (an HTTP status or an exception's type,
    never the address)."""
    webhook = KeptAliveWebhookClient(response_url, timeout=timeout, retry_handlers=[])
    try:
        status = webhook.send_dict(body).status_code
    except Exception as error:  # refused connections, timeouts: whatever it is, not delivered
        return type(error).__name__
    return None if status == 200 else f"HTTP {status}"
