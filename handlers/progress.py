"""A progress bar for long command-line jobs, drawn only where a person watches: a terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Never, TextIO

from tqdm import tqdm


class ProgressBar:
    """Called as `bar(done, total)` after each step; draws on `stream` only if it is a terminal
    (a pipe or a log file gets nothing), and wipes itself when closed, leaving the summary."""

    def __init__(self, stream: TextIO, *, unit: str) -> None:
        self._stream = stream
        self._unit = unit
        self._bar: tqdm[Never] | None = None

    def __call__(self, done: int, total: int) -> None:
        bar = self._bar
        if bar is None:
            size = _terminal_size(self._stream)
            bar = self._bar = tqdm(
                total=total,
                unit=f" {self._unit}",
                unit_scale=False,
                file=self._stream,
                leave=False,
                ncols=size.columns,
                nrows=size.lines,
                disable=not self._stream.isatty(),
            )
        bar.update(done - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _terminal_size(stream: TextIO) -> os.terminal_size:
    """The size of the terminal `stream` writes to; 80 x 24 where it reports none (0 x 0), as
    a new pseudo-terminal may, which would hide the bar."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return os.terminal_size((80, 24))
    return size if size.columns and size.lines else os.terminal_size((80, 24))


@contextmanager
def progress_bar(stream: TextIO, *, unit: str) -> Iterator[ProgressBar]:
    bar = ProgressBar(stream, unit=unit)
    try:
        yield bar
    finally:
        bar.close()
