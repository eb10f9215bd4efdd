"""The machine a benchmark ran on, printed first by every benchmark so figures can be compared."""

from __future__ import annotations

import functools
import json
import mmap
import os
import platform
import resource
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot import intake, json_input
from handlers.sample_leads import sample_leads
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
    """CPU model, cores, memory, load, speed, Python and SQLite: what decides the figures after
    it."""
    cpu = _first_value("/proc/cpuinfo", "model name") or "unknown CPU"
    memory_kb = _first_value("/proc/meminfo", "MemTotal")
    memory = f"{int(memory_kb.split()[0]) / 1024 / 1024:.0f} GB" if memory_kb else "? GB"
    load1, load5, _ = os.getloadavg()
    return (
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory} memory (load average "
        f"{load1:.2f}/{load5:.2f}; a fixed Python loop {python_loop_ms():.0f} ms, a page fault "
        f"{page_fault_us():.1f} µs, a fixed batch checked in {batch_check_ms():.0f} ms); "
        f"{platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}, SQLite {sqlite3.sqlite_version}"
    )


def python_loop_ms(runs: int = 3) -> float:
    """Milliseconds one core takes for a fixed loop of Python now, the median of `runs`: one
    virtual machine of the development kind ran such a loop a third slower from one hour to
    the next, and every figure of a run moved with it; this tells a slow hour from slow code."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number * number % 7
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


PROBE_PAGES = 8192  # 32 MB of 4 KiB pages


def page_fault_us(runs: int = 3) -> float:
    """Microseconds the machine takes now to give this process a page of memory it touches
    first, the median of `runs`. A virtual machine can make this cost vary many times over
    (the host hands back the memory the guest freed and maps it again when touched, which no
    steal shows): a batch of leads touches fresh memory a few hundred times, a click hardly."""
    times = []
    for _ in range(runs):
        region = mmap.mmap(
            -1, PROBE_PAGES * mmap.PAGESIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
        )
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        began = time.perf_counter()
        for offset in range(0, PROBE_PAGES * mmap.PAGESIZE, mmap.PAGESIZE):
            region[offset] = 1
        touched = time.perf_counter() - began
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        began = time.perf_counter()
        for offset in range(0, PROBE_PAGES * mmap.PAGESIZE, mmap.PAGESIZE):
            region[offset] = 1  # the same loop once the pages are there: what it costs alone
        again = time.perf_counter() - began
        region.close()
        times.append((touched - again) / max(faults, 1))
    return statistics.median(times) * 1e6


def batch_check_ms(runs: int = 3) -> float:
    """Milliseconds this machine takes now to parse and check a fixed batch of 1,000 leads
    (`bot.intake.check_batch`, before any database), the median of `runs`. Unlike the fixed
    loop, which stays in the core's caches, it walks fresh memory as a batch does: on these
    virtual machines a batch sometimes cost 1.5-1.85 times its usual CPU while the loop and the
    page fault said nothing, and this tells such a moment from slow code."""
    body = _fixed_batch()
    intake.check_batch(json_input.parse(body))  # the first pass warms what the others reuse
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        intake.check_batch(json_input.parse(body))
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


@functools.cache
def _fixed_batch() -> bytes:
    leads = sample_leads(1000, now=datetime(2026, 11, 24, tzinfo=UTC))
    return json.dumps({"leads": leads}).encode()


@dataclass(frozen=True)
class CoreTimes:
    """The machine's CPU time so far, all cores, from /proc/stat: what the host took back from
    this virtual machine ("steal") and the total, in clock ticks."""

    stolen: int
    total: int

    @classmethod
    def now(cls) -> CoreTimes:
        try:
            first = Path("/proc/stat").read_text().splitlines()[0].split()
        except (OSError, IndexError):
            return cls(0, 0)
        ticks = [int(value) for value in first[1:9]]  # user … steal; guest time is in user
        return cls(stolen=ticks[7] if len(ticks) > 7 else 0, total=sum(ticks))

    def stolen_since(self, earlier: CoreTimes) -> str:
        """The share of the cores' time the host took since `earlier`: a run whose host took
        a tenth of it ran on less of a machine than its core count says."""
        total = self.total - earlier.total
        if total <= 0:
            return "the host's share of the cores unknown"
        return f"the host took {(self.stolen - earlier.stolen) / total:.1%} of the cores' time"


def database_version(url: str) -> str:
    """The database kind and its server version, e.g. `postgresql 15.18`."""
    db = Database.from_url(url)
    try:
        with db.engine.connect():
            info = db.engine.dialect.server_version_info or ()
        return f"{db.dialect} {'.'.join(str(part) for part in info)}"
    finally:
        db.dispose()


@dataclass(frozen=True)
class Use:
    """What a process or a thread has used so far: CPU seconds (user plus system) and minor
    page faults (memory it touched first)."""

    cpu: float = 0.0
    faults: int = 0

    def __add__(self, other: Use) -> Use:
        return Use(self.cpu + other.cpu, self.faults + other.faults)

    def __sub__(self, other: Use) -> Use:
        return Use(self.cpu - other.cpu, self.faults - other.faults)


def use_of(pid: int | None = None, thread: int | None = None) -> Use:
    """A process's use so far (this one by default), or one `thread`'s of it (its native id),
    from /proc: figures the other work on a shared machine does not distort as it does
    wall-clock rates. Nothing where /proc is missing (macOS) or the process is gone."""
    path = f"/proc/{pid or 'self'}" + (f"/task/{thread}" if thread is not None else "")
    try:
        stat = Path(f"{path}/stat").read_text()
    except OSError:
        return Use()
    fields = stat.rpartition(")")[2].split()  # the name before ")" may hold spaces
    user, system = int(fields[11]), int(fields[12])  # utime and stime, fields 14 and 15
    return Use((user + system) / os.sysconf("SC_CLK_TCK"), int(fields[7]))  # minflt, field 10


def cpu_seconds(pid: int | None = None) -> float:
    """User plus system CPU a process has used so far (this one by default); 0.0 where /proc
    is missing or the process is gone."""
    return use_of(pid).cpu
