"""Python's cyclic garbage collector, C heap and thread switching set for a long process that
allocates in bursts and answers HTTP beside busy threads."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import sys
import threading
from collections.abc import Iterator

# New container objects between two young collections (CPython's default is 700): a
# 1,000-lead batch allocates some 400,000, and with 700 each young collection promotes what is
# still in use, which soon sets off a full collection.
YOUNG_COLLECTION_EVERY = 10_000
# glibc's malloc gives each thread that allocates at once an arena of its own, up to 8 a core,
# and frees little of what a burst left in them: with a server's dozens of threads that was tens
# of MB each process held for nothing. Python's small objects do not use them (pymalloc).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter (malloc.h)
# How long a thread runs Python before it hands the GIL to one waiting for it (CPython's
# default is 5 ms). The event loop that reads requests and writes answers waits for the GIL at
# each wake-up while a thread stores a batch or applies clicks; at 5 ms a wake-up could wait
# that long. benchmarks.handoff, alternating: SQLite stored 5,572-6,451 batched leads/s at 1 ms
# (five runs) and 4,341-6,082 at 5 ms; PostgreSQL 4,888 and 4,961 against 5,040 and 4,357.
GIL_SWITCH_SECONDS = 0.001


def settle() -> None:
    """Take what start-up built (modules, the schema, the rules, pools) out of the collector's
    walk, collect young objects less often, and hand the GIL round every GIL_SWITCH_SECONDS.

    Done once a process has started and before it takes work. With CPython's defaults, a
    1,000-lead batch set off a dozen full collections, each walking the 190,000 objects
    start-up left: a sixth of the batch's CPU. Frozen objects are never freed, so what start-up
    left as garbage is collected first."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, older, oldest)
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    _limit_malloc_arenas()


def _limit_malloc_arenas() -> None:
    """Threads share MALLOC_ARENAS arenas from now on (a C library other than glibc: nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        _c_library().mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


class _Holders:
    """How many pieces of work that hold megabytes at once are under way in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        with self._lock:
            self._count += 1
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                last = not self._count
            if last:
                give_back()


_HOLDERS = _Holders()


def giving_back_after() -> contextlib.AbstractContextManager[None]:
    """Around work that holds megabytes at once (a batch of leads: its body, its answer, the
    buffers of its statements; a report's rows): when the last such work under way in the
    process ends, the C heap's free pages go back to the system (`give_back`).

    Not after each: in a burst of batches from 8 senders, a trim after every batch handed back
    pages the next batch faulted in again at once: 2,000 page faults a batch against 650, and
    3 % of the batch's CPU. The burst's last batch trims what all of them left, on the thread
    it ends on (a batch: the event loop, where a trim after a batch took 0.3 ms)."""
    return _HOLDERS.holding()


def give_back() -> None:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing).

    After a burst that held megabytes at once, glibc keeps much of what was freed for the next
    one: 5 to 10 MB a server held after the batches of a webinar's leads, which a trim gave
    back. A trim costs well under a millisecond to a few; a batch, hundreds."""
    with contextlib.suppress(OSError, AttributeError):
        _c_library().malloc_trim(0)


@functools.cache
def _c_library() -> ctypes.CDLL:
    """This process's C library, loaded once: a trim follows every batch and slash command."""
    return ctypes.CDLL(None)
