"""The `baton` command line, run as a user runs it: a subprocess with an environment."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from storage import leads as lead_store
from storage import migrate
from storage.db import Database, create_db_engine
from tests.conftest import free_port, postgres_url, reset_postgres

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


# Enough settings for every command to get as far as its database.
SERVING = {
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "signing-secret",
    "BATON_INTAKE_TOKEN": "intake-token",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
}
TOO_MANY_REASONS = "[reasons]\n" + "".join(f'r{n} = "Reason {n}"\n' for n in range(101))
NOBODY_LISTENS = f"postgresql://baton:hunter2@127.0.0.1:{free_port()}/baton"
# (files written in the working directory, environment, the line the command stops with)
START_UP_PROBLEMS = {
    "baton.toml in latin-1": (
        {"baton.toml": b'[hours]\ntimezone = "Europe/Paris"\n# Ren\xe9e\n'},
        {},
        "configuration error: baton.toml:3: byte 0xE9 is not UTF-8; save the file as UTF-8",
    ),
    "baton.toml in UTF-16": (
        {"baton.toml": '[hours]\ntimezone = "UTC"\n'.encode("utf-16")},
        {},
        "configuration error: baton.toml:1: the file is UTF-16, not UTF-8",
    ),
    ".env in latin-1": (
        {".env": b"BATON_PORT=3000\nBATON_HOST=ren\xe9e.local\n"},
        {},
        "configuration error: .env:2: byte 0xE9 is not UTF-8",
    ),
    "more reasons than the reject form lists": (
        {"baton.toml": TOO_MANY_REASONS.encode()},
        {},
        "configuration error: baton.toml: reasons: at most 100 reasons",
    ),
    "a DATABASE_URL port that is not a number": (
        {},
        {"DATABASE_URL": "postgresql://baton:hunter2@db:five/baton"},
        "configuration error: DATABASE_URL: is not a valid URL",
    ),
    "a DATABASE_URL driver Baton does not ship": (
        {},
        {"DATABASE_URL": "postgresql+asyncpg://db/baton"},
        "configuration error: DATABASE_URL: must be a sqlite:/// or postgresql:// URL",
    ),
    "an SQLite folder that does not exist": (
        {},
        {"DATABASE_URL": "sqlite:////nonexistent/dir/baton.db"},
        "database error: sqlite:////nonexistent/dir/baton.db: unable to open database file; "
        "does its folder exist, and may Baton write there?",
    ),
    "an SQLite file that is no database": (
        {"baton.db": b"PK\x03\x04 a zip file, say" * 100},
        {},
        "database error: sqlite:///baton.db: file is not a database",
    ),
    "PostgreSQL where nothing listens": (
        {},
        {"DATABASE_URL": NOBODY_LISTENS},
        f"database error: {NOBODY_LISTENS.replace('hunter2', '***')}: connection failed: ",
    ),
}
COMMANDS = {
    "serve": ["serve"],
    "check": ["check"],
    "db upgrade": ["db", "upgrade"],
    "leads import": ["leads", "import", "leads.csv"],
    "report": ["report", "feedback"],
}
# The three cases meet every command; the rest one command each, to keep the run short.
EVERY_COMMAND = (
    "baton.toml in latin-1",
    "an SQLite folder that does not exist",
    "PostgreSQL where nothing listens",
)


def start_up_cases() -> list[tuple[str, str]]:
    cases = []
    for problem, (_, _, stop) in START_UP_PROBLEMS.items():
        commands = list(COMMANDS) if problem in EVERY_COMMAND else ["db upgrade"]
        # `baton check` reports an unreachable database among its checks (see below).
        stops_check = stop.startswith("configuration error")
        cases += [(problem, c) for c in commands if c != "check" or stops_check]
    return cases


def in_directory(tmp_path: Path, problem: str) -> dict[str, str]:
    files, env, _ = START_UP_PROBLEMS[problem]
    (tmp_path / "leads.csv").write_text("external_id,name\n")
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return {**SERVING, **env}


@pytest.mark.parametrize(("problem", "command"), start_up_cases())
def test_a_start_up_problem_stops_with_one_line(tmp_path: Path, problem: str, command: str) -> None:
    env = in_directory(tmp_path, problem)

    result = baton(*COMMANDS[command], cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"baton: {START_UP_PROBLEMS[problem][2]}"), line
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    "problem", [p for p in EVERY_COMMAND if START_UP_PROBLEMS[p][2].startswith("database error")]
)
def test_check_names_why_the_database_is_unreachable(tmp_path: Path, problem: str) -> None:
    env = in_directory(tmp_path, problem)
    del env["SLACK_BOT_TOKEN"]  # Slack is not what this is about

    result = baton("check", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "hunter2" not in result.stdout
    reason = START_UP_PROBLEMS[problem][2].split(": ", 2)[2]
    assert f"database: unreachable ({reason}" in result.stdout


def many_rows_csv(path: Path, rows: int, *, bad: dict[int, str], repeat: dict[int, int]) -> None:
    """`rows` leads; `bad` puts a broken email on those data rows (1-based), `repeat` gives a
    row the external_id of an earlier one."""
    lines = ["external_id,name,email"]
    for number in range(1, rows + 1):
        external_id = f"many-{repeat.get(number, number)}"
        lines.append(f"{external_id},Lead {number},{bad.get(number, f'l{number}@example.com')}")
    path.write_text("\n".join(lines) + "\n")


def test_import_of_many_chunks_counts_and_names_every_row(
    tmp_path: Path, database_url: str
) -> None:
    csv_file = tmp_path / "many.csv"
    # Rows 2 and 2001 are broken, row 1500 repeats row 10 with another name and email (an
    # update): each in a different chunk of 1,000.
    many_rows_csv(csv_file, 2500, bad={2: "nope", 2001: "no@"}, repeat={1500: 10})

    result = baton(
        "leads", "import", str(csv_file), cwd=tmp_path, env={"DATABASE_URL": database_url}
    )

    assert result.returncode == 1
    assert "2497 created, 1 already present (1 updated), 2 rejected (2500 rows in " in result.stdout
    # Only the bad rows on stderr (by their line: the header is line 1); no progress bar off a
    # terminal.
    assert [line.split(": ")[0] for line in result.stderr.splitlines()] == [
        f"{csv_file}:3",
        f"{csv_file}:2002",
    ]
    db = Database.from_url(database_url)
    with db.read() as session:
        stored = {lead.external_id for lead in lead_store.list_leads(session)}
    db.dispose()
    assert len(stored) == 2497 and "many-2" not in stored and "many-2001" not in stored


def baton_on_a_terminal(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal of 100 x 30, as in a person's shell: its
    exit status, stdout, and what the terminal showed."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    shown = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal is closed
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    environ = {"PATH": os.environ["PATH"], "HOME": str(cwd), **env}
    command = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
        timeout=60,
        check=False,
    )
    os.close(terminal)
    reader.join(timeout=10)
    os.close(controller)
    return command.returncode, command.stdout, shown.decode()


def test_import_draws_a_progress_bar_on_a_terminal(tmp_path: Path, database_url: str) -> None:
    csv_file = tmp_path / "many.csv"
    many_rows_csv(csv_file, 2500, bad={}, repeat={})

    status, out, shown = baton_on_a_terminal(
        "leads", "import", str(csv_file), cwd=tmp_path, env={"DATABASE_URL": database_url}
    )

    assert status == 0
    assert "2500 created, 0 already present, 0 rejected" in out
    assert "0/2500 [" in shown and "rows/s" in shown  # the bar, drawn from the start
    assert shown.endswith("\r" + " " * 100 + "\r")  # as wide as the terminal, wiped at the end
