"""CPU per stored answer: `jobs_apply_statuses` alone, without HTTP or a cluster.

    .venv/bin/python bench/store.py [--db sqlite|postgres] [--jobs 10000] [--batch 200]
                                    [--profile N]

`bench/refresh.py` measures a whole pass: asking and storing, both loops, the simulator.
This measures the storing half in one process, so a change to it shows in seconds:

1. A fresh database (an SQLite file in a temp dir, or PostgreSQL `clapboard_store`,
   dropped and created), migrated, with one IVH account and `--jobs` new jobs.
2. Three rounds over every job, in batches of `--batch` answers (the storer's batch):
     first    each job's first answer (running at 0 %): a change, an event, a verified
              paste lookup; what the first pass of `bench/refresh.py` stores
     same     the same answer again: nothing visible changes (the steady state of a
              pass over long-running jobs)
     progress the progress moves (running at 5 %): a change and an event per job
3. Per round: process CPU per job (ms) and statements per batch, and with `--profile N`
   the N heaviest functions of a cProfile of the round (cumulative time).
4. With `--ask N`: the other half, N one-job requests of each one-job-per-request
   provider (IVH, VOD, ICE) to the simulator started in this process, through the
   adapter (signing, HTTP over a socket, parsing): the CPU of the asking thread only
   (`time.thread_time`), so the simulator's threads are not counted.

The figure to compare is the CPU per job; `bench/refresh.py`'s goal for a whole pass
(asking included) is 1.0 ms.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

PG_NAME = "clapboard_store"


def prepare(db: str, data_dir: Path) -> None:
    from bench import world

    env = world.prepare_environment("sqlite", data_dir, debug=False)
    if db == "postgres":
        import psycopg

        with psycopg.connect(world.PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {PG_NAME}")
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def rounds(jobs: int, batch: int, profile: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench import world
    from jobs.models import Job
    from jobs.providers.base import JobStatus, State
    from jobs.services import jobs_apply_statuses

    account = world.simulated_account(
        "tencent_ivh", name="store-bench", endpoint="http://127.0.0.1:9"
    )
    Job.objects.bulk_create(
        [Job(account=account, external_id=f"task-{n}") for n in range(jobs)], batch_size=2000
    )
    ids = list(Job.objects.order_by("pk").values_list("pk", "external_id"))
    start = timezone.now()

    def answer(external_id: str, progress: int) -> JobStatus:
        return JobStatus(
            external_id=external_id,
            state=State.RUNNING,
            provider_state="MAKING",
            progress=progress,
            raw={"TaskId": external_id, "Status": "MAKING", "Progress": progress},
        )

    def store(chunk: list[tuple[int, str]], progress: int, asked_at: datetime) -> None:
        statuses = {pk: answer(external_id, progress) for pk, external_id in chunk}
        jobs_apply_statuses(statuses=statuses, asked_at=asked_at, now=asked_at)

    print(f"{'round':10} {'jobs':>6} {'CPU ms/job':>11} {'statements/batch':>17}")
    for number, (name, progress) in enumerate((("first", 0), ("same", 0), ("progress", 5))):
        asked_at = start + timedelta(seconds=10 * (number + 1))
        profiler = cProfile.Profile() if profile else None
        batches = [ids[offset : offset + batch] for offset in range(0, len(ids), batch)]
        # The first batch counts the statements (the capture costs CPU: it is not timed).
        with CaptureQueriesContext(connection) as queries:
            store(batches[0], progress, asked_at)
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        for chunk in batches[1:]:
            store(chunk, progress, asked_at)
        if profiler:
            profiler.disable()
        cpu = time.process_time() - cpu
        timed = len(ids) - len(batches[0])
        print(f"{name:10} {timed:6} {1000 * cpu / timed:11.3f} {len(queries):17}")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)


def ask(requests: int) -> None:
    from bench import world
    from jobs.providers.base import Provider
    from jobs.simulator.core import Simulator

    simulator = Simulator()
    simulator.start()
    simulator.add_demo_tenants()
    try:
        print(f"\n{'ask':18} {'requests':>8} {'CPU ms/request':>15}")
        for code in ("tencent_ivh", "tencent_vod", "aliyun_ice"):
            account = world.simulated_account(code, name=f"ask-{code}", endpoint=simulator.url)
            adapter: Provider = account.adapter()
            task = world.external_id(int(time.time()) - 60, 1, "running")
            adapter.fetch([task])  # the connection and the first-use imports: not counted
            cpu = time.thread_time()
            for _ in range(requests):
                adapter.fetch([task])
            cpu = time.thread_time() - cpu
            print(f"{code:18} {requests:8} {1000 * cpu / requests:15.3f}")
    finally:
        simulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--ask", type=int, default=0, metavar="N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clapboard-store-") as data_dir:
        prepare(args.db, Path(data_dir))
        rounds(args.jobs, args.batch, args.profile)
        if args.ask:
            ask(args.ask)


if __name__ == "__main__":
    main()
