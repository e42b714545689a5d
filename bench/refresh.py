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
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

PYTHON = sys.executable
LATENCY = 0.05
# The limits, enforced by the simulator and set on the accounts alike.
RATE_LIMITS: dict[str, float] = {
    "tencent_ivh": 50.0,
    "tencent_vod": 100.0,
    "tencent_ci": 20.0,
    "huawei_metastudio": 10.0,
    "aliyun_ice": 50.0,
}
WORKERS = 2
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "clapboard_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
# The synthetic jobs' "<queue s>-<run s>" (jobs/simulator/core.py), by the state they
# answer with for the whole run. `running` stays at progress 0 for ~28 hours, so a re-poll
# (every 10 s without progress history) reports nothing new and must add no event.
# `queued` sits at a queue position around 250,000 that drops by one every 4 s: the next
# poll is 120 s away where the provider reports the position, 15 s where it does not.
# Both stay short enough for 50 ids to fit one Cloud Infinite batch path (2,000 chars).
JOB_SHAPES = {"running": "0-10000000", "queued": "1000000-1"}
CREATED_AGO = 60
TARGET_RATIO = 1.2
TARGET_JOBS_PER_REQUEST = 50
TARGET_RSS_MB = 250
SAMPLE_SECONDS = 0.2
WATCH_SECONDS = 0.5
TIMELINE_SECONDS = 5.0
# jobs.scheduling.RUNNING_NO_HISTORY: no job is polled again sooner (queued ones, later).
REPOLL_SECONDS = 10.0
LOOP_SECONDS = 57.0  # jobs.refresh.LOOP_SECONDS; repeated so this module imports before Django


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


# --- the environment and the child processes ----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_environment(db: str, data_dir: Path, *, debug: bool) -> dict[str, str]:
    """The environment every process of the run shares; creates the empty database."""
    import secrets

    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for inherited in ("DATABASE_URL", "REDIS_URL", "CLAPBOARD_ENCRYPTION_KEY_FILE"):
        env.pop(inherited, None)  # never benchmark (or wipe) whatever the shell points at
    env.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        # DEBUG keeps the last 9,000 queries per database connection (one per poller
        # thread): --no-debug shows the memory and CPU production would see.
        DEBUG="true" if debug else "false",
        SECRET_KEY=secrets.token_urlsafe(50),
        CLAPBOARD_DATA_DIR=str(data_dir),
        CLAPBOARD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        CLAPBOARD_ALLOW_LOOPBACK_FETCH="true",
        CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS="true",  # the accounts point at the simulator
        Q_WORKERS=str(WORKERS),
        LOG_LEVEL="WARNING",
    )
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        return env
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_NAME}")
    redis.Redis.from_url(REDIS_URL).flushdb()  # a killed earlier run may have left tasks
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    env["REDIS_URL"] = REDIS_URL
    return env


def drop_postgres() -> None:
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
    redis.Redis.from_url(REDIS_URL).flushdb()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
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


def simulator_requests(url: str) -> dict[str, int]:
    from jobs import http

    # The bench's simulator is on loopback, and this runs before Django has settings to
    # say whether private endpoints are allowed.
    response = http.request("GET", f"{url}/_sim/health", timeout=(2.0, 5.0), purpose="loopback")
    return dict(json.loads(response.body)["requests"])


def wait_for_simulator(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    from jobs import http

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited:\n{tail(log)}")
        with contextlib.suppress(http.OutboundError):
            simulator_requests(url)
            return
        time.sleep(0.2)
    raise SystemExit(f"the simulator did not answer within 30 s:\n{tail(log)}")


# --- the world ------------------------------------------------------------------------------


def external_id(created: int, serial: int, state: str) -> str:
    """A synthetic id the separately started simulator answers without shared state."""
    return f"sim-{created}-{JOB_SHAPES[state]}-ok-b{serial:x}"


def account_name(code: str) -> str:
    return f"bench-{code.replace('_', '-')}"


def simulated_account(
    code: str, *, name: str, endpoint: str = "", rate_limit: float | None = None
) -> Any:
    """A new account of provider `code` with the simulator's demo credentials, options
    and region: the simulator started beside the bench answers it."""
    from jobs.services import account_create

    simulated = import_module(f"jobs.simulator.{code}").Simulator
    return account_create(
        name=name,
        provider=code,
        credentials=simulated.demo_credentials,
        options=simulated.demo_options,
        region=simulated.demo_region,
        endpoint=endpoint,
        rate_limit=rate_limit,
    )


def create_world(*, jobs: int, state: str, simulator_url: str) -> dict[str, int]:
    """One account per provider and `jobs` / 5 jobs each; returns account ids by provider."""
    from jobs.models import Job

    created = int(time.time()) - CREATED_AGO
    per_account = jobs // len(RATE_LIMITS)
    accounts: dict[str, int] = {}
    serial = 0
    for code, rate in RATE_LIMITS.items():
        account = simulated_account(
            code, name=account_name(code), endpoint=simulator_url, rate_limit=rate
        )
        accounts[code] = account.pk
        rows = []
        for _ in range(per_account):
            rows.append(Job(account=account, external_id=external_id(created, serial, state)))
            serial += 1
        Job.objects.bulk_create(rows, batch_size=2000)
    return accounts


# --- the measured pass ----------------------------------------------------------------------


@dataclass
class ProviderPass:
    code: str
    jobs: int
    rate: float
    batch_size: int
    bound_seconds: float
    done_seconds: float | None = None
    first_polled_seconds: float | None = None
    # Requests counted by the simulator when the last of this provider's jobs was seen
    # polled. A provider whose pass outlives the first re-poll interval has re-polls in it.
    requests_at_done: int | None = None
    # Jobs polled and requests sent as last seen while no job could have been re-polled
    # yet (less than REPOLL_SECONDS after this provider's first poll). Exact when that
    # sample is the one at done; otherwise slightly low, as requests in flight count
    # before their jobs do.
    clean_polled: int = 0
    clean_requests: int = 0
    requests_in_window: int = 0
    # Requests the engine logged as failed (throttled, mostly), from the cluster's log.
    failed_requests: int = 0

    @property
    def jobs_per_request(self) -> float | None:
        return self.clean_polled / self.clean_requests if self.clean_requests else None

    @property
    def batching_exact(self) -> bool:
        return self.clean_polled == self.jobs


@dataclass
class PassResult:
    wall_seconds: float | None  # None: timed out
    first_poll_seconds: float | None
    providers: list[ProviderPass]
    loop_pids: list[int]
    loops_seen: int
    # CPU seconds used during the pass, by the cluster's processes, the simulator and
    # this process (which watches the database): on 2 cores they compete.
    cluster_cpu_seconds: float
    simulator_cpu_seconds: float
    bench_cpu_seconds: float
    # Every PostgreSQL process on the machine (zero with SQLite, which runs in-process).
    postgres_cpu_seconds: float
    timed_out: bool
    cluster_start_seconds: float = 0.0
    # Every TIMELINE_SECONDS: seconds since the start, then jobs polled so far by provider.
    timeline: list[list[float]] = field(default_factory=list)
    error_lines: int = 0  # ERROR lines in the cluster's log (a refresh task that crashed)
    peak_loop_worker_mb: float = 0.0
    peak_worker_mb: float = 0.0
    peak_cluster_total_mb: float = 0.0
    peak_cluster_pss_mb: float = 0.0


def wait_for_cluster(process: subprocess.Popen[bytes], log: Path) -> None:
    """Until the sentinel has forked its workers, monitor and pusher."""
    wanted = 1 + WORKERS + 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"qcluster exited:\n{tail(log)}")
        if len(descendants(process.pid)) >= wanted:
            return
        time.sleep(0.1)
    raise SystemExit(f"qcluster did not start its workers within 60 s:\n{tail(log)}")


def run_pass(
    *,
    env: dict[str, str],
    data_dir: Path,
    jobs: int,
    simulator: subprocess.Popen[bytes],
    simulator_url: str,
    children: list[subprocess.Popen[bytes]],
) -> PassResult:
    """Start the cluster, enqueue the first loop, wait until every job was polled once,
    and stop the cluster. It is appended to `children` at once, so the caller can stop
    it whatever goes wrong here."""
    from django.utils import timezone
    from django_q.models import Schedule

    from jobs.providers import provider_class
    from jobs.schedules import LOOP_PREFIX

    per_account = jobs // len(RATE_LIMITS)
    providers = []
    for code, rate in RATE_LIMITS.items():
        batch = provider_class(code).batch_size
        providers.append(
            ProviderPass(code, per_account, rate, batch, math.ceil(per_account / batch) / rate)
        )

    # Production's schedule fires every minute, but a cluster's first scheduler tick comes
    # ~30 s after it starts. So the first loop is enqueued by hand, and the schedule is
    # parked until then; afterwards it takes over as that loop ends, as in steady state.
    Schedule.objects.filter(name__startswith=LOOP_PREFIX).update(
        next_run=timezone.now() + timedelta(hours=1)
    )
    cluster_log = data_dir / "qcluster.log"
    launched = time.monotonic()
    cluster = start(["qcluster"], env, cluster_log)
    children.append(cluster)
    sampler = TreeSampler(cluster.pid)
    sampler.start()
    try:
        wait_for_cluster(cluster, cluster_log)
        cluster_start = time.monotonic() - launched
        result = _watch_pass(
            jobs=jobs,
            providers=providers,
            cluster=cluster,
            cluster_log=cluster_log,
            sampler=sampler,
            simulator=simulator,
            simulator_url=simulator_url,
        )
        result.cluster_start_seconds = cluster_start
    finally:
        stop(cluster)
        sampler.stop()
    log = cluster_log.read_text(errors="replace").splitlines()
    for provider in providers:
        # The engine logs each failed request as "<account name>: <error>".
        marker = f"WARNING jobs.refresh {account_name(provider.code)}: "
        provider.failed_requests = sum(marker in line for line in log)
    result.error_lines = sum(" ERROR " in line for line in log)
    # Peaks are final only once the sampler has stopped.
    worker_peaks = [kb for pid, kb in sampler.peak_kb.items() if pid != cluster.pid]
    result.peak_loop_worker_mb = (
        max((sampler.peak_kb.get(pid, 0) for pid in result.loop_pids), default=0) / 1024
    )
    result.peak_worker_mb = max(worker_peaks, default=0) / 1024
    result.peak_cluster_total_mb = sampler.peak_total_kb / 1024
    result.peak_cluster_pss_mb = sampler.peak_total_pss_kb / 1024
    return result


def _watch_pass(
    *,
    jobs: int,
    providers: list[ProviderPass],
    cluster: subprocess.Popen[bytes],
    cluster_log: Path,
    sampler: TreeSampler,
    simulator: subprocess.Popen[bytes],
    simulator_url: str,
) -> PassResult:
    from django.db.models import Count
    from django.utils import timezone
    from django_q.models import Schedule
    from django_q.tasks import async_task

    from jobs.models import Account, Job
    from jobs.schedules import LOOP_PREFIX

    before = simulator_requests(simulator_url)
    cpu_before = sampler.cpu_snapshot()
    simulator_cpu_before = cpu_seconds(simulator.pid)
    bench_cpu_before = sum(os.times()[:2])
    postgres_before = postgres_cpu()
    started = time.monotonic()
    from django.conf import settings

    for _ in range(settings.CLAPBOARD_REFRESH_LOOPS):  # as the schedule would, one per loop
        async_task("jobs.tasks.refresh_loop", group="bench")
    Schedule.objects.filter(name__startswith=LOOP_PREFIX).update(
        next_run=timezone.now() + timedelta(seconds=LOOP_SECONDS + 1)
    )

    bound = max(p.bound_seconds for p in providers)
    deadline = started + max(120.0, 3 * bound + 90)
    first_poll: float | None = None
    wall: float | None = None
    # Lease owners are "<host>:<pid>:<loop id>": the loops that ran, and their workers.
    loop_owners: set[str] = set()
    timeline: list[list[float]] = []
    while time.monotonic() < deadline:
        if cluster.poll() is not None:
            raise SystemExit(f"qcluster exited during the pass:\n{tail(cluster_log)}")
        unpolled = dict(
            Job.objects.filter(last_polled_at__isnull=True)
            .values_list("account__provider")
            .annotate(n=Count("id"))
        )
        # Read the clock after the query: the pass is never reported shorter than it was.
        elapsed = time.monotonic() - started
        requests = simulator_requests(simulator_url)
        loop_owners.update(
            Account.objects.exclude(lease_owner="").values_list("lease_owner", flat=True)
        )
        if elapsed >= len(timeline) * TIMELINE_SECONDS or not unpolled:
            timeline.append(
                [round(elapsed, 1)] + [p.jobs - unpolled.get(p.code, 0) for p in providers]
            )
        if first_poll is None and sum(unpolled.values()) < jobs:
            first_poll = elapsed
        for provider in providers:
            if provider.done_seconds is not None:
                continue
            polled = provider.jobs - unpolled.get(provider.code, 0)
            sent = requests.get(provider.code, 0) - before.get(provider.code, 0)
            if polled and provider.first_polled_seconds is None:
                provider.first_polled_seconds = elapsed
            first = provider.first_polled_seconds
            if first is not None and elapsed < first + REPOLL_SECONDS:
                provider.clean_polled, provider.clean_requests = polled, sent
            if polled == provider.jobs:
                provider.done_seconds = elapsed
                provider.requests_at_done = sent
        if not unpolled:
            wall = elapsed
            break
        time.sleep(WATCH_SECONDS)

    after = simulator_requests(simulator_url)
    cpu_after = sampler.cpu_snapshot()
    for provider in providers:
        provider.requests_in_window = after.get(provider.code, 0) - before.get(provider.code, 0)
    pids = {owner.split(":")[-2] for owner in loop_owners}
    return PassResult(
        wall_seconds=wall,
        first_poll_seconds=first_poll,
        providers=providers,
        loop_pids=sorted(int(pid) for pid in pids if pid.isdigit()),
        loops_seen=len(loop_owners),
        cluster_cpu_seconds=sum(cpu - cpu_before.get(pid, 0.0) for pid, cpu in cpu_after.items()),
        simulator_cpu_seconds=cpu_seconds(simulator.pid) - simulator_cpu_before,
        bench_cpu_seconds=sum(os.times()[:2]) - bench_cpu_before,
        postgres_cpu_seconds=sum(
            cpu - postgres_before.get(pid, 0.0) for pid, cpu in postgres_cpu().items()
        ),
        timed_out=wall is None,
        timeline=timeline,
    )


# --- failed or lost updates -------------------------------------------------------------------


@dataclass
class Checks:
    state: str
    unpolled: int
    with_poll_errors: int
    wrong_state: int
    # A change stored without its event, or an event without its change.
    events_not_version: int
    # Jobs changed more than once. A running job's re-polls report nothing new, so for
    # `running` this is a duplicated update; a queued job's position does move.
    version_above_1: int
    failed_tasks: int
    # Not an update lost, but a request failed: the engine overran a rate limit.
    account_errors: dict[str, str]

    @property
    def failures(self) -> int:
        return (
            self.unpolled
            + self.with_poll_errors
            + self.wrong_state
            + self.events_not_version
            + (self.version_above_1 if self.state == "running" else 0)
            + self.failed_tasks
        )


def check_updates(state: str) -> Checks:
    """Every job polled, successfully, each change stored once with exactly one event."""
    from django.db.models import Count, F, Q
    from django_q.models import Task

    from jobs.models import Account, Job

    return Checks(
        state=state,
        unpolled=Job.objects.filter(last_polled_at__isnull=True).count(),
        with_poll_errors=Job.objects.exclude(poll_errors=0).count(),
        wrong_state=Job.objects.exclude(state=state).count(),
        events_not_version=Job.objects.annotate(n=Count("events"))
        .filter(Q(version__lt=1) | ~Q(n=F("version")))
        .count(),
        version_above_1=Job.objects.filter(version__gt=1).count(),
        failed_tasks=Task.objects.filter(success=False).count(),
        account_errors=dict(
            Account.objects.exclude(last_error="").values_list("name", "last_error")
        ),
    )


# --- the naive pass ------------------------------------------------------------------------------


@dataclass
class NaiveProvider:
    code: str
    sampled: int = 0
    seconds: float = 0.0
    http_seconds: float = 0.0
    throttled: int = 0
    failed: int = 0

    @property
    def per_job_ms(self) -> float:
        return 1000 * self.seconds / self.sampled if self.sampled else 0.0


@contextlib.contextmanager
def fresh_connections() -> Iterator[list[Any]]:
    """Make every request in the block open its own session, hence its own connection.

    Sessions opened are collected so the caller closes them after each request: the
    socket is really closed, not parked in a pool.
    """
    import requests

    from jobs import http

    opened: list[requests.Session] = []
    pooled = http._session

    def session(purpose: str = "api") -> requests.Session:
        new = requests.Session()
        new.trust_env = False
        opened.append(new)
        return new

    http._session = session
    try:
        yield opened
    finally:
        http._session = pooled


def naive_pass(*, accounts: dict[str, int], per_provider: int | None) -> list[NaiveProvider]:
    """One request per job, sequentially, a new connection each time, applied as the engine
    applies them. A throttled request waits for the next token (1 / rate) and is sent again:
    the simulator's limit is the only one."""
    from django.utils import timezone

    from jobs import services
    from jobs.models import Account, Job
    from jobs.providers.base import ProviderError

    results = []
    with fresh_connections() as opened:
        for code, account_id in accounts.items():
            account = Account.objects.get(pk=account_id)
            adapter = account.adapter()
            rows = Job.objects.filter(account_id=account_id).order_by("pk")
            sample = list(rows.values_list("pk", "external_id")[:per_provider])
            result = NaiveProvider(code)
            started = time.perf_counter()
            for pk, external in sample:
                while True:
                    asked_at = timezone.now()
                    request_started = time.perf_counter()
                    try:
                        answer = adapter.fetch([external])[external]
                    except ProviderError as error:
                        answer = error
                    finally:
                        result.http_seconds += time.perf_counter() - request_started
                        for session in opened:
                            session.close()
                        opened.clear()
                    if isinstance(answer, ProviderError) and answer.retry_after is not None:
                        result.throttled += 1
                        time.sleep(1 / RATE_LIMITS[code])
                        continue
                    break
                if isinstance(answer, ProviderError):
                    result.failed += 1
                else:
                    services.job_apply_status(job_id=pk, status=answer, asked_at=asked_at)
                result.sampled += 1
            result.seconds = time.perf_counter() - started
            results.append(result)
    return results


# --- the report -----------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def timeline_table(result: PassResult, rows: int = 20) -> str:
    """Jobs polled per second by provider, between samples (about `rows` of them)."""
    samples = result.timeline
    step = max(1, math.ceil(len(samples) / rows))
    picked = samples[::step]
    if samples and picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    lines = [["until s", *(p.code for p in result.providers)]]
    for earlier, later in zip(picked, picked[1:], strict=False):
        seconds = later[0] - earlier[0]
        rates = [(b - a) / seconds for a, b in zip(earlier[1:], later[1:], strict=True)]
        lines.append([fmt(later[0], 0), *(fmt(rate, 0) for rate in rates)])
    return "jobs polled per second\n" + table(lines)


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def report(
    *,
    args: argparse.Namespace,
    migrate_seconds: float,
    world_seconds: float,
    result: PassResult,
    checks: Checks,
    naive: list[NaiveProvider],
) -> dict[str, Any]:
    jobs = args.jobs
    bound = max(p.bound_seconds for p in result.providers)
    wall = result.wall_seconds
    ratio = wall / bound if wall else None
    naive_total = sum(n.per_job_ms / 1000 * (jobs // len(RATE_LIMITS)) for n in naive)
    naive_sampled = sum(n.sampled for n in naive)
    batched = [p for p in result.providers if p.batch_size > 1]
    # Only a batch provider that finished before its first re-poll gives an exact count;
    # otherwise there is no verdict (None) rather than a wrong one.
    batch_ok = (
        all((p.jobs_per_request or 0) >= TARGET_JOBS_PER_REQUEST for p in batched)
        if all(p.batching_exact for p in batched)
        else None
    )

    print()
    print(
        f"Refresh benchmark: {jobs:,} {args.state} jobs, {args.db}, {WORKERS} workers, "
        f"{LATENCY * 1000:.0f} ms per request, DEBUG={'true' if args.debug else 'false'}"
    )
    print(f"  migrate {migrate_seconds:.1f} s, data generation {world_seconds:.1f} s, ", end="")
    print(f"cluster start {result.cluster_start_seconds:.1f} s (not counted)")
    print()
    rows = [
        [
            "provider",
            "jobs",
            "rate/s",
            "batch",
            "bound s",
            "done s",
            "requests",
            "jobs/req",
            "req in window",
            "failed req",
        ]
    ]
    for p in result.providers:
        rows.append(
            [
                p.code,
                f"{p.jobs:,}",
                fmt(p.rate, 0),
                str(p.batch_size),
                fmt(p.bound_seconds),
                fmt(p.done_seconds),
                "—" if p.requests_at_done is None else f"{p.requests_at_done:,}",
                fmt(p.jobs_per_request) + ("" if p.batching_exact else "~"),
                f"{p.requests_in_window:,}",
                str(p.failed_requests),
            ]
        )
    print(table(rows))
    print("  (requests: counted by the simulator when the provider's last job was seen polled,")
    print("   re-polls included once a job is 10 s past its first poll; jobs/req: before any")
    print("   re-poll, '~' when the pass was longer, so a sample from mid-pass, a bit low;")
    print("   'in window': until the whole pass ended; 'failed req': logged by the engine)")
    print()
    print(timeline_table(result))
    print()
    per_job_cpu_ms = 1000 * result.cluster_cpu_seconds / jobs
    summary = [
        ["measure", "value", "target"],
        ["full pass wall time (s)", fmt(wall), f"≤ {fmt(TARGET_RATIO * bound)}"],
        ["rate-limit bound (s)", fmt(bound), ""],
        ["ratio to bound", fmt(ratio, 2), f"≤ {TARGET_RATIO}"],
        ["first job polled after (s)", fmt(result.first_poll_seconds), ""],
        ["jobs refreshed per second", fmt(jobs / wall if wall else None, 0), ""],
        ["refresh loops seen", str(result.loops_seen), ""],
        ["peak RSS, loop worker (MB)", fmt(result.peak_loop_worker_mb), f"< {TARGET_RSS_MB}"],
        ["peak RSS, any cluster process (MB)", fmt(result.peak_worker_mb), ""],
        ["peak RSS summed, whole cluster (MB)", fmt(result.peak_cluster_total_mb), ""],
        ["peak PSS summed, whole cluster (MB)", fmt(result.peak_cluster_pss_mb), ""],
        ["cluster CPU during pass (s)", fmt(result.cluster_cpu_seconds), ""],
        ["cluster CPU per job (ms)", fmt(per_job_cpu_ms, 2), ""],
        ["simulator CPU during pass (s)", fmt(result.simulator_cpu_seconds), ""],
        ["bench process CPU during pass (s)", fmt(result.bench_cpu_seconds), ""],
        ["PostgreSQL CPU during pass (s)", fmt(result.postgres_cpu_seconds), ""],
        ["ERROR lines in the cluster log", str(result.error_lines), "0"],
        ["failed or lost updates", str(checks.failures), "0"],
        ["accounts with a provider error", str(len(checks.account_errors)), "0"],
        [f"naive: sampled jobs ({naive_sampled:,})", "", ""],
        ["naive: time per job (ms)", fmt(1000 * naive_total / jobs if jobs else None), ""],
        ["naive: full pass, extrapolated (s)", fmt(naive_total), ""],
        ["speedup over naive", fmt(naive_total / wall if wall else None), ""],
    ]
    print(table(summary))
    print()
    if checks.failures or checks.account_errors:
        print(f"  checks: {json.dumps(asdict(checks))}")
        print()
    naive_rows = [["naive (sample)", "jobs", "ms/job", "http ms/job", "throttled", "failed"]]
    for n in naive:
        naive_rows.append(
            [
                n.code,
                str(n.sampled),
                fmt(n.per_job_ms),
                fmt(1000 * n.http_seconds / n.sampled if n.sampled else None),
                str(n.throttled),
                str(n.failed),
            ]
        )
    print(table(naive_rows))
    print("  (the naive full pass is extrapolated from the sample: ms/job × jobs per provider)")
    print()
    verdicts: dict[str, bool | None] = {
        "pass_within_1.2x_bound": ratio is not None and ratio <= TARGET_RATIO,
        "batch_jobs_per_request_at_least_50": batch_ok,
        "peak_worker_rss_under_250mb": result.peak_loop_worker_mb < TARGET_RSS_MB,
        "zero_failed_or_lost_updates": checks.failures == 0,
        "no_provider_errors": not checks.account_errors,
    }
    for name, ok in verdicts.items():
        print(f"  {'N/A ' if ok is None else 'PASS' if ok else 'FAIL'}  {name}")
    payload = {
        "jobs": jobs,
        "db": args.db,
        "state": args.state,
        "debug": args.debug,
        "workers": WORKERS,
        "latency_s": LATENCY,
        "migrate_s": round(migrate_seconds, 2),
        "data_generation_s": round(world_seconds, 2),
        "bound_s": round(bound, 2),
        "ratio": None if ratio is None else round(ratio, 3),
        "naive_sampled": naive_sampled,
        "naive_extrapolated_s": round(naive_total, 1),
        "speedup": round(naive_total / wall, 1) if wall else None,
        "cluster_cpu_ms_per_job": round(per_job_cpu_ms, 3),
        "verdicts": verdicts,
        "pass": asdict(result),
        "checks": asdict(checks),
        "naive": [asdict(n) for n in naive],
    }
    print(json.dumps(payload, separators=(",", ":")))
    return payload


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
        for child in reversed(children):
            stop(child)
        if args.keep:
            print(
                f"kept {data_dir}" + (f" and database {PG_NAME}" if args.db == "postgres" else "")
            )
        else:
            if args.db == "postgres":
                from django.db import connections

                with contextlib.suppress(Exception):  # Django may never have been set up
                    connections.close_all()  # PostgreSQL refuses to drop a database in use
                with contextlib.suppress(Exception):
                    drop_postgres()
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
