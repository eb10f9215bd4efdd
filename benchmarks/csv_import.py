"""Benchmark of `baton leads import`: a CSV of `--rows` realistic leads, imported by the real
command (a subprocess, as a user runs it) into an empty database of each kind.

Prints, per database: the rows, the wall time of the command (start-up and migration check
included), rows per second, the command's CPU time (its own process; on a shared machine the
figure that holds when the wall time does not), its peak memory (max RSS), and its own summary.
SQLite lives in a temporary directory; PostgreSQL is BATON_TEST_POSTGRES_URL, wiped and migrated.

Run from the repository root:

    .venv/bin/python -m benchmarks.csv_import [--databases sqlite,postgresql] [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.handoff import DATABASE_KINDS, EXAMPLE_RULES, empty_database
from benchmarks.machine import database_version, machine_facts
from bot.intake import FIELD_NAMES
from handlers.sample_leads import sample_leads

ROOT = Path(__file__).resolve().parent.parent
# The target for 100,000 rows, on these 2-core machines.
TARGET_SECONDS = 30.0


def write_csv(path: Path, rows: int) -> None:
    """`rows` leads from the demo's sample set, each with its own external_id."""
    leads = sample_leads(rows, now=datetime.now(UTC))
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(FIELD_NAMES))
        writer.writeheader()
        for number, lead in enumerate(leads):
            lead["external_id"] = f"csv-bench-{number}"
            lead["activities"] = json.dumps(lead.get("activities", []))
            writer.writerow(lead)


def run_import(url: str, path: Path) -> tuple[float, float, int, str, int]:
    """Wall seconds, CPU seconds, peak RSS in KiB, the last line it printed and the exit status
    of the command. Its output goes to files, so the process can be reaped with its resource
    usage."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),  # the tree the benchmark runs from, whatever is installed
        "DATABASE_URL": url,
        "BATON_CONFIG": str(EXAMPLE_RULES),
    }
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        command = subprocess.Popen(
            [sys.executable, "-m", "bot", "leads", "import", str(path)],
            cwd=path.parent,
            env=environment,
            stdout=out,
            stderr=err,
        )
        _, wait_status, usage = os.wait4(command.pid, 0)
        elapsed = time.perf_counter() - began
        command.returncode = os.waitstatus_to_exitcode(wait_status)
        out.seek(0)
        err.seek(0)
        said = (out.read().strip() or err.read().strip()).splitlines() or [""]
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss, said[-1], command.returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.csv_import", description=__doc__)
    parser.add_argument("--databases", default=",".join(DATABASE_KINDS))
    parser.add_argument("--rows", type=int, default=100_000)
    options = parser.parse_args(argv)
    kinds = [kind.strip() for kind in options.databases.split(",") if kind.strip()]
    if set(kinds) - set(DATABASE_KINDS) or not kinds or options.rows < 1:
        parser.error(f"--databases takes a list of {', '.join(DATABASE_KINDS)}; --rows >= 1")
    print(machine_facts())
    print(f"Baton CSV import benchmark: {options.rows} rows; databases: {', '.join(kinds)}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="baton-csv-bench-") as directory:
        path = Path(directory) / "leads.csv"
        write_csv(path, options.rows)
        print(f"file: {path.stat().st_size / 1024 / 1024:.1f} MiB", flush=True)
        for kind in kinds:
            with empty_database(kind) as url:
                elapsed, cpu, peak_kib, summary, status = run_import(url, path)
                print(f"\n== {database_version(url)} ==")
                print(
                    f"  {options.rows} rows in {elapsed:.1f} s: "
                    f"{options.rows / elapsed:.0f} rows/s, {cpu:.1f} s CPU, "
                    f"peak memory {peak_kib / 1024:.0f} MiB (load average "
                    f"{os.getloadavg()[0]:.2f})"
                )
                print(f"  baton said: {summary}")
                if status != 0 or f"{options.rows} created" not in summary:
                    print("  PROBLEM: not every row was created")
                    failed = True
                elif options.rows == 100_000 and elapsed > TARGET_SECONDS:
                    print(f"  NOTE: slower than the {TARGET_SECONDS:.0f} s target")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
