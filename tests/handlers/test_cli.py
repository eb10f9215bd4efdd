"""The `baton` command line, run as a user runs it: a subprocess with an environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage import leads as lead_store
from storage import migrate
from storage.db import Database, create_db_engine
from tests.conftest import postgres_url, reset_postgres

HEAD = migrate.head_revision(create_db_engine("sqlite://"))
GOOD_AND_BAD = """external_id,name,email,score,source,activities
csv-1,Ada Lovelace,ada@engines.example,91,webinar,"[{""type"": ""webinar"", ""detail"": ""Q4""}]"
csv-2,,nobody@example.com,50,ads,
csv-3,Grace Hopper,grace@navy.example,77,referral,
csv-4,Alan Turing,not-an-email,120,ads,
csv-5,Edsger Dijkstra,ed@example.com,60,ads,[broken json
"""


def baton(
    *args: str, cwd: Path, env: dict[str, str], check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` (the same CLI as `baton`) with exactly the given settings."""
    environ = {"PATH": os.environ["PATH"], "HOME": str(cwd), **env}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def test_db_upgrade_reports_the_revision(tmp_path: Path) -> None:
    result = baton("db", "upgrade", cwd=tmp_path, env={})
    assert result.returncode == 0, result.stderr
    assert f"schema revision: {HEAD}" in result.stdout
    assert (tmp_path / "baton.db").exists()  # the embedded default, in the working directory


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(
    tmp_path: Path, database_url: str
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(GOOD_AND_BAD)
    env = {"DATABASE_URL": database_url}

    first = baton("leads", "import", str(csv_file), cwd=tmp_path, env=env)
    assert first.returncode == 1
    assert "2 created, 0 already present, 3 rejected" in first.stdout
    errors = first.stderr.strip().splitlines()
    assert [line.split(": ")[0] for line in errors] == [
        f"{csv_file}:3",
        f"{csv_file}:5",
        f"{csv_file}:6",
    ]
    assert "name" in errors[0] and "email" in errors[1] and "score" in errors[1]
    assert "activities" in errors[2]

    again = baton("leads", "import", str(csv_file), cwd=tmp_path, env=env)
    assert "0 created, 2 already present, 3 rejected" in again.stdout

    db = Database.from_url(database_url)
    with db.read() as session:
        stored = {lead.external_id: lead for lead in lead_store.list_leads(session)}
    db.dispose()
    assert set(stored) == {"csv-1", "csv-3"}
    assert stored["csv-1"].activities == [{"type": "webinar", "detail": "Q4", "at": None}]


def test_import_with_unknown_columns_imports_nothing(tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("external_id,name,colour\nx-1,Someone,red\n")
    result = baton("leads", "import", str(csv_file), cwd=tmp_path, env={})
    assert result.returncode == 1
    assert "unknown column(s): colour" in result.stderr
    assert "0 created" in result.stdout


def test_import_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = baton("leads", "import", "nope.csv", cwd=tmp_path, env={})
    assert result.returncode == 2
    assert "no such file: nope.csv" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["serve"], {}, "SLACK_BOT_TOKEN"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (["db", "upgrade"], {"BATON_CONFIG": "missing.toml"}, "BATON_CONFIG"),
        (["db", "upgrade"], {"BATON_PORT": "http"}, "BATON_PORT"),
    ],
)
def test_configuration_errors_stop_with_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], named: str
) -> None:
    result = baton(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.stderr


def test_dotenv_file_is_loaded_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BATON_CONFIG=from-dotenv.toml\n")
    from_file = baton("db", "upgrade", cwd=tmp_path, env={})
    assert "from-dotenv.toml" in from_file.stderr
    overridden = baton("db", "upgrade", cwd=tmp_path, env={"BATON_CONFIG": "env.toml"})
    assert "env.toml" in overridden.stderr and "from-dotenv" not in overridden.stderr


def test_check_reports_an_unreachable_slack(tmp_path: Path) -> None:
    result = baton(
        "check",
        cwd=tmp_path,
        env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "http://127.0.0.1:9/api/"},
    )
    assert result.returncode == 1
    assert "configuration: ok" in result.stdout
    assert "database: ok (sqlite, schema empty, needs `baton db upgrade`)" in result.stdout
    assert "slack: http://127.0.0.1:9/api/ is unreachable" in result.stdout


def test_a_server_database_must_be_upgraded_on_purpose(tmp_path: Path) -> None:
    url = postgres_url()
    reset_postgres(url)
    try:
        (tmp_path / "x.csv").write_text("external_id,name\n")
        result = baton("leads", "import", "x.csv", cwd=tmp_path, env={"DATABASE_URL": url})
        assert result.returncode == 2
        assert "run `baton db upgrade`" in result.stderr
    finally:
        assert baton("db", "upgrade", cwd=tmp_path, env={"DATABASE_URL": url}).returncode == 0
