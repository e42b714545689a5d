"""Load test: operators polling the pages while the refresh engine works, on the embedded
default (SQLite, the ORM broker, one cluster). Loopback only, bounded in time.

    .venv/bin/python bench/load.py [--clients 50] [--seconds 60] [--jobs 10000]
                                   [--slow-provider CODE [--slow-mode drip|delay]]
                                   [--job-seconds 40]

1. A fresh SQLite database, the simulator as a separate process (20 ms per request),
   one account per provider and N synthetic jobs that move from queued through running
   to success or failure within the run.
2. The web app under gunicorn (production settings, DEBUG off) and one `qcluster`
   (two workers) running the refresh loop.
3. `--clients` concurrent clients (threads in several processes, each with its own
   logged-in session) poll for `--seconds`: the job list, its HTMX poll, and job details
   with their HTMX polls, as an open browser tab would.
4. It reports requests served, p50/p95/p99 latency, errors by status, "database is
   locked" lines in any log, and after the engine finishes, whether every job's stored
   final state matches what the simulator says.
5. Every two seconds it samples each provider's poll lag: how far past its `next_poll_at`
   the most overdue active job is (0 when none is due), and reports p50/p95/max.

`--slow-provider CODE` makes that provider slow for the whole run: every answer drips a
byte a second after its headers (`--slow-mode drip`), or comes only after `--slow-seconds`
(`delay`). The other providers' poll lag should stay in its normal range (compare a run
without the flag); the slow provider's jobs are left out of the final-state check, since
none of its answers completes. `--job-seconds N` lets jobs run up to N s, so that a long
run keeps them active across refresh loop boundaries (a loop lives a minute).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# After the path fix above, hence the noqa: E402.
from bench.load_report import report, report_lag  # noqa: E402
from bench.procs import free_port, start, stop, tail  # noqa: E402
from bench.world import (  # noqa: E402
    prepare_environment,
    simulated_account,
    simulator_requests,
    wait_for_simulator,
)

LATENCY = 0.02
CLIENT_PROCESSES = 5
LAG_SAMPLE_SECONDS = 2.0


def build_world(jobs: int, simulator_url: str, run_max: int = 40) -> tuple[list[str], str]:
    """Accounts, jobs and an operator; returns job codes and a session cookie value."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from jobs.models import Job
    from jobs.simulator.core import Simulator

    rng = random.Random(7)
    now = int(time.time())
    batch = []
    for code in Simulator().providers:
        account = simulated_account(code, name=f"load-{code}", endpoint=simulator_url)
        for n in range(jobs // len(Simulator().providers)):
            outcome = "fail" if rng.random() < 0.15 else "ok"
            # Everything finishes within the run: queued up to 20 s, running 10–40 s
            # (or up to --job-seconds, so jobs stay active across loop boundaries).
            run = rng.randint(10, run_max)
            external_id = f"sim-{now}-{rng.randint(0, 20)}-{run}-{outcome}-l{n:x}"
            batch.append(Job(account=account, external_id=external_id))
    Job.objects.bulk_create(batch, batch_size=2000)
    user = get_user_model().objects.create_superuser("load", password="load-password-1")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    codes = [str(code) for code in Job.objects.values_list("code", flat=True)]
    return codes, session.session_key


def client_process(
    base: str,
    cookie: str,
    codes: list[str],
    threads: int,
    seconds: float,
    queue: multiprocessing.Queue,
) -> None:
    """One process of clients; puts (latencies by page, statuses) on the queue."""
    import threading

    import requests

    results: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        session.cookies.set("sessionid", cookie)
        list_token = detail = detail_token = None

        def get(kind: str, url: str, htmx: bool = False) -> requests.Response | None:
            started = time.perf_counter()
            try:
                response = session.get(
                    url,
                    headers={"HX-Request": "true"} if htmx else {},
                    timeout=30,
                    allow_redirects=False,
                )
            except requests.RequestException:
                with lock:
                    results.append((kind, 0, time.perf_counter() - started))
                return None
            with lock:
                results.append((kind, response.status_code, time.perf_counter() - started))
            return response

        while time.monotonic() < deadline:
            choice = rng.random()
            if list_token is None or choice < 0.15:
                response = get("list", f"{base}/")
                list_token = _token(response, "job-live")
            elif choice < 0.6:
                response = get("list poll", f"{base}/{list_token}", htmx=True)
                if response is not None and response.status_code == 200:
                    list_token = _token(response, "job-live") or list_token
            elif detail is None or choice < 0.7:
                detail = rng.choice(codes)
                response = get("detail", f"{base}/jobs/{detail}/")
                detail_token = _token(response, "job-live")
            else:
                response = get(
                    "detail poll", f"{base}/jobs/{detail}/{detail_token or ''}", htmx=True
                )
                if response is not None and response.status_code == 200:
                    detail_token = _token(response, "job-live") or detail_token
            time.sleep(rng.uniform(0.05, 0.3))  # a person's browser, not a flood

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(results)


def _token(response, element_id: str) -> str | None:
    """The live region's poll URL (`?...v=...`) from a page or partial."""
    if response is None or response.status_code != 200:
        return None
    text = response.text
    marker = f'id="{element_id}"'
    at = text.find(marker)
    if at < 0:
        return None
    start = text.find('hx-get="', at)
    end = text.find('"', start + 8)
    return text[start + 8 : end].replace("&amp;", "&") if start > 0 else None


def slow_down(simulator_url: str, provider: str, mode: str, seconds: float) -> None:
    """Make one provider of the running simulator slow until it stops."""
    from jobs import http

    spec = (
        {"kind": "slow_drip", "drip_interval": 1.0}
        if mode == "drip"
        else {"kind": "timeout", "fault_delay": seconds}
    )
    body = json.dumps({**spec, "provider": provider}).encode()
    http.request("POST", f"{simulator_url}/_sim/faults", body=body, timeout=(2.0, 5.0))


class LagSampler:
    """Samples, per provider, how overdue its most overdue active job is."""

    def __init__(self) -> None:
        import threading

        self.samples: dict[str, list[float]] = {}
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.halt.set()
        self.thread.join()

    def _run(self) -> None:
        from django.db import connection
        from django.db.models import Min
        from django.utils import timezone

        from jobs.models import Job

        try:
            while not self.halt.wait(LAG_SAMPLE_SECONDS):
                now = timezone.now()
                due = (
                    Job.objects.active()
                    .filter(next_poll_at__lte=now)
                    .values("account__provider")
                    .annotate(oldest=Min("next_poll_at"))
                )
                lag = {
                    row["account__provider"]: (now - row["oldest"]).total_seconds() for row in due
                }
                for code in self.providers():
                    self.samples.setdefault(code, []).append(max(0.0, lag.get(code, 0.0)))
        finally:
            connection.close()

    @staticmethod
    def providers() -> list[str]:
        from jobs.simulator.core import Simulator

        return list(Simulator().providers)


def final_states_match(timeout: float, skip: str = "") -> tuple[int, int, list[str]]:
    """Wait for the engine to finish, then compare every job (except those of the `skip`
    provider) with the simulator's truth."""
    from jobs.models import Job
    from jobs.simulator.core import Phase, Simulator

    truth_source = Simulator()
    deadline = time.monotonic() + timeout
    jobs = Job.objects.exclude(account__provider=skip) if skip else Job.objects.all()
    while jobs.exclude(state__in=["succeeded", "failed", "canceled"]).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    mismatches, checked = [], 0
    for job in jobs.select_related("account").iterator():
        truth = truth_source.truth(job.account.provider, job.external_id)
        checked += 1
        expected = {Phase.SUCCEEDED: "succeeded", Phase.FAILED: "failed"}.get(
            truth.phase, truth.phase
        )
        if job.state != expected:
            mismatches.append(f"{job.external_id}: stored {job.state}, simulator {expected}")
    return checked, len(mismatches), mismatches[:10]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--finish-timeout", type=float, default=240)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    parser.add_argument("--slow-provider", default="", metavar="CODE")
    parser.add_argument("--slow-mode", choices=["drip", "delay"], default="drip")
    parser.add_argument("--slow-seconds", type=float, default=8.0, help="per answer (delay)")
    parser.add_argument("--job-seconds", type=int, default=40, help="longest job run time")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="clapboard-load-"))
    env = prepare_environment("sqlite", data_dir, debug=False)
    env.update(ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    os.environ.update(env)
    logs = {name: data_dir / f"{name}.log" for name in ("simulator", "web", "cluster", "migrate")}
    simulator_port, web_port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    processes = []
    try:
        for step in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            start(step, env, logs["migrate"]).wait()  # as a deployment would
        processes.append(
            start(
                ["simulate", "--port", str(simulator_port), "--latency", str(LATENCY)],
                env,
                logs["simulator"],
            )
        )
        wait_for_simulator(simulator_url, processes[-1], logs["simulator"])
        if args.slow_provider:
            slow_down(simulator_url, args.slow_provider, args.slow_mode, args.slow_seconds)
        codes, cookie = build_world(args.jobs, simulator_url, args.job_seconds)
        web = start_gunicorn(env, web_port, logs["web"])
        processes.append(web)
        wait_for_web(f"http://127.0.0.1:{web_port}", web, logs["web"])
        processes.append(start(["qcluster"], env, logs["cluster"]))
        from django_q.tasks import async_task

        async_task("jobs.tasks.refresh_loop")  # don't wait for the first schedule tick

        queue: multiprocessing.Queue = multiprocessing.Queue()
        per_process = max(1, args.clients // CLIENT_PROCESSES)
        clients = [
            multiprocessing.Process(
                target=client_process,
                args=(
                    f"http://127.0.0.1:{web_port}",
                    cookie,
                    codes,
                    per_process,
                    args.seconds,
                    queue,
                ),
            )
            for _ in range(min(CLIENT_PROCESSES, args.clients))
        ]
        started = time.monotonic()
        lag = LagSampler()
        lag.start()
        for process in clients:
            process.start()
        results = [row for _ in clients for row in queue.get()]
        for process in clients:
            process.join()
        lag.stop()
        elapsed = time.monotonic() - started
        requests_by_provider = simulator_requests(simulator_url)

        checked, mismatched, examples = final_states_match(
            args.finish_timeout, skip=args.slow_provider
        )
    finally:
        for process in reversed(processes):
            stop(process)
    locked = sum(
        log.read_text(errors="replace").count("database is locked")
        for log in logs.values()
        if log.exists()
    )
    report(results, elapsed, args, checked, mismatched, examples, locked, logs)
    report_lag(lag.samples, requests_by_provider, args)
    killed = logs["cluster"].read_text(errors="replace").count("exceeded maximum timeout")
    print(f"refresh tasks killed by django-q2's timeout: {killed}")
    if args.keep:
        print(f"data and logs kept in {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def start_gunicorn(env: dict[str, str], port: int, log: Path):
    import subprocess

    out = log.open("ab")
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),  # the venv running this script
            "dashboard.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "3",
            "-k",
            "gthread",
            "--threads",
            "8",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_for_web(url: str, process, log: Path) -> None:
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited:\n{tail(log)}")
        try:
            requests.get(f"{url}/login/", timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer:\n{tail(log)}")


if __name__ == "__main__":
    main()
