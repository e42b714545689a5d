"""The refresh engine: keep every active job fresh within each account's rate limit.

A refresh loop lives just under a minute (the django-q2 schedule starts a new one every
minute). It leases the accounts that have due work — a compare-and-set on
`Account.lease_until`, so an account is polled by one loop at a time on any number of
clusters, and a dead loop's lease simply expires — and feeds their due jobs, in batches
where the API takes them, to one bounded pool of threads (the work is I/O-bound). Each
account spends from its own token bucket; a throttling answer slows it down.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import queue
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs import http, services
from jobs.models import Account, Job
from jobs.providers.base import JobStatus, Provider, ProviderError
from jobs.services import usage

log = logging.getLogger(__name__)

# A loop lives just under the schedule's minute: long enough that polling barely pauses
# between loops, short enough that each minute the workers also run the other tasks.
LOOP_SECONDS = 57.0
THREADS = 24
# How old a state listing (VOD DescribeTasks) may be before it is taken again, and how
# long a running job's detail may go unrefreshed when the listing says nothing changed.
LISTING_SECONDS = 5.0
DETAIL_MAX_AGE = timedelta(seconds=60)
# How long an account with due work may sit unleased before a loop takes it beyond its share.
UNCLAIMED_GRACE = 3.0
# A loop's requests may run this long past its end; later they are cut (a transient
# error), so a provider that drips its answers cannot keep the loop, its leases and its
# django-q2 worker past the next schedule tick.
END_GRACE = 2.0
# An answer slower than this (or a missed deadline) puts its account back to one request
# in flight: a slow provider holds one thread of the shared pool, not max_in_flight.
SLOW_ANSWER = 3.0


# Set when the cluster is told to stop (SIGTERM/SIGINT to `manage.py qcluster`). Made
# before the cluster forks, so its workers share it: a running loop ends within a second
# instead of polling out its minute while the supervisor waits.
_shutdown: multiprocessing.synchronize.Event | None = None


def shutdown_prepare() -> None:
    """Create the shared shutdown flag; call in the cluster's parent before it forks."""
    global _shutdown
    _shutdown = multiprocessing.get_context("fork").Event()


def shutdown_request() -> None:
    if _shutdown is not None:
        _shutdown.set()


def shutting_down() -> bool:
    return _shutdown is not None and _shutdown.is_set()


class RateBudget:
    """A token bucket that keeps an account under its provider's rate limit.

    It spends only HEADROOM of the limit, with bursts of a tenth of a second: requests
    wait in a shared queue after their token is taken, so they can reach the provider in
    clumps, and a budget run at exactly the limit gets throttled. A throttling answer
    halves the rate (at most once a second, however many requests were in flight), and
    the rate recovers after a quiet while.
    """

    HEADROOM = 0.95
    RECOVER_AFTER = 30.0  # seconds without a throttling answer

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(rate * self.HEADROOM, 0.1)
        self.rate = self.limit
        self.clock = clock
        self.tokens = 1.0
        self.stamp = clock()
        self.slowed_at = -1e9
        self.lock = threading.Lock()

    def try_take(self) -> bool:
        with self.lock:
            now = self.clock()
            if self.rate < self.limit and now - self.slowed_at > self.RECOVER_AFTER:
                self.rate = self.limit
            burst = max(1.0, self.rate / 10)
            self.tokens = min(burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False

    def slow_down(self) -> None:
        with self.lock:
            now = self.clock()
            if now - self.slowed_at < 1.0:
                return  # the other requests of the same burst: one halving is enough
            self.slowed_at = now
            self.rate = max(0.1, self.rate / 2)
            self.tokens = 0


@dataclass
class AccountRun:
    """One leased account inside a loop: its adapter, budget and local queue."""

    account_id: int
    name: str
    adapter: Provider
    budget: RateBudget
    max_in_flight: int
    # Requests in flight start at one and grow by one with each fast answer, up to
    # max_in_flight (so a fast provider gets there within a few round trips).
    in_flight_cap: int = 1
    due: deque[Due] = field(default_factory=deque)
    in_flight_jobs: set[int] = field(default_factory=set)
    requests_in_flight: int = 0
    not_before: float = 0.0
    last_refill: float = 0.0
    exhausted: bool = False
    requests: int = 0
    ok_recorded_at: float = 0.0
    # Listing providers: the last complete {external id: raw state} and when it was taken.
    listing: dict[str, str] | None = None
    listing_at: float = 0.0
    listing_failed: bool = False
    scanning: bool = False
    sorted_due: bool = False
    # Import jobs created outside Clapboard while this loop holds the account.
    discover: bool = False
    discover_checked: float = 0.0
    discovering: bool = False
    # Requests and failures not yet written to AccountUsage.
    unflushed: list[int] = field(default_factory=lambda: [0, 0])
    flushed_at: float = field(default_factory=time.monotonic)


class _Workers:
    """A fixed set of threads with their own database connections, closed at the end.

    No request a task sends runs past `cut_at` (a time.monotonic()), and a task still
    queued then is dropped: the loop is over, its jobs stay due for the next one.
    """

    def __init__(self, size: int, cut_at: float | None = None) -> None:
        self.cut_at = cut_at
        self.tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.threads = [
            threading.Thread(target=self._work, name=f"refresh-{i}", daemon=True)
            for i in range(size)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self) -> None:
        try:
            while (task := self.tasks.get()) is not None:
                if self.cut_at is not None and time.monotonic() >= self.cut_at:
                    continue
                try:
                    if self.cut_at is None:
                        task()
                    else:
                        with http.deadline_by(self.cut_at):
                            task()
                except Exception:  # one bad batch must never take the loop down
                    log.exception("refresh task failed")
        finally:
            connection.close()

    def submit(self, task: Callable[[], None]) -> None:
        self.tasks.put(task)

    def drain(self) -> None:
        """Drop the tasks no thread has started yet (their jobs simply stay due)."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.tasks.get_nowait()

    def join(self) -> None:
        for _ in self.threads:
            self.tasks.put(None)
        for thread in self.threads:
            thread.join()


class Due(NamedTuple):
    """A due job as the dispatcher needs it: enough to decide whether to ask at all."""

    pk: int
    external_id: str
    state: str
    provider_state: str
    queue_position: int | None
    last_polled_at: datetime | None


def _due_jobs(now: datetime) -> Q:
    return Q(next_poll_at__isnull=False, next_poll_at__lte=now)


class RefreshLoop:
    """Poll the due jobs of leased accounts until `seconds` have passed.

    With `once=True` it stops instead as soon as every job that was due when it started
    has been polled once (`manage.py refreshjobs --once`, tests, benchmarks).
    """

    def __init__(
        self,
        *,
        seconds: float = LOOP_SECONDS,
        once: bool = False,
        account_names: list[str] | None = None,
        threads: int = THREADS,
        lease_seconds: float | None = None,
        loops: int | None = None,
    ) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.seconds = seconds
        self.once = once
        self.account_names = account_names
        self.threads = threads
        self.lease_seconds = lease_seconds or settings.CLAPBOARD_LEASE_SECONDS
        self.loops = loops or settings.CLAPBOARD_REFRESH_LOOPS
        self.runs: dict[int, AccountRun] = {}
        self.unclaimed_since: dict[int, float] = {}
        self.lock = threading.Lock()
        self.started = timezone.now()
        self.stats: dict[str, int] = {"requests": 0, "jobs": 0, "errors": 0, "changed": 0}

    # --- leases -----------------------------------------------------------------

    def _claimable(self, now: datetime) -> Q:
        return Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=self.owner)

    def claim(self) -> None:
        """Lease accounts with due work (up to this loop's share) and renew held leases."""
        now = timezone.now()
        until = now + timedelta(seconds=self.lease_seconds)
        held = list(self.runs)
        if held:
            renewed = set(
                Account.objects.filter(pk__in=held, lease_owner=self.owner).values_list(
                    "pk", flat=True
                )
            )
            Account.objects.filter(pk__in=renewed).update(lease_until=until)
            for lost in set(held) - renewed:
                log.warning("lost the lease of account %s", self.runs[lost].name)
                self.runs.pop(lost)
        horizon = self.started if self.once else now
        due = Job.objects.filter(account=OuterRef("pk")).filter(_due_jobs(horizon))
        with_work = Account.objects.filter(enabled=True).filter(Exists(due))
        if self.account_names:
            with_work = with_work.filter(name__in=self.account_names)
        leased = Q(lease_until__gte=now) & ~Q(lease_owner=self.owner)
        # This loop's share of the accounts in play, so several loops split them.
        in_play = (
            with_work.count()
            + Account.objects.filter(leased).exclude(pk__in=with_work.values("pk")).count()
        )
        share = max(1, math.ceil(in_play / self.loops))
        candidates = (
            with_work.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
            .exclude(leased)
            .exclude(pk__in=held)
            .values_list("pk", flat=True)
        )
        for pk in candidates:
            if len(self.runs) >= share:
                # Beyond our share, but nobody has taken it for a while (fewer loops are
                # running than configured, or one died): take it rather than let it wait.
                first_seen = self.unclaimed_since.setdefault(pk, time.monotonic())
                if time.monotonic() - first_seen < UNCLAIMED_GRACE:
                    continue
            won = (
                Account.objects.filter(pk=pk)
                .filter(self._claimable(now))
                .update(lease_owner=self.owner, lease_until=until)
            )
            if won:
                self.unclaimed_since.pop(pk, None)
                account = Account.objects.get(pk=pk)
                rate = account.effective_rate_limit
                adapter = account.adapter()
                self.runs[pk] = AccountRun(
                    account_id=pk,
                    name=account.name,
                    adapter=adapter,
                    budget=RateBudget(rate),
                    # Enough requests in flight to use the budget at ~0.5 s latency; a
                    # batch answer is already 50–100 jobs to store, so two at a time do.
                    max_in_flight=max(2, min(16, math.ceil(rate * 0.5 / adapter.batch_size))),
                    discover=account.discover and adapter.can_discover and not self.once,
                )

    def release(self) -> None:
        for run in list(self.runs.values()):
            counts, run.unflushed = run.unflushed, [0, 0]
            usage.usage_record(account_id=run.account_id, requests=counts[0], errors=counts[1])
        Account.objects.filter(lease_owner=self.owner).update(lease_owner="", lease_until=None)

    # --- dispatch ---------------------------------------------------------------

    def _refill(self, run: AccountRun) -> None:
        horizon = self.started if self.once else timezone.now()
        with self.lock:
            skip = set(run.in_flight_jobs)
        rows = (
            Job.objects.filter(account_id=run.account_id)
            .filter(_due_jobs(horizon))
            .exclude(pk__in=skip)
            .order_by("next_poll_at")
            .values_list(*Due._fields)[:500]
        )
        run.due.extend(Due(*row) for row in rows)
        run.last_refill = time.monotonic()
        run.exhausted = not run.due
        run.sorted_due = False

    def dispatch(self, workers: _Workers) -> bool:
        """Hand out every request the budgets allow; returns whether any work remains."""
        busy = False
        for run in list(self.runs.values()):
            if time.monotonic() < run.not_before:
                if self.once and not run.requests_in_flight:
                    self._drop(run)  # backing off: a one-pass run does not wait for it
                else:
                    busy = True
                continue
            # An account with nothing due looks again every second, so a job due in 7 s
            # is polled about 7 s later.
            if not run.due and time.monotonic() - run.last_refill > (1.0 if run.exhausted else 0.2):
                self._refill(run)
            if (
                run.discover
                and not run.discovering
                and time.monotonic() - run.discover_checked > 60
            ):
                # Discovery shares the lease and the budget: the loop holds busy accounts
                # for most of every minute, so a separate task would rarely get a turn.
                run.discovering = True
                run.discover_checked = time.monotonic()
                with self.lock:
                    run.requests_in_flight += 1
                workers.submit(lambda run=run: self._discover(run))
            if run.due and run.adapter.lists_states and not run.sorted_due:
                if not self._sort_by_listing(run, workers):
                    busy = True
                    continue  # waiting for a fresh listing
            while run.due and run.requests_in_flight < min(run.max_in_flight, run.in_flight_cap):
                if not run.budget.try_take():
                    break
                size = min(len(run.due), run.adapter.batch_size)
                batch = [run.due.popleft() for _ in range(size)]
                with self.lock:
                    run.in_flight_jobs.update(due.pk for due in batch)
                    run.requests_in_flight += 1
                workers.submit(lambda run=run, batch=batch: self.poll(run, batch))
            if run.due or run.requests_in_flight or run.scanning or not run.exhausted:
                busy = True
            elif self.once:
                self._drop(run)  # done with it: let another loop's share count true
        return busy

    def poll(self, run: AccountRun, batch: list[Due]) -> None:
        """One request for a batch of jobs, and everything it means for them.

        The jobs count as in flight until their results are stored, so no refill and no
        other loop can pick them up again in between. Worker threads keep their database
        connection for the loop's life and close it at the end.
        """
        ids = {due.external_id: due.pk for due in batch}
        try:
            self._poll(run, ids)
        finally:
            with self.lock:
                run.in_flight_jobs.difference_update(ids.values())
                run.requests_in_flight -= 1
                run.requests += 1
            self._note_request(run)

    def _note_request(self, run: AccountRun, *, failed: bool = False, flush: bool = False) -> None:
        """Count a request for the stats and the account's usage, flushed every few seconds."""
        with self.lock:
            self.stats["requests"] += 1
            run.unflushed[0] += 1
            run.unflushed[1] += failed
            if not flush and time.monotonic() - run.flushed_at < 5:
                return
            counts, run.unflushed = run.unflushed, [0, 0]
            run.flushed_at = time.monotonic()
        usage.usage_record(account_id=run.account_id, requests=counts[0], errors=counts[1])

    def _pace(self, run: AccountRun, seconds: float, error: ProviderError | None = None) -> None:
        """Widen or narrow how many requests the account may have in flight."""
        slow = seconds > SLOW_ANSWER or (error is not None and error.code == http.Timeout.code)
        with self.lock:
            run.in_flight_cap = 1 if slow else min(run.max_in_flight, run.in_flight_cap + 1)

    def _poll(self, run: AccountRun, ids: dict[str, int]) -> None:
        asked_at = timezone.now()
        started = time.monotonic()
        try:
            results = run.adapter.fetch(list(ids))
        except ProviderError as error:
            self._pace(run, time.monotonic() - started, error)
            self._request_failed(run, list(ids.values()), error)
            return
        except Exception as exc:  # an adapter bug: treat as transient, never crash
            log.error("%s: adapter error %s", run.name, type(exc).__name__)
            error = ProviderError("internal adapter error", "AdapterError")
            self._request_failed(run, list(ids.values()), error)
            return
        self._pace(run, time.monotonic() - started)
        # One transaction per answer, not per job: a batch of 50 is one write for SQLite's
        # single writer. Each job is still applied in its own savepoint.
        subtitles = []
        with transaction.atomic():
            for external_id, result in results.items():
                pk = ids.get(external_id)
                if pk is None:
                    continue
                if isinstance(result, JobStatus):
                    applied = services.job_apply_status(job_id=pk, status=result, asked_at=asked_at)
                    self._count("changed", applied.changed)
                    if applied.became_terminal and result.subtitles_url:
                        subtitles.append(pk)
                else:
                    services.jobs_record_error(job_ids=[pk], error=result)
                self._count("jobs")
        for pk in subtitles:  # outbound fetches never run inside a transaction
            services.job_fetch_subtitles(job_id=pk)
        missing = [pk for external_id, pk in ids.items() if external_id not in results]
        if missing:  # an adapter that forgot an id: retry later rather than lose it
            services.jobs_record_error(
                job_ids=missing, error=ProviderError("no answer for this job", "NoAnswer")
            )
        if time.monotonic() - run.ok_recorded_at > 5:
            run.ok_recorded_at = time.monotonic()
            services.account_record_ok(account_id=run.account_id)

    def _sort_by_listing(self, run: AccountRun, workers: _Workers) -> bool:
        """For providers that list states: keep only the due jobs worth a detail request.

        Returns False while a fresh listing is still being taken. Jobs the listing shows
        unchanged are confirmed without a request; a failed listing falls back to details.
        """
        fresh = time.monotonic() - run.listing_at < LISTING_SECONDS
        if not fresh and not run.scanning and not run.listing_failed:
            run.scanning = True
            with self.lock:
                run.requests_in_flight += 1
            workers.submit(lambda: self.scan(run))
        if run.scanning or not fresh:
            if not run.listing_failed or time.monotonic() < run.not_before:
                return False
            # No listing this time: ask for every detail, and try listing again later.
            run.listing_failed = False
            run.sorted_due = True
            return True
        listing = run.listing or {}
        stale_before = timezone.now() - DETAIL_MAX_AGE
        ask: deque[Due] = deque()
        unchanged: list[Due] = []
        for due in run.due:
            detail_is_old = due.state == "running" and (
                due.last_polled_at is None or due.last_polled_at <= stale_before
            )
            if not due.provider_state or listing.get(due.external_id) != due.provider_state:
                ask.append(due)
            elif detail_is_old:
                ask.append(due)  # the listing has no progress: refresh it now and then
            else:
                unchanged.append(due)
        run.due = ask
        run.sorted_due = True
        if unchanged:
            with self.lock:
                run.in_flight_jobs.update(due.pk for due in unchanged)
            workers.submit(lambda: self._confirm(run, unchanged))
        return True

    def scan(self, run: AccountRun) -> None:
        """Take a complete state listing of the account, page by page within its budget."""
        close_old_connections()
        started = time.monotonic()
        oldest = (
            (
                Job.objects.filter(account_id=run.account_id)
                .active()
                .aggregate(oldest=Min(Coalesce("created_at", "tracked_at")))["oldest"]
            )
            or timezone.now()
        )
        since = oldest - timedelta(minutes=5)
        if run.adapter.retention:
            since = max(since, timezone.now() - run.adapter.retention)
        states: dict[str, str] = {}
        token = ""
        try:
            while True:
                while not run.budget.try_take():
                    time.sleep(0.01)
                self._note_request(run)
                page, token = run.adapter.list_states(since=since, page_token=token)
                states.update(page)
                if not token:
                    break
            run.listing, run.listing_at = states, started
        except ProviderError as error:
            log.warning("%s: state listing failed: %s", run.name, error)
            if error.retry_after is not None or error.permanent:
                self._request_failed(run, [], error)  # sets not_before first
            else:
                self._count("errors")
            run.listing_failed = True
        except Exception as exc:  # an adapter bug must not stop the account
            run.listing_failed = True
            log.error("%s: state listing error %s", run.name, type(exc).__name__)
        finally:
            run.scanning = False
            with self.lock:
                run.requests_in_flight -= 1

    def _discover(self, run: AccountRun) -> None:
        from jobs import discovery

        try:
            account = Account.objects.get(pk=run.account_id)
            stale = account.discovered_at is None or (
                timezone.now() - account.discovered_at > timedelta(seconds=55)
            )
            if stale:
                discovery.discover_pages(
                    account=account, adapter=run.adapter, budget=run.budget, owner=self.owner
                )
        except Exception:  # discovery must never stop the polling of the account
            log.exception("%s: discovery failed", run.name)
        finally:
            run.discovering = False
            with self.lock:
                run.requests_in_flight -= 1

    def _confirm(self, run: AccountRun, unchanged: list[Due]) -> None:
        close_old_connections()
        try:
            services.jobs_confirm_unchanged(
                jobs=[(due.pk, due.state, due.queue_position) for due in unchanged]
            )
            self._count("jobs", len(unchanged))
        finally:
            with self.lock:
                run.in_flight_jobs.difference_update(due.pk for due in unchanged)

    def _request_failed(self, run: AccountRun, job_ids: list[int], error: ProviderError) -> None:
        self._count("errors")
        with self.lock:
            run.unflushed[1] += 1
        if error.retry_after is not None or error.permanent:
            # Throttling or credentials: the account's problem, not the jobs'.
            if error.retry_after is not None:
                run.budget.slow_down()
            delay = services.account_record_error(account_id=run.account_id, error=error)
            run.not_before = time.monotonic() + delay
            run.due.clear()
            if error.permanent:
                services.track_account_refused(account_id=run.account_id, error=error)
        else:
            services.jobs_record_error(job_ids=job_ids, error=error)
            services.account_record_error(account_id=run.account_id, error=error, back_off=False)
        log.warning("%s: %s", run.name, error)

    def _drop(self, run: AccountRun) -> None:
        with self.lock:
            self.runs.pop(run.account_id, None)
            counts, run.unflushed = run.unflushed, [0, 0]
        usage.usage_record(account_id=run.account_id, requests=counts[0], errors=counts[1])
        Account.objects.filter(pk=run.account_id, lease_owner=self.owner).update(
            lease_owner="", lease_until=None
        )

    def _count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.stats[key] += n

    # --- the loop ---------------------------------------------------------------

    def run(self) -> dict[str, int]:
        deadline = time.monotonic() + self.seconds
        workers = _Workers(self.threads, cut_at=deadline + END_GRACE)
        next_claim = 0.0
        try:
            while time.monotonic() < deadline:
                if shutting_down():
                    workers.drain()
                    break
                if time.monotonic() >= next_claim:
                    self.claim()
                    next_claim = time.monotonic() + min(2.0, self.lease_seconds / 3)
                busy = self.dispatch(workers)
                if self.once and not busy:
                    self.claim()
                    if not self.dispatch(workers):
                        break
                time.sleep(0.005 if busy else 0.1)
        finally:
            workers.join()
            self.release()
            close_old_connections()
        return self.stats


def refresh_loop(*, seconds: float = LOOP_SECONDS) -> dict[str, int]:
    """The scheduled loop (one per CLAPBOARD_REFRESH_LOOPS per minute)."""
    return RefreshLoop(seconds=seconds).run()


def refresh_once(
    *, account_names: list[str] | None = None, timeout: float = 3600
) -> dict[str, int]:
    """Poll every job that is due now once, then return (for cron, tests, benchmarks)."""
    return RefreshLoop(seconds=timeout, once=True, account_names=account_names).run()


def job_refresh_now(*, job_id: int) -> str:
    """Poll one job right away, within its account's single-poller rule, and put the
    outcome on the job's timeline (returned as well).

    If no loop holds the account, take its lease briefly and poll; otherwise mark the
    job due now so the loop that holds the account polls it within a second. A paused or
    disabled account is not asked at all, and the outcome says why.
    """
    job = Job.objects.select_related("account").get(pk=job_id)
    if job.is_terminal:
        return "finished"
    outcome = _refresh_now(job)
    services.job_record_refresh(job_id=job.pk, outcome=outcome)
    return outcome


def _refresh_now(job: Job) -> str:
    now = timezone.now()
    owner = f"refresh-now:{uuid.uuid4().hex[:8]}"
    won = (
        Account.objects.filter(pk=job.account_id, enabled=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .update(
            lease_owner=owner, lease_until=now + timedelta(seconds=settings.CLAPBOARD_LEASE_SECONDS)
        )
    )
    if not won:
        account = Account.objects.only("enabled", "retry_at", "last_error").get(pk=job.account_id)
        if not account.enabled:
            return "Refresh not sent: the account is disabled."
        if account.retry_at and account.retry_at > now:
            until = account.retry_at.astimezone(UTC).strftime("%H:%M:%S UTC")
            return f"Refresh not sent: the account is paused until {until} ({account.last_error})"
        Job.objects.filter(pk=job.pk, next_poll_at__isnull=False).update(next_poll_at=now)
        return "Refresh handed to the poller that holds the account; it asks within seconds."
    loop = RefreshLoop(seconds=30, threads=1)
    loop.owner = owner
    run = AccountRun(
        account_id=job.account_id,
        name=job.account.name,
        adapter=job.account.adapter(),
        budget=RateBudget(job.account.effective_rate_limit),
        max_in_flight=1,
    )
    run.requests_in_flight = 1
    try:
        due = Due(job.pk, job.external_id, job.state, job.provider_state, None, None)
        loop.poll(run, [due])
    finally:
        loop.release()
    after = (
        Job.objects.select_related("account")
        .only("poll_errors", "last_poll_error", "account__last_error")
        .get(pk=job.pk)
    )
    # A per-job error leaves its mark on the job; an account-wide one (throttled, a
    # rejected signature) on the account.
    if after.poll_errors:
        return f"Refresh failed: {after.last_poll_error}"
    if loop.stats["errors"]:
        return f"Refresh failed: {after.account.last_error}"
    return "Refreshed: " + ("the job changed." if loop.stats["changed"] else "no change.")
