"""The loop every outbox worker runs (Slack delivery, webhooks): deliver what is due, round after
round; wait for a wake-up or the next poll when a round found nothing, and after a wake-up as long
as the worker asks (see `run_rounds`); while the database cannot serve, say so once, wait, and
say once that it answers again."""

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
    gather: Callable[[], float] = lambda: 0.0,
) -> None:
    """Run `deliver_due` (how many it delivered) until `stop`; `what` names the delivery in the
    log ("Slack", "webhook"). After a wake-up, the round waits the seconds `gather` gives, so
    that what the next moment commits joins it (Slack delivery's `DeliveryWorker.gather`)."""
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
            if wake.wait(idle_wait()):
                stop.wait(gather())
            wake.clear()


class RoundsThread:
    """The thread an outbox worker runs its rounds on: started with the server, woken after a
    commit queued something, stopped at shutdown (after its current round)."""

    def __init__(
        self,
        deliver_due: Callable[[], int],
        *,
        what: str,
        name: str,
        idle_wait: Callable[[], float],
    ) -> None:
        self._deliver_due = deliver_due
        self._what = what
        self._name = name
        self._idle_wait = idle_wait
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def wake(self) -> None:
        """Something was just queued in this process: deliver it now, not at the next poll."""
        self._wake.set()

    def _run(self) -> None:
        run_rounds(
            self._deliver_due,
            what=self._what,
            stop=self._stop,
            wake=self._wake,
            idle_wait=self._idle_wait,
        )
