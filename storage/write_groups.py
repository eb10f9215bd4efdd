"""Group commit: concurrent callers' small writes joined into one transaction.

A burst of single-lead requests would otherwise pay one round of statements and one commit each,
and on SQLite queue one by one for the write lock; joined, a group costs little more than one of
them. The database still decides everything a write decides (unique keys, conditional updates).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from storage.errors import UNAVAILABLE_ERRORS

Item = TypeVar("Item")
Result = TypeVar("Result")


class WriteAbandoned(RuntimeError):
    """The group holding this item stopped before writing it (its leader was interrupted)."""


_ABANDONED = WriteAbandoned("the write was interrupted before it was done; retry")


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = field(default=None)


class WriteGroups(Generic[Item, Result]):
    """Joins the items of concurrent `write` calls into one call of `write_all` (which runs one
    transaction and returns one result per item, in order).

    Whoever calls `write` while no group is being written leads: it takes every item waiting (at
    most `max_group`), writes them, hands each caller its result and wakes the others; a caller
    whose item another leader wrote returns at once. A lone caller writes alone, with no delay.

    When a group fails because the database cannot serve now (down, locked past the bounded
    wait), every caller in it gets that error: writing them one by one would only wait again.
    Any other failure (a row the database refuses, a bug) writes each item again on its own, so
    one bad item fails only its own caller.
    """

    def __init__(
        self, write_all: Callable[[Sequence[Item]], Sequence[Result]], *, max_group: int
    ) -> None:
        self._write_all = write_all
        self._max_group = max_group
        self._changed = threading.Condition()
        self._waiting: list[_Waiting[Item, Result]] = []
        self._writing = False

    @property
    def waiting(self) -> int:
        """Items queued for the next group."""
        with self._changed:
            return len(self._waiting)

    def write(self, item: Item) -> Result:
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._changed:
            self._waiting.append(mine)
        while not mine.done:  # a leader writes the oldest items first, maybe not its own
            with self._changed:
                while self._writing and not mine.done:
                    self._changed.wait()
                group = [] if mine.done else self._take_group()
            if group:
                self._lead(group)
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # set whenever error is not

    def _lead(self, group: list[_Waiting[Item, Result]]) -> None:
        try:
            self._write_group(group)
        finally:
            with self._changed:
                for waiting in group:
                    if not waiting.done:  # a BaseException stopped the write
                        waiting.error, waiting.done = _ABANDONED, True
                self._writing = False
                self._changed.notify_all()

    def _take_group(self) -> list[_Waiting[Item, Result]]:
        self._writing = True
        group = self._waiting[: self._max_group]
        del self._waiting[: self._max_group]
        return group

    def _write_group(self, group: list[_Waiting[Item, Result]]) -> None:
        try:
            results = self._write_all([waiting.item for waiting in group])
        except UNAVAILABLE_ERRORS as unavailable:
            for waiting in group:
                waiting.error = unavailable
        except Exception as error:
            if len(group) == 1:
                group[0].error = error
            else:
                for waiting in group:
                    self._write_alone(waiting)
        else:
            for waiting, result in zip(group, results, strict=True):
                waiting.result = result
        for waiting in group:
            waiting.done = True

    def _write_alone(self, waiting: _Waiting[Item, Result]) -> None:
        try:
            waiting.result = self._write_all([waiting.item])[0]
        except Exception as error:
            waiting.error = error
