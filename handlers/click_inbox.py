"""The card buttons' clicks: recorded before the acknowledgement, applied after it
(bot.received_clicks).

Clicks arriving together are recorded in one transaction (storage.write_groups), and this
process's applier is woken once they are committed. The applier, a thread of every web process,
applies the waiting clicks one by one, each in its own transaction, in the order they were
recorded, and wakes delivery after each. Besides being woken it looks every POLL_SECONDS (for a
click another process recorded and did not get to apply) and once at start, for the clicks a
crash left waiting.

Acknowledgements come first: Slack gives each 3 s, and a move costs the process about twice the
CPU its acknowledgement does (and on SQLite holds the write turn the next clicks' recording waits
for), besides the delivery it sets going. So in a burst the applier waits until this process
has recorded no click for QUIET_SECONDS, for at most ACKS_FIRST_SECONDS, then applies all that
waits; while clicks keep coming it waits so again after each APPLY_SLICE_SECONDS of applying,
so that a flood's acknowledgements keep most of the process until the flood ends. A lone click
is applied QUIET_SECONDS after it was recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from bot import received_clicks
from bot.errors import BatonError
from bot.received_clicks import Received
from handlers.services import Services
from storage.errors import UNAVAILABLE_ERRORS
from storage.write_groups import WriteGroups

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MAX_GROUP = 100
QUIET_SECONDS = 0.02
ACKS_FIRST_SECONDS = 1.0
# Applying once it began, before it looks again for a pause in the clicks. Without it a flood
# (benchmarks.handoff: 1,000 clicks from 8 connections) had its second half acknowledged beside
# every move of the first: 376-514 acks/s and 1.7-2.2 ms of the server's CPU a click, against
# 503-677 and 1.4-1.6 with it (SQLite, alternating runs).
APPLY_SLICE_SECONDS = 0.1


class ClickInbox:
    """Records clicks (`record`, from a listener) and applies them (`start` .. `stop`)."""

    def __init__(self, services: Services, *, poll: float = POLL_SECONDS) -> None:
        self._services = services
        self._poll = poll
        self._groups: WriteGroups[Received, None] = WriteGroups(
            self._record_all, max_group=MAX_GROUP
        )
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_recorded = 0.0  # time.monotonic() of the last click recorded here

    def record(self, click: Received) -> None:
        """Record the click (waiting for its group's commit) and wake the applier. A database
        that cannot take it raises, and the person is told nothing changed."""
        self._groups.submit(click).result()
        self._last_recorded = time.monotonic()
        self._woken.set()

    def _record_all(self, clicks: Sequence[Received]) -> list[None]:
        with self._services.db.write() as session:
            received_clicks.record(session, clicks=clicks, now=self._services.clock())
        return [None] * len(clicks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="click-applier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Apply the clicks acknowledged so far (within a bound: what is left waits for the
        next start, or another process), then stop."""
        self._stopping.set()
        self._woken.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        woken = True  # at start: the clicks a crash left waiting
        unavailable = False  # said once an outage, not at every poll
        while True:
            stopping = self._stopping.is_set()  # then a last pass, for the clicks acknowledged
            self._woken.clear()
            try:
                if woken or stopping or self._any_waiting():
                    self._wait_for_a_pause()
                    self.apply_waiting()
                unavailable = False
            except UNAVAILABLE_ERRORS as error:
                if not unavailable:
                    log.warning(
                        "clicks wait: the database is unavailable (%s)", type(error).__name__
                    )
                unavailable = True
            except Exception:
                log.exception("applying the waiting clicks failed; trying again shortly")
            if stopping:
                return
            woken = self._woken.wait(self._poll)

    def _wait_for_a_pause(self) -> None:
        """Until no click was recorded here for QUIET_SECONDS, ACKS_FIRST_SECONDS at most; not
        once stopping."""
        give_up = time.monotonic() + ACKS_FIRST_SECONDS
        while True:
            now = time.monotonic()
            quiet_from = self._last_recorded + QUIET_SECONDS
            if now >= quiet_from or now >= give_up:
                return
            if self._stopping.wait(min(quiet_from, give_up) - now):
                return

    def apply_waiting(self) -> int:
        """Apply the clicks waiting now, and those recorded meanwhile, until none is left,
        waiting for a pause in the clicks after each APPLY_SLICE_SECONDS of it; how many.
        Raises what the database raises while it is unavailable."""
        applied = 0
        slice_ends = time.monotonic() + APPLY_SLICE_SECONDS
        while self._apply_next():
            applied += 1
            if time.monotonic() >= slice_ends:
                self._wait_for_a_pause()
                slice_ends = time.monotonic() + APPLY_SLICE_SECONDS
        return applied

    def _any_waiting(self) -> bool:
        with self._services.db.read() as session:
            return received_clicks.any_waiting(session)

    def _apply_next(self) -> bool:
        """Apply the next waiting click; False when none is waiting."""
        services = self._services
        taken: int | None = None
        try:
            with services.db.write() as session:
                click = received_clicks.take_next(session)
                if click is None:
                    return False
                taken = click.id
                received_clicks.apply(
                    session,
                    lifecycle=services.lifecycle,
                    click=click,
                    actor=services.actor_of(click.user_id),
                    now=services.clock(),
                )
        except UNAVAILABLE_ERRORS:
            raise  # the click waits, to be applied when the database serves again
        except BatonError as refusal:
            assert taken is not None  # taking a click raises no domain error
            self._refused(taken, refusal)
        except Exception:
            if taken is None:
                raise
            log.exception("unexpected error applying a click")
            self._refused(taken, None)
        services.wake_delivery()
        return True

    def _refused(self, click_id: int, error: BatonError | None) -> None:
        with self._services.db.write() as session:
            received_clicks.refused(
                session, click_id=click_id, error=error, now=self._services.clock()
            )
