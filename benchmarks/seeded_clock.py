"""The reports benchmarks' "now": the end of the seeded year. A module of its own, importing
nothing else, so a delivery process handed `now` (pickled by name) loads only this."""

from datetime import UTC, datetime

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def now() -> datetime:
    return NOW
