"""The handoff benchmark's target figures over its rounds: per database, each figure's median
and range, judged against its target by the median.

Why rounds and a median: on the development machines (virtual, 2 cores) the same code's CPU a
batched lead or a click went from one level to another 1.6-1.85 times dearer for minutes at a
time, with no steal to show it (docs/performance.md). One round samples one such moment; the
median of rounds taken minutes apart is what the code does, and the range shows the moments.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RoundFigures:
    """One database's round: what the targets judge (None where the round did not measure it)."""

    single_rate: float | None  # leads/s POSTed one by one
    batch_rate: float | None  # leads/s in batches
    ack_p99_ratio: float | None  # Baton's ack p99 over the bare Bolt floor's, same round
    ack_rate_share: float | None  # Baton's acks/s over the floor's
    check_ms: float | None  # the slower of the fixed batch's checks around the batch intake


@dataclass(frozen=True)
class Target:
    label: str
    value: Callable[[RoundFigures], float | None]
    shown: Callable[[float], str]
    bound: float
    at_least: bool  # the figure must be at least `bound` (else at most)

    def met(self, figure: float) -> bool:
        return figure >= self.bound if self.at_least else figure <= self.bound

    def row(self, rounds: Sequence[RoundFigures]) -> str:
        figures = [value for value in map(self.value, rounds) if value is not None]
        if not figures:
            return "–"
        median = statistics.median(figures)
        spread = (
            f" ({self.shown(min(figures))}–{self.shown(max(figures))})" if len(figures) > 1 else ""
        )
        verdict = "met" if self.met(median) else "MISSED"
        return f"{self.shown(median)}{spread} {verdict}"

    @property
    def wanted(self) -> str:
        return f"{'≥' if self.at_least else '≤'} {self.shown(self.bound)}"


def _rate(value: float) -> str:
    return f"{value:,.0f}"


TARGETS = (
    Target("intake from 8 clients, leads/s", lambda r: r.single_rate, _rate, 500, True),
    Target("batch intake, leads/s", lambda r: r.batch_rate, _rate, 5_000, True),
    Target("Accept ack p99 ÷ bare Bolt's", lambda r: r.ack_p99_ratio, "×{:.1f}".format, 5, False),
    Target("Accept acks/s ÷ bare Bolt's", lambda r: r.ack_rate_share, "{:.0%}".format, 0.3, True),
)


def summary(databases: Sequence[tuple[str, Sequence[RoundFigures]]]) -> list[str]:
    """The table printed after the rounds: a row a target, a column a database."""
    rounds = max((len(figures) for _, figures in databases), default=0)
    width = 34
    lines = [
        f"\n== the targets by the median of {rounds} round(s), the rounds' range in brackets ==",
        f"  {'figure':<32}" + "".join(f"{name:<{width}}" for name, _ in databases) + "target",
    ]
    for target in TARGETS:
        cells = "".join(f"{target.row(figures):<{width}}" for _, figures in databases)
        lines.append(f"  {target.label:<32}{cells}{target.wanted}")
    checks = "".join(f"{_checks(figures):<{width}}" for _, figures in databases)
    lines.append(f"  {'fixed batch checked, ms':<32}{checks}usual 20–24")
    return lines


def _checks(rounds: Sequence[RoundFigures]) -> str:
    """The machine's speed beside each round's batch intake (machine.batch_check_ms)."""
    checks = [f"{figures.check_ms:.0f}" for figures in rounds if figures.check_ms is not None]
    return ", ".join(checks) or "–"
