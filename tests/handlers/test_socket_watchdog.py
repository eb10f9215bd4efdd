"""When the Socket Mode watchdog decides the connection is dead."""

from __future__ import annotations

import pytest

from handlers.socket_watchdog import needs_reconnect


@pytest.mark.parametrize(
    ("connected", "last_pong", "now", "dead"),
    [
        (False, None, 100.0, True),  # the client knows it is down
        (True, None, 100.0, False),  # connected, no ping answered yet
        (True, 95.0, 100.0, False),  # answered 5 s ago (ping every 5 s)
        (True, 79.0, 100.0, True),  # silent for more than four pings: looks alive, is not
    ],
)
def test_dead_when_down_or_silent(
    connected: bool, last_pong: float | None, now: float, dead: bool
) -> None:
    assert (
        needs_reconnect(connected=connected, last_pong=last_pong, ping_interval=5, now=now) is dead
    )
