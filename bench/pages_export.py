"""The pages benchmark's (f): the job list's CSV export of every job (/jobs.csv), served
over real HTTP by one gunicorn worker in a process of its own, so that process's memory is
the export's and nothing else's.

Per size, twice (the bytes as they are, `Accept-Encoding: identity`, then gzip as a browser
asks): the time to the first and to the last byte, the bytes and rows received, and the
worker's RSS before the export and its peak during it (VmHWM, reset just before through
/proc/<pid>/clear_refs, and cross-checked by sampling). The goal is constant memory: the
peak's growth over the RSS before, at the largest size, at most GOAL_MB above the growth at
the smallest (10,000 jobs when the run has that size; run both in one go to compare).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from bench.procs import (
    ROOT,
    TreeSampler,
    cpu_seconds,
    descendants,
    free_port,
    rss_kb,
    stop,
    tail,
)

GOAL_MB = 50.0
URL = "/jobs.csv"
WARMUP_URLS = ("/", "/jobs.csv?q=zz-no-such-job")  # imports, templates, the FTS probe


def _status_kb(pid: int, label: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(label):
            return int(line.split()[1])
    return 0


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux: clear_refs, value 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def session_cookie() -> str:
    """A logged-in session of the benchmark's superuser, stored where the worker reads it."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    user = get_user_model().objects.get(username="bench")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    assert session.session_key
    return session.session_key


def start_server(log: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """gunicorn with one gthread worker (whose heartbeat a long download does not stop,
    unlike a sync worker's) on the benchmark's database; (master, worker pid, base URL)."""
    import requests

    port = free_port()
    env = dict(os.environ, ALLOWED_HOSTS="127.0.0.1,testserver")
    argv = [str(Path(sys.executable).parent / "gunicorn"), "dashboard.wsgi"]
    argv += ["-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "2"]
    argv += ["--no-control-socket"]  # the default path is shared by every gunicorn here
    with log.open("ab") as out:
        master = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{tail(log)}")
        try:
            requests.get(f"{base}/login/", timeout=2)
            workers = descendants(master.pid)
            if len(workers) == 1:
                return master, workers[0], base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(master)
    raise SystemExit(f"gunicorn did not answer:\n{tail(log)}")


def download(base: str, cookie: str, worker: int, *, gzip: bool) -> dict[str, Any]:
    """One export, read to its last byte as it arrives (never held whole)."""
    import requests

    _reset_peak(worker)
    before_kb, cpu_before = rss_kb(worker), cpu_seconds(worker)
    sampler = TreeSampler(worker)
    sampler.start()
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    wire = csv_bytes = newlines = 0
    first_byte = None
    t0 = time.perf_counter()
    with requests.get(
        base + URL, cookies={"sessionid": cookie}, headers=headers, stream=True, timeout=900
    ) as response:
        if response.status_code != 200:
            raise SystemExit(f"(f) {URL} answered {response.status_code}")
        encoding = response.headers.get("Content-Encoding", "identity")
        for piece in response.raw.stream(1 << 16, decode_content=False):
            first_byte = first_byte or time.perf_counter() - t0
            wire += len(piece)
            text = inflate.decompress(piece) if inflate else piece
            csv_bytes += len(text)
            newlines += text.count(b"\n")  # a CRLF may straddle two pieces; an LF may not
    seconds = time.perf_counter() - t0
    sampler.stop()
    peak_kb = _status_kb(worker, "VmHWM:")
    rows = newlines - 1  # the header; the generated jobs have no line break in a cell
    return {
        "encoding": encoding,
        "rows": rows,
        "csv_mb": round(csv_bytes / 2**20, 1),
        "wire_mb": round(wire / 2**20, 1),
        "first_byte_ms": round((first_byte or seconds) * 1000, 1),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / max(seconds, 1e-9)),
        "rss_before_mb": round(before_kb / 1024, 1),
        "peak_mb": round(peak_kb / 1024, 1),
        "sampled_peak_mb": round(sampler.peak_kb.get(worker, 0) / 1024, 1),
        "growth_mb": round((peak_kb - before_kb) / 1024, 1),
        "worker_cpu_s": round(cpu_seconds(worker) - cpu_before, 1),
    }


def measure_export(size: int, data_dir: Path) -> dict[str, Any]:
    """(f) at this size: an identity and a gzip download of every job."""
    import requests

    cookie = session_cookie()
    master, worker, base = start_server(data_dir / "gunicorn-export.log")
    try:
        for url in WARMUP_URLS:
            response = requests.get(base + url, cookies={"sessionid": cookie}, timeout=60)
            if response.status_code != 200:
                raise SystemExit(f"(f) warm-up {url} answered {response.status_code}")
        plain = download(base, cookie, worker, gzip=False)
        packed = download(base, cookie, worker, gzip=True)
    finally:
        stop(master)
    if plain["rows"] != size or packed["rows"] != size:
        raise SystemExit(f"(f) exported {plain['rows']}/{packed['rows']} rows of {size} jobs")
    return {"size": size, "identity": plain, "gzip": packed}


def print_export(db: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n=== {db}: (f) CSV export of every job ({URL}), one gunicorn gthread worker ===")
    print(
        f"{'jobs':>9} {'enc':>8} {'rows':>9} {'CSV MB':>7} {'wire MB':>7} {'1st ms':>7}"
        f" {'s':>7} {'rows/s':>7} {'RSS MB':>7} {'peak':>7} {'growth':>7} {'cpu s':>6}"
    )
    for row in rows:
        for m in (row["export"]["identity"], row["export"]["gzip"]):
            print(
                f"{row['size']:>9} {m['encoding']:>8} {m['rows']:>9} {m['csv_mb']:>7}"
                f" {m['wire_mb']:>7} {m['first_byte_ms']:>7} {m['seconds']:>7}"
                f" {m['rows_per_s']:>7} {m['rss_before_mb']:>7} {m['peak_mb']:>7}"
                f" {m['growth_mb']:>7} {m['worker_cpu_s']:>6}"
            )


def evaluate_export(rows: list[dict[str, Any]]) -> tuple[str, bool | None, str]:
    """The goal: the peak RSS growth at the largest size at most GOAL_MB over the smallest's."""
    first, last = rows[0], rows[-1]

    def growth(row: dict[str, Any]) -> float:
        return max(row["export"][enc]["growth_mb"] for enc in ("identity", "gzip"))

    measured = ", ".join(f"{r['size']}: +{growth(r)} MB" for r in rows)
    name = f"(f) export peak RSS growth at {last['size']} <= {GOAL_MB:g} MB over {first['size']}"
    if len(rows) == 1:
        return name, None, f"one size only ({measured}); goal {GOAL_MB:g} MB over a 10k run's"
    extra = growth(last) - growth(first)
    return name, extra <= GOAL_MB, f"goal {GOAL_MB:g} MB, measured {extra:+.1f} MB ({measured})"
