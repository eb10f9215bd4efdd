"""The CSV writer: any text a cell may hold reads back whole, and never as a formula."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from handlers.exports import FORMULA_TRIGGERS, spreadsheet_safe, write_csv

COLUMNS = ("name", "note", "campaign")
# Plain text, and text that leads with what spreadsheets evaluate, so both are tried often.
cell_text = st.text() | st.builds(
    str.__add__, st.sampled_from((*FORMULA_TRIGGERS, "'", " ", "\n")), st.text()
)


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@given(st.lists(st.tuples(cell_text, cell_text, cell_text), max_size=5))
def test_any_cell_reads_back_as_text_and_never_as_a_formula(rows: list[tuple[str, ...]]) -> None:
    written = write_csv(COLUMNS, [dict(zip(COLUMNS, row, strict=True)) for row in rows])

    header, *cells = read_back(written)

    assert header == list(COLUMNS)
    assert len(cells) == len(rows)
    for row, read in zip(rows, cells, strict=True):
        for original, cell in zip(row, read, strict=True):
            assert not cell.startswith(FORMULA_TRIGGERS)
            marked = original.startswith(FORMULA_TRIGGERS)
            assert cell == ("'" + original if marked else original)


@given(st.lists(cell_text, min_size=1, max_size=4, unique=True))
def test_column_names_are_made_safe_too(columns: list[str]) -> None:
    header, *_ = read_back(write_csv(columns, []))
    assert header == [spreadsheet_safe(column) for column in columns]
    assert not any(name.startswith(FORMULA_TRIGGERS) for name in header)


def test_values_that_are_not_text_are_written_as_text() -> None:
    row = {"name": None, "note": -5, "campaign": 42}
    assert read_back(write_csv(COLUMNS, [row]))[1] == ["", "'-5", "42"]
