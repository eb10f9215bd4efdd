"""The loop every outbox worker runs (Slack delivery, webhooks): deliver what is due, round after
round; wait for a wake-up or the next poll when a round found nothing; while the database cannot
serve, say so once, wait, and say once that it answers again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from storage.errors import UNAVAILABLE_ERRORS

log = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 1.0


def run_rounds(
    deliver_due: Callable[[], int],
    *,
    what: str,
    stop: threading.Event,
    wake: threading.Event,
    idle_wait: Callable[[], float],
) -> None:
    """Run `deliver_due` (how many it delivered) until `stop`; `what` names the delivery in the
    log ("Slack", "webhook")."""
    database_down = False
    while not stop.is_set():
        try:
            worked = deliver_due()
        except UNAVAILABLE_ERRORS as error:
            if not database_down:
                log.warning(
                    "database unavailable (%s): %s delivery paused until it answers",
                    type(error).__name__,
                    what,
                )
                database_down = True
            stop.wait(DATABASE_RETRY_SECONDS)
            continue
        except Exception:
            log.exception("%s delivery round failed; retrying", what)
            worked = 0
        if database_down:
            log.info("database answers again: %s delivery resumed", what)
            database_down = False
        if not worked:
            wake.wait(idle_wait())
            wake.clear()
