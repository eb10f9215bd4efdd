"""Group commit: concurrent callers' small writes joined into one transaction.

A burst of single-lead requests would otherwise pay one round of statements and one commit each,
and on SQLite queue one by one for the write lock; joined, a group costs little more than one of
them. The database still decides everything a write decides (unique keys, conditional updates).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from storage.errors import UNAVAILABLE_ERRORS

Item = TypeVar("Item")
Result = TypeVar("Result")


class WriteAbandoned(RuntimeError):
    """The group holding this item stopped before writing it (its writer was interrupted)."""


_ABANDONED = WriteAbandoned("the write was interrupted before it was done; retry")


class WriteGroups(Generic[Item, Result]):
    """Joins the items of concurrent `submit` calls into one call of `write_all` (which runs one
    transaction and returns one result per item, in order).

    One writer (a thread kept for the purpose, idle between bursts), set going when an item
    arrives and it is not running, writes the waiting items (the oldest first, at most
    `max_group` at once) until none is left. A lone item is written at once, with no delay;
    items arriving while a group is written form the next one. Callers get a Future, so an
    event loop awaits it without a thread of its own per request (one thread hop per group, not
    per item, and no crowd of threads woken per group).

    When a group fails because the database cannot serve now (down, locked past the bounded
    wait), every caller in it gets that error: writing them one by one would only wait again.
    Any other failure (a row the database refuses, a bug) writes each item again on its own, so
    one bad item fails only its own caller. An item whose Future was cancelled before its group
    was taken is not written.
    """

    def __init__(
        self, write_all: Callable[[Sequence[Item]], Sequence[Result]], *, max_group: int
    ) -> None:
        self._write_all = write_all
        self._max_group = max_group
        self._lock = threading.Lock()
        self._waiting: list[tuple[Item, Future[Result]]] = []
        self._writer_running = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="write-groups")

    @property
    def waiting(self) -> int:
        """Items queued for the next group."""
        with self._lock:
            return len(self._waiting)

    def submit(self, item: Item) -> Future[Result]:
        """Queue `item`; its Future holds the result, or the error, once its group is written."""
        future: Future[Result] = Future()
        with self._lock:
            self._waiting.append((item, future))
            start = not self._writer_running
            self._writer_running = True
        if start:
            self._writer.submit(self._write_waiting)
        return future

    def _write_waiting(self) -> None:
        while group := self._take_group():
            try:
                self._write_group(group)
            finally:  # a BaseException stopped the write: nobody is left waiting forever
                for _, future in group:
                    if not future.done():
                        future.set_exception(_ABANDONED)

    def _take_group(self) -> list[tuple[Item, Future[Result]]]:
        """The next group, without the items cancelled meanwhile; empty (and the writer marked
        stopped, under the same lock a submit takes) when nothing is waiting."""
        with self._lock:
            while self._waiting:
                taken = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                group = [pair for pair in taken if pair[1].set_running_or_notify_cancel()]
                if group:
                    return group
            self._writer_running = False
            return []

    def _write_group(self, group: list[tuple[Item, Future[Result]]]) -> None:
        try:
            results = self._write_all([item for item, _ in group])
        except UNAVAILABLE_ERRORS as unavailable:
            for _, future in group:
                future.set_exception(unavailable)
        except Exception as error:
            if len(group) == 1:
                group[0][1].set_exception(error)
            else:
                for item, future in group:
                    self._write_alone(item, future)
        else:
            for (_, future), result in zip(group, results, strict=True):
                future.set_result(result)

    def _write_alone(self, item: Item, future: Future[Result]) -> None:
        try:
            result = self._write_all([item])[0]
        except Exception as error:
            future.set_exception(error)
        else:
            future.set_result(result)
