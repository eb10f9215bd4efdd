"""`baton score LEAD.json`, run as marketing runs it before sending leads: the explanation on
stdout, or one line on stderr for a file, a lead or a model it cannot take. One run goes through
the installed command (a subprocess); the others call its entry point, `handlers.cli.main`, in
this process, in the files' directory and with no settings in the environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.cli import main
from tests.bot.test_scoring import MODEL_TOML
from tests.handlers.test_cli import baton

# The command reads the real clock, so activities are dated relative to it.
NOW = datetime.now(UTC)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rules file with the test model and a lead, in the working directory of the command."""
    monkeypatch.chdir(tmp_path)
    for name in ("BATON_CONFIG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "baton.toml").write_text(MODEL_TOML, encoding="utf-8")
    lead = {
        "external_id": "web-1",
        "name": "Dana Whitfield",
        "title": "VP Operations",
        "company_size": "250",
        "score": 55,
        "need": "replace spreadsheets",
        "activities": [
            {"type": "pricing_page", "at": (NOW - timedelta(days=10, hours=1)).isoformat()},
            {"type": "pricing_page"},
            {"type": "webinar", "detail": "Scaling ops"},
        ],
    }
    (tmp_path / "lead.json").write_text(json.dumps(lead), encoding="utf-8")
    return tmp_path


def test_it_explains_the_score_rule_by_rule(files: Path) -> None:
    result = baton("score", "lead.json", cwd=files, env={"BATON_CONFIG": "baton.toml"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Score 62 of 100: MQL (SQL from 70)",
        "Thresholds: MQL from 40, SQL from 70",
        "Fit +40",
        "  decision maker +25",
        "  mid-market +15",
        "Engagement +22",
        "  pricing page 2× +12",  # 8 now, and 4 for the one ten days old (half-life 10 days)
        "  webinar 1× +10",
        "Required: need ✓, timeline ✗",
        "Sender's score: 55 (the model's total replaces it)",
    ]


def test_without_a_model_the_senders_score_stands(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config wins over the baton.toml of the working directory, which has a model."""
    (files / "plain.toml").write_text('[channels]\nsales = "C0SALES0001"\n', encoding="utf-8")

    assert main(["score", "lead.json", "--config", "plain.toml"]) == 0
    assert capsys.readouterr().out == (
        "no scoring model ([scoring] in plain.toml): Baton keeps the sender's score (55)\n"
    )


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["missing.json"], None, "baton: cannot read missing.json: No such file or directory"),
        (["bad.json"], '{"name": "Ada"}', "baton: bad.json: external_id: Field required"),
        (
            ["lead.json", "--config", "nothere.toml"],
            None,
            "baton: --config: no such file: nothere.toml",
        ),
        (
            ["lead.json", "--config", "bad.toml"],
            "[scoring]\nmql = 10\n",
            "baton: configuration error: bad.toml: scoring.sql: Field required",
        ),
    ],
)
def test_what_it_cannot_score_is_one_line(
    files: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    content: str | None,
    message: str,
) -> None:
    if content is not None:
        (files / args[-1]).write_text(content, encoding="utf-8")

    assert main(["score", *args]) == 2
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err.startswith(message) and shown.err.count("\n") == 1
