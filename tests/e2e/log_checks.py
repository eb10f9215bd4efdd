"""What the bot's log may never hold: a secret, or anything a lead or a Slack request carried."""

from __future__ import annotations

import pytest

from slack_emulator import DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN
from tests.factories import lead_payload

SECRETS = (DEFAULT_TOKEN, DEFAULT_SIGNING_SECRET, "test-intake-token")
LEAD_DATA = tuple(str(lead_payload()[key]) for key in ("name", "email", "phone", "notes"))


def assert_log_clean(caplog: pytest.LogCaptureFixture, *also_absent: str) -> None:
    """No line (message or traceback) holds a secret, the default lead's data or `also_absent`."""
    for record in caplog.records:
        line = caplog.handler.format(record)
        for forbidden in (*SECRETS, *LEAD_DATA, *also_absent):
            assert forbidden not in line, f"{forbidden!r} logged: {line[:200]}"
