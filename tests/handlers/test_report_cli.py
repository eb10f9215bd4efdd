"""`baton report feedback`, run as marketing runs it: a subprocess against a seeded database."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.lifecycle import Actor, Lifecycle
from bot.reports import FEEDBACK_COLUMNS
from bot.rules import Rules
from bot.sla_policy import SlaPolicies
from storage.db import Database
from tests.factories import create_lead
from tests.handlers.test_cli import baton

POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
REP = Actor("U0REPA00001")
# The command reads the real clock, so the data is placed relative to it.
NOW = datetime.now(UTC).replace(microsecond=0)
TRICKY_NOTE = 'Asked for "pricing", then left\nno reply since'


def handoff(db: Database, external_id: str, *, posted: datetime, **fields: object) -> int:
    with db.write() as session:
        lead = create_lead(session, external_id=external_id, now=posted, **fields)
        LIFECYCLE.card_posted(
            session, lead_id=lead.id, channel="C0SALES0001", ts=f"{lead.id}.0", now=posted
        )
    return lead.id


def reject(db: Database, lead_id: int, *, at: datetime, reason: str, note: str | None) -> None:
    with db.write() as session:
        LIFECYCLE.reject(
            session,
            lead_id=lead_id,
            actor=REP,
            reason=reason,
            note=note,
            reasons=Rules().reasons,
            now=at,
        )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def seeded(database_url: str) -> dict[str, int]:
    """Three rejections in the last 30 days, one older, and an accepted lead."""
    db = Database.from_url(database_url)
    ids = {
        "recent": handoff(db, "r-recent", posted=NOW - timedelta(days=3), name="Ada"),
        "no-source": handoff(
            db, "r-none", posted=NOW - timedelta(days=10), source=None, campaign=None
        ),
        "ads": handoff(db, "r-ads", posted=NOW - timedelta(days=1), source="ads", campaign="Q1"),
        "old": handoff(db, "r-old", posted=NOW - timedelta(days=40)),
        "kept": handoff(db, "a-kept", posted=NOW - timedelta(days=2)),
    }
    reject(
        db,
        ids["recent"],
        at=NOW - timedelta(days=3) + timedelta(hours=1),
        reason="no_budget",
        note="Budget frozen",
    )
    reject(
        db,
        ids["no-source"],
        at=NOW - timedelta(days=10, minutes=-5),
        reason="other",
        note=TRICKY_NOTE,
    )
    reject(db, ids["ads"], at=NOW - timedelta(days=1), reason="competitor", note=None)
    reject(db, ids["old"], at=NOW - timedelta(days=40), reason="no_need", note="Too old")
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=ids["kept"], actor=REP, now=NOW)
    db.dispose()
    return ids


def test_csv_has_a_header_and_one_row_per_rejection(
    tmp_path: Path, database_url: str, seeded: dict[str, int]
) -> None:
    result = baton(
        "report",
        "feedback",
        "--since",
        "30d",
        "--format",
        "csv",
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == FEEDBACK_COLUMNS
    rows = list(reader)
    assert [row["external_id"] for row in rows] == ["r-none", "r-recent", "r-ads"]  # oldest first
    assert rows[0] == {
        "lead_id": str(seeded["no-source"]),
        "external_id": "r-none",
        "name": "Dana Whitfield",
        "company": "Northwind Traders",
        "source": "",
        "campaign": "",
        "reason": "other",
        "reason_label": "Other (explain in the note)",
        "note": TRICKY_NOTE,  # quotes, a comma and a line break survive the round trip
        "rejected_by": REP.id,
        "rejected_at": iso(NOW - timedelta(days=10, minutes=-5)),
        "posted_at": iso(NOW - timedelta(days=10)),
    }
    assert (rows[1]["name"], rows[1]["reason_label"], rows[1]["note"]) == (
        "Ada",
        "No budget",
        "Budget frozen",
    )
    assert (rows[2]["source"], rows[2]["campaign"], rows[2]["note"]) == ("ads", "Q1", "")


def test_json_is_a_list_of_objects_with_nulls(
    tmp_path: Path, database_url: str, seeded: dict[str, int]
) -> None:
    result = baton(
        "report", "feedback", "--format", "json", cwd=tmp_path, env={"DATABASE_URL": database_url}
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["external_id"] for row in rows] == ["r-none", "r-recent", "r-ads"]
    assert rows[0]["lead_id"] == seeded["no-source"]
    assert (rows[0]["source"], rows[0]["note"]) == (None, TRICKY_NOTE)
    assert (rows[2]["reason"], rows[2]["reason_label"], rows[2]["note"]) == (
        "competitor",
        "Competitor",
        None,
    )


def test_source_filter_and_output_file(
    tmp_path: Path, database_url: str, seeded: dict[str, int]
) -> None:
    out = tmp_path / "ads.csv"
    result = baton(
        "report",
        "feedback",
        "--since",
        "90d",
        "--source",
        "ADS",
        "--output",
        str(out),
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"1 rejections (last 90 days) written to {out}"
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [row["external_id"] for row in rows] == ["r-ads"]


def test_a_wider_period_reaches_older_rejections(
    tmp_path: Path, database_url: str, seeded: dict[str, int]
) -> None:
    result = baton(
        "report",
        "feedback",
        "--since",
        "90d",
        "--format",
        "json",
        cwd=tmp_path,
        env={"DATABASE_URL": database_url},
    )
    assert [row["external_id"] for row in json.loads(result.stdout)] == [
        "r-old",
        "r-none",
        "r-recent",
        "r-ads",
    ]


def test_an_empty_export_still_has_its_header(tmp_path: Path) -> None:
    result = baton("report", "feedback", "--output", "empty.csv", cwd=tmp_path, env={})
    assert result.returncode == 0, result.stderr
    # Byte for byte: rows end in CRLF, as RFC 4180 has it.
    assert (tmp_path / "empty.csv").read_bytes() == (",".join(FEEDBACK_COLUMNS) + "\r\n").encode()


@pytest.mark.parametrize("since", ["fortnight", "0d"])
def test_a_bad_period_is_one_clear_line(tmp_path: Path, since: str) -> None:
    result = baton("report", "feedback", "--since", since, cwd=tmp_path, env={})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("baton: --since: ") and repr(since) in lines[0]
    assert result.stdout == ""
