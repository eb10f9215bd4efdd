"""A progress bar for long command-line jobs, drawn only where a person watches: a terminal."""

from __future__ import annotations

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
            bar = self._bar = tqdm(
                total=total,
                unit=f" {self._unit}",
                unit_scale=False,
                file=self._stream,
                leave=False,
                dynamic_ncols=True,
                disable=not self._stream.isatty(),
            )
        bar.update(done - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@contextmanager
def progress_bar(stream: TextIO, *, unit: str) -> Iterator[ProgressBar]:
    bar = ProgressBar(stream, unit=unit)
    try:
        yield bar
    finally:
        bar.close()
