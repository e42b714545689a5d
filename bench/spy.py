"""Sample the running django-q2 clusters with py-spy, then say where their time went.

    .venv/bin/python bench/spy.py record OUT --seconds 60 [--after 0] [--rate 50] [--gil]
    .venv/bin/python bench/spy.py top OUT [--n 25] [--under jobs.refresh] [--gil]

`record` waits `--after` seconds, then samples every `manage.py qcluster` process on the
machine and its workers for `--seconds` (py-spy's raw "collapsed stacks" format; with
`--gil`, only the thread holding the GIL). Start it beside a benchmark, e.g. twice during
`bench/refresh.py --jobs 100000` to compare the pass's first minutes with its last ones.

`top` prints the functions with the largest share of the samples on the CPU: inclusive
(the function or anything it called) and self (the function itself). py-spy's idle
detection misses threads waiting on a socket or a lock when it samples without pausing
the process, so `top` drops the samples that end in a wait (`WAITS`), unless the file was
recorded with `--gil`.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path


def cluster_pids() -> list[int]:
    """Each cluster's parent process: py-spy's --subprocesses follows it into the workers."""
    found = subprocess.run(
        ["pgrep", "-f", "manage.py qcluster"], capture_output=True, text=True
    ).stdout.split()
    pids = {int(pid) for pid in found}
    roots = []
    for pid in sorted(pids):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue  # ended since pgrep saw it
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent not in pids:
            roots.append(pid)
    return roots


def record(out: Path, seconds: float, after: float, rate: int, gil: bool) -> None:
    time.sleep(after)
    roots = cluster_pids()
    if not roots:
        sys.exit("no manage.py qcluster process is running")
    spies = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(pid),
                "--subprocesses",
                "--nonblocking",
                *(["--gil"] if gil else []),
                "--rate",
                str(rate),
                "--duration",
                str(int(seconds)),
                "--format",
                "raw",
                "--output",
                f"{out}.{pid}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in roots
    ]
    for spy in spies:
        spy.wait()
    with out.open("w") as merged:
        for pid in roots:
            part = Path(f"{out}.{pid}")
            if part.exists():
                merged.write(part.read_text())
                part.unlink()
    print(f"{out}: {len(roots)} cluster(s) sampled for {seconds:g} s")


# Leaves where a thread waits, not computes: py-spy's own idle detection misses them when
# it samples without pausing the process, so they are dropped here.
WAITS = (
    "SocketIO.readinto",
    "Condition.wait",
    "Event.wait",
    "Connection.wait",
    "do_poll",
    "select (selectors.py)",
    "RefreshLoop.run (jobs/refresh/loop.py)",  # its time.sleep between dispatches
    "Lock.acquire",
)


def top(out: Path, n: int, under: str, gil: bool) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame.strip() for frame in stack.split(";") if frame.strip()]
        # The first frame names the process and thread; the rest are "function (file:line)".
        frames = [_name(frame) for frame in frames[1:]] or ["?"]
        if any(frames[-1].startswith(wait) for wait in WAITS) and not gil:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        sys.exit(f"{out}: no samples")
    print(f"{out}: {total:,} samples on the CPU")
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\n-- {title} --")
        shown = 0
        for frame, count in counter.most_common():
            if under and under not in frame and title == "inclusive":
                continue
            print(f"{100 * count / total:6.1f} %  {frame}")
            shown += 1
            if shown == n:
                break


def _name(frame: str) -> str:
    # "store (jobs/refresh/store.py:120)" -> "store (jobs/refresh/store.py)": one row a function.
    function, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{function} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--seconds", type=float, default=60.0)
    rec.add_argument("--after", type=float, default=0.0)
    rec.add_argument("--rate", type=int, default=50)
    rec.add_argument(
        "--gil", action="store_true", help="only threads holding the GIL (Python on the CPU)"
    )
    show = sub.add_parser("top")
    show.add_argument("out", type=Path)
    show.add_argument("--n", type=int, default=25)
    show.add_argument("--under", default="", help="only inclusive rows whose name has this")
    show.add_argument("--gil", action="store_true", help="recorded with --gil: keep every sample")
    args = parser.parse_args()
    if args.command == "record":
        record(args.out, args.seconds, args.after, args.rate, args.gil)
    else:
        top(args.out, args.n, args.under, args.gil)


if __name__ == "__main__":
    main()
