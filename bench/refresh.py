"""Benchmark one full refresh pass the way production runs it, and the naive way.

    .venv/bin/python bench/refresh.py [--jobs 10000] [--db sqlite|postgres]
                                      [--naive-sample 500] [--state running|queued]
                                      [--no-debug] [--keep]

What it does, in one run:

1. A fresh data dir and database (SQLite in the temp dir, or PostgreSQL `clapboard_bench`
   with Redis db 14 as the django-q2 broker), migrated by `manage.py migrate`.
2. `manage.py simulate` as a separate process: 50 ms per request and the issue's rate
   limits (IVH 50/s, VOD 100/s, CI 20/s, MetaStudio 10/s, ICE 50/s).
3. One account per provider with the same rate limits, and N/5 synthetic jobs each that
   stay `running` with unchanging progress for the whole run (or `queued`), so every poll
   is a success and a re-poll of a running job changes nothing.
4. The measured pass: `manage.py qcluster` (two workers) runs `jobs.tasks.refresh_loop`;
   the first loop is enqueued as soon as the cluster is up, and the every-minute schedule
   starts the following ones (needed when a pass outlives one 55 s loop). The clock
   stops when every job has `last_polled_at`. RSS and CPU of the cluster's processes are
   sampled from /proc every 0.2 s; requests are counted by the simulator.
5. Checks for failed or lost updates, then the naive pass over a sample: one request per
   job, sequentially, each on a brand-new connection, applied with the same service.

It prints a table and, last, one JSON line with every number.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

# After the path fix above, hence the noqa: E402.
from bench.naive import naive_pass  # noqa: E402
from bench.procs import PYTHON, free_port, start  # noqa: E402
from bench.refresh_pass import check_updates, run_pass  # noqa: E402
from bench.refresh_report import fmt, report  # noqa: E402
from bench.world import (  # noqa: E402
    JOB_SHAPES,
    LATENCY,
    RATE_LIMITS,
    clean_up,
    create_world,
    prepare_environment,
    wait_for_simulator,
)

# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--jobs", type=int, default=10_000, help="total jobs, split over 5 providers"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=500,
        help="jobs to poll naively, split over the providers (0: all of them)",
    )
    parser.add_argument(
        "--state",
        choices=tuple(JOB_SHAPES),
        default="running",
        help="what every job answers: running (re-polled every 10 s) or queued (every 120 s)",
    )
    parser.add_argument(
        "--no-debug",
        dest="debug",
        action="store_false",
        help="DEBUG=false, as in production (DEBUG logs every query)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and database")
    args = parser.parse_args()
    if args.jobs < len(RATE_LIMITS):
        parser.error(f"--jobs must be at least {len(RATE_LIMITS)}")
    return args


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="clapboard-bench-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        env = prepare_environment(args.db, data_dir, debug=args.debug)
        began = time.monotonic()
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        migrate_seconds = time.monotonic() - began

        port = free_port()
        simulator_url = f"http://127.0.0.1:{port}"
        limits = [f"--rate-limit={code}={rate:g}" for code, rate in RATE_LIMITS.items()]
        simulator_log = data_dir / "simulator.log"
        simulator = start(
            ["simulate", "--port", str(port), "--latency", str(LATENCY), *limits],
            env,
            simulator_log,
        )
        children.append(simulator)
        wait_for_simulator(simulator_url, simulator, simulator_log)

        # Django in this process reads the same settings as the children.
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()

        began = time.monotonic()
        accounts = create_world(jobs=args.jobs, state=args.state, simulator_url=simulator_url)
        world_seconds = time.monotonic() - began
        print(
            f"{args.jobs:,} jobs in {world_seconds:.1f} s; simulator at {simulator_url}; "
            f"data in {data_dir}",
            flush=True,
        )

        result = run_pass(
            env=env,
            data_dir=data_dir,
            jobs=args.jobs,
            simulator=simulator,
            simulator_url=simulator_url,
            children=children,
        )
        print(
            f"pass done in {fmt(result.wall_seconds)} s; checking and running the naive pass",
            flush=True,
        )
        checks = check_updates(args.state)
        sample = None if args.naive_sample == 0 else max(1, args.naive_sample // len(RATE_LIMITS))
        naive = naive_pass(accounts=accounts, per_provider=sample)
        report(
            args=args,
            migrate_seconds=migrate_seconds,
            world_seconds=world_seconds,
            result=result,
            checks=checks,
            naive=naive,
        )
    finally:
        clean_up(children, args.db, data_dir, args.keep)


if __name__ == "__main__":
    main()
