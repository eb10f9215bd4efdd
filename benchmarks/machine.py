"""The machine a benchmark ran on, printed first by every benchmark so figures can be compared."""

from __future__ import annotations

import os
import platform
import sqlite3
from pathlib import Path

from storage.db import Database


def _first_value(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_facts() -> str:
    """CPU model, cores, memory, load, Python and SQLite: what decides the figures after it."""
    cpu = _first_value("/proc/cpuinfo", "model name") or "unknown CPU"
    memory_kb = _first_value("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.0f} GB" if memory_kb else "? GB"
    load1, load5, _ = os.getloadavg()
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory} memory (load average "
        f"{load1:.2f}/{load5:.2f}); {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, SQLite {sqlite3.sqlite_version}"
    )


def database_version(url: str) -> str:
    """The database kind and its server version, e.g. `postgresql 15.18`."""
    db = Database.from_url(url)
    try:
        with db.engine.connect():
            info = db.engine.dialect.server_version_info or ()
        return f"{db.dialect} {'.'.join(str(part) for part in info)}"
    finally:
        db.dispose()
