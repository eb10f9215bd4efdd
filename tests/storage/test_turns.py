"""SQLite writers of one process take turns first come, first served (storage.turns.TurnLock)."""

from __future__ import annotations

import threading

from storage.turns import TurnLock
from tests.e2e.conftest import eventually


def test_writers_get_their_turn_in_the_order_they_came_even_against_one_writing_again() -> None:
    lock = TurnLock()
    order: list[str] = []

    def write(name: str) -> None:
        assert lock.acquire(timeout=10)
        order.append(name)
        lock.release()

    assert lock.acquire(timeout=10)
    waiters = []
    for count, name in enumerate(["first", "second", "third"], start=1):
        waiter = threading.Thread(target=write, args=(name,))
        waiter.start()
        waiters.append(waiter)
        eventually(lambda count=count: lock.waiting == count)  # type: ignore[misc]

    lock.release()
    write("the writer that just released")  # a busy writer asking again goes to the back
    for waiter in waiters:
        waiter.join(timeout=10)

    assert order == ["first", "second", "third", "the writer that just released"]


def test_a_writer_whose_wait_runs_out_leaves_the_queue_and_the_lock_still_works() -> None:
    lock = TurnLock()
    assert lock.acquire(timeout=10)

    assert lock.acquire(timeout=0.01) is False
    assert lock.waiting == 0
    lock.release()

    assert lock.acquire(timeout=0.01)
