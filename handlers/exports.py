"""Files Baton writes for marketing's own tools: the feedback and funnel exports as JSON, or as
CSV that is safe to open in a spreadsheet, whoever typed the cells.

A cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheets skip before reading one of those) is a formula to Excel, LibreOffice and Google
Sheets: `=HYPERLINK(...)` in a reject note would run in marketing's sheet. Following OWASP's
advice on CSV injection, such a cell is written with a leading single quote, which spreadsheets
take as "this is text" and hide, so the text itself is kept whole.

Rows end in CRLF, as RFC 4180 has it; the csv module then also quotes a cell holding a lone
carriage return, which readers would otherwise take for the end of the row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.funnel import FUNNEL_COLUMNS
from bot.reports import FEEDBACK_COLUMNS

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def spreadsheet_safe(value: Any) -> str:
    """The cell's text, marked as text when a spreadsheet would otherwise evaluate it."""
    text = "" if value is None else str(value)
    return TEXT_MARK + text if text.startswith(FORMULA_TRIGGERS) else text


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header row (also when there are no rows), then one line per row, every cell made safe."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(column) for column in columns])
    writer.writerows([spreadsheet_safe(row[column]) for column in columns] for row in rows)
    return out.getvalue()


def feedback_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The export as CSV, one line per rejection, safe to open in a spreadsheet."""
    return write_csv(FEEDBACK_COLUMNS, rows)


def feedback_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"


def funnel_file(rows: Sequence[Mapping[str, Any]], file_format: str) -> str:
    """The funnel export (bot.funnel.funnel_rows) as `json` or CSV."""
    return feedback_json(rows) if file_format == "json" else write_csv(FUNNEL_COLUMNS, rows)
