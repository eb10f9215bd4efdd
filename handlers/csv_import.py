"""CSV import of leads: the batch endpoint's rules and domain function, reporting bad rows by
line number.

The whole file is read before the first row is stored: a file that is not UTF-8, not CSV or
has a wrong header raises UnreadableFile and stores nothing. In a readable file, each row is
stored or reported on its own: rows are checked one by one, and the good ones stored a chunk
at a time, as `POST /api/leads/batch` stores a batch.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import intake
from bot.errors import InvalidInput
from bot.lifecycle import Lifecycle
from bot.scoring import ScoringModel
from handlers.text_files import UnreadableFile, decode_utf8, printable

Row = tuple[int, dict[str | None, Any]]  # (line number the row ends on, cells by column)
Result = intake.Received | InvalidInput
# Rows stored per transaction: a batch request's worth, so a chunk takes the time a batch does.
CHUNK_ROWS = intake.MAX_BATCH


@dataclass
class ImportReport:
    created: int = 0
    duplicates: int = 0  # rows whose external_id was already present
    updated: int = 0  # of those, rows that changed what is stored about the person
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number, what is wrong)


def import_csv(
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    data: bytes,
    *,
    moves: Lifecycle,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Callable[[int, int], None] = lambda done, total: None,
    model: ScoringModel | None = None,
) -> ImportReport:
    """Store every valid row, CHUNK_ROWS rows to a `unit_of_work` (the caller's write
    transaction); a bad row is reported and never stops good ones. `progress(done, total)` is
    called after each chunk, with the rows handled so far and the rows of the file. With the
    team's scoring `model`, rows are scored as the intake API scores leads.

    Rows whose external_id is already stored, or came earlier in the file, count as already
    present: importing a file twice is safe. Such a row with changed data updates the lead
    (bot.lead_updates) and counts as updated too.
    """
    report = ImportReport()
    total = sum(1 for _ in iter_rows(data))  # the whole file, before a row is stored
    done = 0
    progress(done, total)

    def store(checked: list[intake.LeadInput | InvalidInput]) -> list[Result]:
        with unit_of_work() as session:
            dialect = session.get_bind().dialect
            batch = intake.ready_batch(
                checked, now=clock(), model=model, dialect=dialect, rules=moves.policies.rules
            )
            return intake.receive_checked(session, batch, sender=intake.CSV_SENDER, moves=moves)

    rows = iter_rows(data)  # never all in memory: a chunk at a time
    # One chunk is checked while the one before it is written (a thread of its own, so the
    # database's work, and the driver's time outside the GIL, overlap the checking); chunks
    # are written one at a time, in the file's order, and a write that fails stops the import
    # before the next one starts.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csv-import") as writer:
        writing: tuple[list[Row], Future[list[Result]]] | None = None
        while True:
            chunk = list(itertools.islice(rows, CHUNK_ROWS))
            checked = [_checked(row) for _, row in chunk]  # before the write lock is taken
            if writing is not None:
                _count(report, *writing)
                done += len(writing[0])
                progress(done, total)
            if not chunk:
                return report
            writing = chunk, writer.submit(store, checked)


def _count(report: ImportReport, chunk: list[Row], written: Future[list[Result]]) -> None:
    """Add a chunk's results to the report, once it is written (raising what stopped it)."""
    for (line, _), result in zip(chunk, written.result(), strict=True):
        if isinstance(result, InvalidInput):
            report.problems.append((line, printable(str(result))))
        elif result.created:
            report.created += 1
        else:
            report.duplicates += 1
            report.updated += result.changes is not None


def _checked(row: dict[str | None, Any]) -> intake.LeadInput | InvalidInput:
    try:
        return intake.validate_lead(_row_payload(row))
    except InvalidInput as invalid:
        return invalid


def iter_rows(data: bytes) -> Iterator[Row]:
    """The data rows of the file one by one; UnreadableFile at the line that stops it."""
    reader = csv.DictReader(io.StringIO(decode_utf8(data), newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        _check_header(header, line=max(reader.line_num, 1))
        reader.fieldnames = header
        for row in reader:
            yield reader.line_num, row
    except csv.Error as error:  # DictReader's own line_num lags when its reader raises
        raise UnreadableFile(max(reader.reader.line_num, 1), f"not CSV: {error}") from None


def _check_header(header: list[str], *, line: int) -> None:
    expected = f"expected columns among {', '.join(intake.FIELD_NAMES)}"
    unknown = [printable(name) or "(blank)" for name in header if name not in intake.FIELD_NAMES]
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if not header:
        raise UnreadableFile(line, f"no header row; {expected}")
    if unknown:
        raise UnreadableFile(line, f"unknown column(s): {', '.join(unknown)}; {expected}")
    if repeated:
        raise UnreadableFile(line, f"column(s) named twice: {', '.join(repeated)}")


def _row_payload(row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:  # csv puts surplus cells of a too-long row under the key None
        raise InvalidInput({"row": "has more cells than the header"})
    payload = {str(name): value for name, value in row.items() if value not in (None, "")}
    activities = payload.get("activities")
    if activities is not None:
        try:
            payload["activities"] = json.loads(activities)
        except (ValueError, RecursionError):  # not JSON, a number past int's limit, too deep
            raise InvalidInput(
                {"activities": "must be a JSON list of {type, detail, at}"}
            ) from None
    return payload
