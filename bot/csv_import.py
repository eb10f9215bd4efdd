"""CSV import of leads: the intake API's rules, row by row, reporting bad rows by line number."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import intake
from bot.errors import InvalidInput


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)


def import_csv(
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    lines: Iterable[str],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ImportReport:
    """Store every valid row, each in its own `unit_of_work` (the caller's write transaction),
    so a bad row never stops good ones.

    Rows whose external_id is already stored count as duplicates: importing a file twice is safe.
    """
    report = ImportReport()
    reader = csv.DictReader(lines)
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in intake.FIELD_NAMES]
    if not header or unknown:
        problem = f"unknown column(s): {', '.join(unknown)}" if unknown else "no header row"
        report.problems.append(
            (1, f"{problem}; expected columns among {', '.join(intake.FIELD_NAMES)}")
        )
        return report
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        try:
            payload = _row_payload(row)
            with unit_of_work() as session:
                received = intake.receive(session, payload=payload, now=clock())
        except InvalidInput as invalid:
            report.problems.append((line, str(invalid)))
            continue
        if received.created:
            report.created += 1
        else:
            report.duplicates += 1
    return report


def _row_payload(row: dict[str, Any]) -> dict[str, Any]:
    if None in row:  # csv puts surplus cells of a too-long row under the key None
        raise InvalidInput({"row": "has more cells than the header"})
    payload = {name: value for name, value in row.items() if value not in (None, "")}
    activities = payload.get("activities")
    if activities is not None:
        try:
            payload["activities"] = json.loads(activities)
        except json.JSONDecodeError:
            raise InvalidInput(
                {"activities": "must be a JSON list of {type, detail, at}"}
            ) from None
    return payload
