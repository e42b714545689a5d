"""Child processes of a benchmark run and what /proc says about them (memory, CPU)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SAMPLE_SECONDS = 0.2


# --- /proc ------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def descendants(root: int) -> list[int]:
    """Every live process under `root` (not `root` itself), by walking parent ids."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _kb(path: str, label: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(label):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size: forked workers share pages, which RSS counts in each."""
    return _kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_cpu() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine since boot, from /proc/stat: what a
    pass's processes cannot undercount (a PostgreSQL backend that exits mid-pass takes
    its own CPU seconds with it)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every PostgreSQL server process (backends come and go)."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                name = Path(f"/proc/{entry}/comm").read_text().strip()
            except OSError:
                continue
            if name == "postgres":
                found[int(entry)] = cpu_seconds(int(entry))
    return found


class TreeSampler(threading.Thread):
    """Samples RSS and CPU of a process and its descendants until stopped.

    The set of descendants is re-read once a second (a /proc walk is not free on a
    2-core machine that is also running the benchmark), their status every 0.2 s.
    """

    def __init__(self, root: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.root = root
        self.peak_kb: dict[int, int] = {}
        self.peak_total_kb = 0
        self.peak_total_pss_kb = 0
        self.cpu: dict[int, float] = {}
        self.lock = threading.Lock()
        self.halt = threading.Event()

    def run(self) -> None:
        pids: list[int] = []
        next_walk = 0.0
        while not self.halt.is_set():
            if time.monotonic() >= next_walk:
                pids = [self.root, *descendants(self.root)]
                next_walk = time.monotonic() + 1.0
            total = total_pss = 0
            with self.lock:
                for pid in pids:
                    rss = rss_kb(pid)
                    if rss:
                        total += rss
                        total_pss += pss_kb(pid)
                        self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), rss)
                        self.cpu[pid] = cpu_seconds(pid)
                self.peak_total_kb = max(self.peak_total_kb, total)
                self.peak_total_pss_kb = max(self.peak_total_pss_kb, total_pss)
            self.halt.wait(SAMPLE_SECONDS)

    def cpu_snapshot(self) -> dict[int, float]:
        with self.lock:
            return dict(self.cpu)

    def stop(self) -> None:
        self.halt.set()
        self.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(
    args: list[str], env: dict[str, str], log: Path, *, script: str = "manage.py"
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [PYTHON, script, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate a child we started, then kill it and anything it forked that lingers.

    django-q2 lets a running task finish on SIGTERM, and a refresh loop lives 55 s:
    after the grace period the workers are killed (their leases simply expire).
    """
    if process.poll() is not None:
        return
    tree = descendants(process.pid)
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    for pid in [*tree, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if process.poll() is None:
        process.kill()
        process.wait()


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
