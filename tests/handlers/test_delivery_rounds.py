"""The outbox workers' loop: commits that come in quick succession are delivered together, in
one round after the worker's gathering wait, and a stop ends the wait at once."""

from __future__ import annotations

import threading
import time

from handlers.delivery_rounds import run_rounds

NEVER = 3600.0  # an idle poll no test waits for


class Rounds:
    """A worker's rounds, run on a thread: each round delivers nothing and is counted."""

    def __init__(self, gather: float) -> None:
        self.count = 0
        self.done = threading.Condition()
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._thread = threading.Thread(
            target=run_rounds,
            kwargs={
                "deliver_due": self._round,
                "what": "test",
                "stop": self.stop,
                "wake": self.wake,
                "idle_wait": lambda: NEVER,
                "gather": lambda: gather,
            },
        )
        self._thread.start()

    def _round(self) -> int:
        with self.done:
            self.count += 1
            self.done.notify_all()
        return 0

    def wait_for(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: self.count >= count, timeout=10)

    def end(self) -> float:
        """Stop the loop; the seconds it took to end."""
        started = time.monotonic()
        self.stop.set()
        self.wake.set()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()
        return time.monotonic() - started


def test_commits_during_the_gathering_wait_are_delivered_in_one_round() -> None:
    rounds = Rounds(gather=1.0)
    rounds.wait_for(1)  # the first round runs at start

    for _ in range(20):  # twenty commits, each waking the worker
        rounds.wake.set()
    rounds.wait_for(2)
    time.sleep(0.3)  # time for a third round, were a wake-up left over

    assert rounds.count == 2
    rounds.end()


def test_a_wake_up_after_a_round_is_not_lost() -> None:
    rounds = Rounds(gather=0.0)
    rounds.wait_for(1)

    for expected in range(2, 5):
        rounds.wake.set()
        rounds.wait_for(expected)

    assert rounds.count == 4
    rounds.end()


def test_a_stop_ends_the_gathering_wait_at_once() -> None:
    rounds = Rounds(gather=NEVER)
    rounds.wait_for(1)
    rounds.wake.set()  # the worker now gathers for an hour

    assert rounds.end() < 5
    assert rounds.count == 1  # stopped before the gathered round
