"""The measured refresh pass (a qcluster running the refresh loop), then the checks
for failed or lost updates."""

from __future__ import annotations

import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.procs import (
    TreeSampler,
    cpu_seconds,
    descendants,
    machine_cpu,
    postgres_cpu,
    start,
    stop,
    tail,
)
from bench.world import RATE_LIMITS, WORKERS, account_name, simulator_requests

WATCH_SECONDS = 0.5
TIMELINE_SECONDS = 5.0
# jobs.scheduling.RUNNING_NO_HISTORY: no job is polled again sooner (queued ones, later).
REPOLL_SECONDS = 10.0
LOOP_SECONDS = 59.0  # jobs.refresh.LOOP_SECONDS; repeated so this module imports before Django


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
    # Share of the machine's CPU in use during the pass, whoever used it: near 100 % the
    # pass waited for CPU, not for the rate limits.
    machine_busy_pct: float = 0.0
    cluster_start_seconds: float = 0.0
    # Every TIMELINE_SECONDS: seconds since the start, then jobs polled so far by provider.
    timeline: list[list[float]] = field(default_factory=list)
    # Every WATCH_SECONDS: seconds since the start, then requests the simulator counted so
    # far by provider (the rate the providers saw, second by second).
    requests: list[list[float]] = field(default_factory=list)
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


def park_schedule() -> None:
    """Production's schedule fires every minute, but a cluster's first scheduler tick
    comes ~30 s after it starts. So the first loops are enqueued by hand (start_loops),
    and the schedule is parked until then; afterwards it takes over as those loops end,
    as in steady state."""
    from django.utils import timezone
    from django_q.models import Schedule

    from jobs.schedules import LOOP_PREFIX

    Schedule.objects.filter(name__startswith=LOOP_PREFIX).update(
        next_run=timezone.now() + timedelta(hours=1)
    )


def start_loops() -> None:
    """Enqueue one refresh loop per CLAPBOARD_REFRESH_LOOPS, as the schedule would, and
    unpark the schedule for the next ones."""
    from django.conf import settings
    from django.utils import timezone
    from django_q.models import Schedule
    from django_q.tasks import async_task

    from jobs.schedules import LOOP_PREFIX

    for _ in range(settings.CLAPBOARD_REFRESH_LOOPS):
        async_task("jobs.tasks.refresh_loop", group="bench")
    # The next loops as the schedule starts them in production: at the scheduler's first
    # check after these end. django-q2 checks every 30 s from the cluster's start (a
    # second before now), so a next_run 14 s before this pair ends is taken by the check
    # that comes just as it ends, as it is every minute in production; one just after
    # the end (as this was before loops lived 59 s) waited for the check after that,
    # leaving 30 s with no loop at all.
    Schedule.objects.filter(name__startswith=LOOP_PREFIX).update(
        next_run=timezone.now() + timedelta(seconds=LOOP_SECONDS - 14)
    )


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

    from jobs.providers import provider_class

    per_account = jobs // len(RATE_LIMITS)
    providers = []
    for code, rate in RATE_LIMITS.items():
        batch = provider_class(code).batch_size
        providers.append(
            ProviderPass(code, per_account, rate, batch, math.ceil(per_account / batch) / rate)
        )

    park_schedule()
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

    from jobs.models import Account, Job

    before = simulator_requests(simulator_url)
    cpu_before = sampler.cpu_snapshot()
    simulator_cpu_before = cpu_seconds(simulator.pid)
    bench_cpu_before = sum(os.times()[:2])
    postgres_before = postgres_cpu()
    machine_before = machine_cpu()
    started = time.monotonic()
    start_loops()

    bound = max(p.bound_seconds for p in providers)
    deadline = started + max(120.0, 3 * bound + 90)
    first_poll: float | None = None
    wall: float | None = None
    # Lease owners are "<host>:<pid>:<loop id>": the loops that ran, and their workers.
    loop_owners: set[str] = set()
    timeline: list[list[float]] = []
    sent_so_far: list[list[float]] = []
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
        sent_so_far.append(
            [elapsed] + [requests.get(p.code, 0) - before.get(p.code, 0) for p in providers]
        )
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
    busy, every = (b - a for a, b in zip(machine_before, machine_cpu(), strict=True))
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
        machine_busy_pct=100 * busy / every if every else 0.0,
        timeline=timeline,
        requests=sent_so_far,
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
