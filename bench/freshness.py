"""Benchmark freshness: how soon Clapboard stores a change the provider made, with
notifications on and with polling only, side by side in one run (issue 16).

    .venv/bin/python bench/freshness.py [--jobs 1000] [--minutes 3] [--db sqlite|postgres]
                                        [--seed 16] [--keep]

What it does, in one run:

1. A fresh data dir and database (as bench/refresh.py), migrated; the simulator as its
   own process (bench/freshness_sim.py: 50 ms a request, the issue's rate limits) with
   two tenants per provider; gunicorn, so the receiver is reachable at 127.0.0.1; one
   qcluster (two loops, as production's defaults).
2. Two sets of accounts, one account per provider each, with the same rate limits:
   "notified" (a receiver made with hook_secret_create; the simulator pushes that tenant's
   changes to it, dropping 10 % and sending 10 % twice; VOD instead has events=pull and an
   event queue that hands 10 % of events out twice) and "polling" (nothing but polling).
3. `--jobs` jobs per provider per set, `sim-…` ids the simulator answers without shared
   state: job i has the same timings in both sets, a start and an end at random times
   within `--minutes` (85 % succeed, 15 % fail). The simulator watches all of them.
4. It waits until every job is finished in Clapboard (or a deadline), then reads every
   change the simulator saw (GET /_sim/changes, each with its simulator-clock time) and
   the JobEvent Clapboard stored for that state (its `at` is when it was stored).

Clock: the simulator's clock is time.time() of this machine (its clock_offset stays 0),
the same clock Clapboard stamps `at` with, so a delay is `at` - the change's time.
It prints the table, the goals with PASS/FAIL, and last one JSON line with every number.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

# After the path fix above, hence the noqa: E402.
from bench.freshness_report import measure, report  # noqa: E402
from bench.freshness_sim import SET_TAGS, second_credentials  # noqa: E402
from bench.load import start_gunicorn, wait_for_web  # noqa: E402
from bench.procs import PYTHON, free_port, start, tail  # noqa: E402
from bench.refresh_pass import park_schedule, start_loops, wait_for_cluster  # noqa: E402
from bench.world import (  # noqa: E402
    LATENCY,
    RATE_LIMITS,
    clean_up,
    prepare_environment,
    wait_for_simulator,
)

FAULTS = {"drop": 0.1, "duplicate": 0.1}
FIRST_CHANGE_SECONDS = 10  # after the jobs exist: each is seen queued first
WATCH_SECONDS = 2.0
# After the last change, how long polling gets to catch up before the run gives up: a
# MetaStudio pass of 1,000 one-job requests at 10/s alone takes 100 s.
CATCH_UP_SECONDS = 240


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=1000, help="per provider and set")
    parser.add_argument("--minutes", type=float, default=3.0, help="over which jobs change")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--seed", type=int, default=16, help="job timings and faults")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and database")
    args = parser.parse_args()
    if args.jobs < 1 or args.minutes * 60 < FIRST_CHANGE_SECONDS + 10:
        parser.error("--jobs must be at least 1 and --minutes at least 0.34")
    return args


def plan(jobs: int, minutes: float, seed: int) -> list[tuple[int, int, str]]:
    """(queue s, run s, outcome) per job: a start and an end drawn within the window."""
    rng = random.Random(seed)
    window = minutes * 60
    timings = []
    for _ in range(jobs):
        began, ended = sorted(rng.uniform(FIRST_CHANGE_SECONDS, window) for _ in range(2))
        outcome = "fail" if rng.random() < 0.15 else "ok"
        timings.append((int(began), max(1, int(ended) - int(began)), outcome))
    return timings


def sim_control(simulator_url: str, spec: dict[str, object]) -> None:
    import requests

    response = requests.post(f"{simulator_url}/_sim/notify", json=spec, timeout=60)
    if response.status_code != 200:
        raise SystemExit(f"the simulator refused {spec.get('provider')}: {response.text}")


def create_accounts(simulator_url: str, web_url: str, seed: int) -> dict[tuple[str, str], int]:
    """Both sets' accounts; the notified ones get their receiver or VOD's event queue."""
    from bench.world import simulated_account
    from jobs.services.audit import Via
    from jobs.services.notifications import hook_secret_create, hook_url
    from jobs.simulator.core import Simulator

    sims = Simulator().providers
    accounts = {}
    for code, rate in RATE_LIMITS.items():
        sim = sims[code]
        polling = simulated_account(
            code, name=f"poll-{code}", endpoint=simulator_url, rate_limit=rate
        )
        credentials = second_credentials(sim.demo_credentials)
        key = credentials[sim.key_field]
        vod = code == "tencent_vod"
        notified = simulated_account(
            code,
            name=f"notified-{code}",
            endpoint=simulator_url,
            rate_limit=rate,
            credentials=credentials,
            options={"events": "pull"} if vod else None,
        )
        accounts[("polling", code)], accounts[("notified", code)] = polling.pk, notified.pk
        if vod:
            spec = {"mode": "pull", "duplicate": FAULTS["duplicate"]}
        else:
            secret = hook_secret_create(account=notified, user=None, via=Via.CLI)
            spec = {"url": hook_url(notified, secret, base=web_url), "seed": seed, **FAULTS}
        sim_control(simulator_url, {"provider": code, "tenant": key, **spec})
    return accounts


def create_jobs(
    accounts: dict[tuple[str, str], int], timings: list[tuple[int, int, str]], simulator_url: str
) -> float:
    """Every job of both sets, watched by the simulator; returns their creation time."""
    from jobs.models import Job

    created = int(time.time())
    rows, watch = [], {}
    for (name, code), account_id in accounts.items():
        for serial, (queue, run, outcome) in enumerate(timings):
            external_id = f"sim-{created}-{queue}-{run}-{outcome}-{SET_TAGS[name]}{serial:x}"
            rows.append(Job(account_id=account_id, external_id=external_id))
            watch.setdefault(code, []).append(external_id)
    Job.objects.bulk_create(rows, batch_size=2000)
    for code, ids in watch.items():
        sim_control(simulator_url, {"provider": code, "watch": ids})
    return float(created)


def wait_until_finished(deadline: float, cluster: subprocess.Popen[bytes], log: Path) -> int:
    """Until no job is active in Clapboard or the deadline; returns the jobs still active."""
    from jobs.models import Job

    active = Job.objects.active().count()
    while active and time.time() < deadline:
        if cluster.poll() is not None:
            raise SystemExit(f"qcluster exited during the run:\n{tail(log)}")
        time.sleep(WATCH_SECONDS)
        active = Job.objects.active().count()
        print(f"  {time.strftime('%H:%M:%S')} {active:,} jobs active", flush=True)
    return active


def main() -> None:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="clapboard-freshness-"))
    children: list[subprocess.Popen[bytes]] = []
    load_before = os.getloadavg()
    try:
        env = prepare_environment(args.db, data_dir, debug=False)
        env.update(ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        simulator_port, web_port = free_port(), free_port()
        simulator_url, web_url = (f"http://127.0.0.1:{p}" for p in (simulator_port, web_port))
        limits = [f"--rate-limit={code}={rate:g}" for code, rate in RATE_LIMITS.items()]
        logs = {name: data_dir / f"{name}.log" for name in ("simulator", "web", "cluster")}
        simulator = start(
            ["--port", str(simulator_port), "--latency", str(LATENCY), *limits],
            env,
            logs["simulator"],
            script="bench/freshness_sim.py",
        )
        children.append(simulator)
        wait_for_simulator(simulator_url, simulator, logs["simulator"])
        web = start_gunicorn(env, web_port, logs["web"])
        children.append(web)
        wait_for_web(web_url, web, logs["web"])

        # Django in this process reads the same settings as the children.
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        accounts = create_accounts(simulator_url, web_url, args.seed)
        park_schedule()
        cluster = start(["qcluster"], env, logs["cluster"])
        children.append(cluster)
        wait_for_cluster(cluster, logs["cluster"])
        timings = plan(args.jobs, args.minutes, args.seed)
        created = create_jobs(accounts, timings, simulator_url)
        start_loops()
        last_change = created + max(queue + run for queue, run, _ in timings)
        print(
            f"{len(accounts) * args.jobs:,} jobs created at {created:.0f}; last change "
            f"in {last_change - time.time():.0f} s; data in {data_dir}",
            flush=True,
        )
        time.sleep(max(0.0, last_change - time.time()))
        still_active = wait_until_finished(last_change + CATCH_UP_SECONDS, cluster, logs["cluster"])
        time.sleep(3)  # the last answers' follow-up fetches (a job's subtitles) are counted
        measured = measure(simulator_url, accounts, created)
        report(
            args=args,
            measured=measured,
            still_active=still_active,
            load=(load_before, os.getloadavg()),
            errors=sum(" ERROR " in line for line in tail(logs["cluster"], 10**6).splitlines()),
        )
    finally:
        clean_up(children, args.db, data_dir, args.keep)


if __name__ == "__main__":
    main()
