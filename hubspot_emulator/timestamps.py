"""HubSpot's datetimes: ISO 8601 in UTC with milliseconds out; ISO or epoch milliseconds in."""

from datetime import UTC, datetime


def iso(seconds: float) -> str:
    """`2023-11-14T22:13:20.000Z`, as HubSpot writes `createdAt` and datetime properties."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(value: str) -> float | None:
    """Seconds since the epoch from epoch milliseconds or an ISO 8601 string; None if neither."""
    if value.isdigit():
        return int(value) / 1000
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
