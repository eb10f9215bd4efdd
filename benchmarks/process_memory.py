"""The memory of a server and of every process it starts: RSS and PSS from
/proc/PID/smaps_rollup. A page several processes map (libpython, libc, libcrypto, a .so a
package loads, a forked child's untouched pages) counts in full in each one's RSS, but is shared
out among them in their PSS (proportional set size): the sum of the processes' PSS is what they
cost the machine together, what the kernel would give back if they all ended; the sum of their
RSS counts each shared page once per process (here some 7 MB of libraries a Python process).

`snapshot(pid)` reads them once; `watching(pid)` samples them in a process of its own (reading
smaps_rollup walks the page tables: not on the measured server's CPU) until the block ends, and
keeps each process's peaks and the peak of their sum. Run as `python -m benchmarks.process_memory
PID [SECONDS]` it samples until its standard input closes, then prints the peaks as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.2


@dataclass
class Peaks:
    """Per process (named by its role) the peak RSS and PSS in MB; the peak of their sums, and
    what each process held at the moment of each sum's peak."""

    rss: dict[str, float] = field(default_factory=dict)
    pss: dict[str, float] = field(default_factory=dict)
    rss_sum: float = 0.0
    pss_sum: float = 0.0
    rss_at_sum: dict[str, float] = field(default_factory=dict)
    pss_at_sum: dict[str, float] = field(default_factory=dict)

    def add(self, sample: dict[str, tuple[float, float]]) -> None:
        for role, (rss, pss) in sample.items():
            self.rss[role] = max(self.rss.get(role, 0.0), rss)
            self.pss[role] = max(self.pss.get(role, 0.0), pss)
        rss_sum = sum(rss for rss, _ in sample.values())
        pss_sum = sum(pss for _, pss in sample.values())
        if rss_sum > self.rss_sum:
            self.rss_sum, self.rss_at_sum = rss_sum, {r: v for r, (v, _) in sample.items()}
        if pss_sum > self.pss_sum:
            self.pss_sum, self.pss_at_sum = pss_sum, {r: v for r, (_, v) in sample.items()}

    def lines(self, title: str) -> list[str]:
        """A snapshot's one line; for peaks, the sums' peaks with what made them up, then each
        process's own peak (which the processes need not have reached at once)."""
        if self.rss == self.rss_at_sum and self.pss == self.pss_at_sum:
            return [
                f"  memory {title}: sum RSS {self.rss_sum:.0f} MB, sum PSS {self.pss_sum:.0f} MB "
                f"(RSS/PSS: {_each(self.rss, self.pss)})"
            ]
        return [
            f"  memory {title}: sum RSS {self.rss_sum:.0f} MB ({_parts(self.rss_at_sum)}), "
            f"sum PSS {self.pss_sum:.0f} MB ({_parts(self.pss_at_sum)})",
            f"  each process's own peak (RSS/PSS MB): {_each(self.rss, self.pss)}",
        ]


def _parts(by_role: dict[str, float]) -> str:
    return " + ".join(f"{role} {mb:.0f}" for role, mb in sorted(by_role.items()))


def _each(rss: dict[str, float], pss: dict[str, float]) -> str:
    return ", ".join(f"{role} {rss[role]:.0f}/{pss[role]:.0f}" for role in sorted(rss))


def rss_pss_mb(pid: int) -> tuple[float, float]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])
    return fields["Rss"] / 1024, fields["Pss"] / 1024


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with suppress(OSError):
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(_descendants(int(child)))
    return found


def _role(pid: int, server: int) -> str:
    if pid == server:
        return "server"
    if Path(f"/proc/{pid}/comm").read_text().strip() == "baton-delivery":
        return "delivery"  # forked from the server, whose command line it keeps
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    for marker, role in (
        ("delivery_process", "delivery"),
        ("web_processes", "web"),
        ("slack_process", "slack emulator"),
        (" -P ", "chart"),
    ):
        if marker in command:
            return f"{role} {pid}" if role == "web" else role
    return f"other {pid}"


def snapshot(pid: int, *, skip: tuple[str, ...] = ("slack emulator",)) -> Peaks:
    """The memory of `pid` and its descendants now (the emulator, a benchmark's, left out)."""
    peaks = Peaks()
    sample: dict[str, tuple[float, float]] = {}
    for each in [pid, *_descendants(pid)]:
        with suppress(OSError, KeyError, IndexError):  # ended meanwhile
            role = _role(each, pid)
            if role not in skip and not role.startswith("other"):
                sample[role] = rss_pss_mb(each)
    peaks.add(sample)
    return peaks


@contextmanager
def watching(pid: int, *, every: float = SAMPLE_SECONDS) -> Iterator[Peaks]:
    """The peaks of `pid` and its descendants while in the block (filled in when it ends),
    sampled `every` seconds."""
    peaks = Peaks()
    watcher = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.process_memory", str(pid), str(every)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield peaks
    finally:
        output, _ = watcher.communicate(b"")
        with suppress(ValueError):
            found = json.loads(output)
            vars(peaks).update(found)


def _watch(pid: int, every: float) -> None:
    peaks = Peaks()
    done = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    while not done.wait(every):
        snap = snapshot(pid)
        peaks.add({role: (snap.rss[role], snap.pss[role]) for role in snap.rss})
    json.dump(vars(peaks), sys.stdout)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else SAMPLE_SECONDS)
