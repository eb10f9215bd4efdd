"""`baton score --replay`, run as marketing runs it before changing the model: the leads of a
seeded database (handed off and judged by sales, or kept as MQLs) scored again by a changed
model, with counts known in advance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import intake, lifecycle, scoring
from bot.lifecycle import CRM, Outcome
from handlers.cli import main
from storage.db import Database
from storage.models import LeadStatus
from tests.bot.test_scoring import MODEL, MODEL_TOML
from tests.factories import lead_payload
from tests.handlers.test_report_cli import LIFECYCLE, REP, handoff, reject

# The command reads the real clock, so the leads are placed relative to it.
NOW = datetime.now(UTC).replace(microsecond=0)
KNOWN = {"need": "Route planning", "timeline": "This quarter", "intent": None}
# The changed model: SQL from 45 instead of 70.
LOWER_SQL = MODEL_TOML.replace("sql = 70", "sql = 45", 1)


def mql(db: Database, external_id: str, *, at: datetime, **fields: Any) -> None:
    """A lead stored as intake stores it under the test model (an MQL, or not yet one)."""
    sent = intake.validate_lead(lead_payload(external_id=external_id, **fields)).to_fields()
    with db.write() as session:
        lead, _ = lifecycle.create(
            session, fields=scoring.scored_fields(MODEL, sent, now=at), now=at
        )
        assert lead.status == LeadStatus.MQL


@pytest.fixture
def seeded(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database.from_url(database_url)
    day = timedelta(days=1)
    demo = [{"type": "demo_request", "at": (NOW - 5 * day).isoformat()}]
    won = handoff(db, "sql-won", posted=NOW - 5 * day, activities=demo, **KNOWN)
    engaged = [
        {"type": "webinar", "at": (NOW - 8 * day).isoformat()},
        {"type": "pricing_page", "at": (NOW - 8 * day).isoformat()},
    ]  # 25 + 15 + 10 + 8 = 58, an SQL from 45
    accepted = handoff(db, "sql-accepted", posted=NOW - 8 * day, activities=engaged, **KNOWN)
    intern = handoff(  # -30: not even an MQL now
        db, "intern", posted=NOW - 3 * day, title="Marketing Intern", activities=[], **KNOWN
    )
    student = handoff(db, "student", posted=NOW - 2 * day, title="Student", activities=[], **KNOWN)
    handoff(db, "too-old", posted=NOW - 120 * day, title="Intern", activities=[], **KNOWN)
    visit = [{"type": "pricing_page", "at": (NOW - 4 * day).isoformat()}]
    mql(db, "mql-48", at=NOW - 4 * day, activities=visit, **KNOWN)  # 48: an SQL from 45
    mql(db, "vp-only", at=NOW - 6 * day, company_size=None, activities=[], **KNOWN)  # 25
    with db.write() as session:
        for lead_id in (won, accepted):
            LIFECYCLE.accept(session, lead_id=lead_id, actor=REP, now=NOW - day)
        LIFECYCLE.record_outcome(
            session, lead_id=won, actor=CRM, outcome=Outcome(LeadStatus.WON), now=NOW
        )
    for lead_id in (intern, student):
        reject(db, lead_id, at=NOW - day, reason="no_authority", note=None)
    db.dispose()
    (tmp_path / "baton.toml").write_text(MODEL_TOML, encoding="utf-8")
    (tmp_path / "lower.toml").write_text(LOWER_SQL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BATON_CONFIG", "baton.toml")


def test_the_replay_counts_what_a_changed_model_would_have_made_of_the_stored_leads(
    seeded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", "--replay", "--since", "90d", "--config", "lower.toml"]) == 0

    assert capsys.readouterr().out.splitlines() == [
        "Replay of the 6 leads stored in the last 90 days, "
        "each scored as it arrived by the current model:",
        "would be SQL: 3 (was 4)",
        "would be MQL: 0 (was 1)",
        "would be not yet an MQL: 3 (was 1)",
        "SQL then and now: 2: accepted 2, rejected 0, won 1",
        "SQL then, kept back now: 2: accepted 0, rejected 2 (Not a decision maker 2), won 0",
        "new SQLs (kept for marketing then, never seen by sales): 1",
    ]


def test_under_the_model_in_use_the_mqls_stay_mqls(
    seeded: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["score", "--replay", "--since", "30d"]) == 0

    out = capsys.readouterr().out
    # 58 is under 70 now: the accepted lead would have stayed an MQL.
    assert "would be SQL: 1 (was 4)" in out
    assert "would be MQL: 2 (was 1)" in out
    assert "new SQLs (kept for marketing then, never seen by sales): 0" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "--since", "soon"], "baton: --since: unknown period 'soon'"),
        (["lead.json", "--replay"], "baton: score: give a lead file, or --replay (not both)"),
        ([], "baton: score: give a lead file, or --replay (not both)"),
    ],
)
def test_a_bad_replay_is_one_line_on_stderr(
    seeded: None, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["score", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message)
