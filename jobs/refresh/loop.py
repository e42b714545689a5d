"""The refresh loop: keep every active job fresh within each account's rate limit.

A refresh loop lives just under a minute (the django-q2 schedule starts a new one every
minute). It leases the accounts that have due work — a compare-and-set on
`Account.lease_until`, so an account is polled by one loop at a time on any number of
clusters, and a dead loop's lease simply expires — and feeds their due jobs, in batches
where the API takes them, to one bounded pool of threads (the work is I/O-bound). Each
account spends from its own token bucket; a throttling answer slows it down.

The dispatcher (the thread that calls `run`) owns the loop's state. Worker threads do
the requests and the database writes, and hand their outcome back under the loop's lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from jobs import http, services
from jobs.models import Account, Job
from jobs.refresh.discovery import discover_if_stale
from jobs.refresh.events import PULLERS, ROUND_SECONDS, pull_start
from jobs.refresh.hints import HINT_SECONDS, hints_apply
from jobs.refresh.leases import (
    account_lease_take,
    account_leases_release,
    account_leases_renew,
    leased_by_others,
    not_backing_off,
    owner_id,
    requests_due,
)
from jobs.refresh.listing import LISTING_SECONDS, listing_take, split_by_listing
from jobs.refresh.poll import Answer, Polled, ask, store
from jobs.refresh.runs import AccountRun, Due, Phase, Queue
from jobs.refresh.shutdown import shutting_down
from jobs.refresh.workers import Storer, Workers
from jobs.services import usage

log = logging.getLogger("jobs.refresh")

# Just under the schedule's minute, so polling pauses about a second between loops. The
# minute's other tasks run beside the loops on the cluster's spare worker (Q_WORKERS is
# loops + 1); without one they queued into the gap and a loop of 59 s could start alone.
LOOP_SECONDS = 59.0
THREADS = 24
# How long an account with due work may sit unleased before a loop takes it beyond its share.
UNCLAIMED_GRACE = 3.0
# A loop's requests may run this long past its end, then are cut (a transient error): a
# provider that drips its answers cannot keep the loop past the next schedule tick (a VOD
# event round keeps its own account, for under ROUND_SECONDS more: events.py).
END_GRACE = 2.0
# An answer slower than this (or a missed deadline) puts its account back to one request
# in flight: a slow provider holds one thread of the shared pool, not max_in_flight.
SLOW_ANSWER = 3.0
RECORD_SECONDS = 5.0  # how often usage counts and the last good answer are written


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
        self.owner = owner_id("refresh-loop")
        self.seconds = seconds
        self.once = once
        self.account_names = account_names
        self.threads = threads
        self.lease_seconds: float = lease_seconds or settings.CLAPBOARD_LEASE_SECONDS
        self.loops: int = loops or settings.CLAPBOARD_REFRESH_LOOPS
        self.runs: dict[int, AccountRun] = {}
        self.unclaimed_since: dict[int, float] = {}
        self.lock = threading.Lock()
        self.started = timezone.now()
        self.cut_at: float | None = None
        self.stats: dict[str, int] = {"requests": 0, "jobs": 0, "errors": 0, "changed": 0}

    # --- leases -----------------------------------------------------------------

    def claim(self) -> None:
        """Lease accounts with due work (up to this loop's share) and renew held leases."""
        now = timezone.now()
        held = list(self.runs)
        kept = account_leases_renew(account_ids=held, owner=self.owner, seconds=self.lease_seconds)
        for lost in set(held) - kept:
            log.warning("lost the lease of account %s", self.runs[lost].name)
            self.runs.pop(lost)
        horizon = self.started if self.once else now
        due = Job.objects.filter(account=OuterRef("pk")).filter(_due_jobs(horizon))
        pulls = Q(options__events="pull")  # held with nothing due: VOD's event puller
        with_work = Account.objects.filter(enabled=True).filter(Q(Exists(due)) | pulls)
        if self.account_names:
            with_work = with_work.filter(name__in=self.account_names)
        leased = leased_by_others(self.owner, now)
        # This loop's share of the work in play, so several loops split it: counted in
        # requests due, not in accounts, or one loop would hold the three accounts that ask
        # one job per request while another finishes two batching accounts in seconds and
        # then idles on its own core.
        loads = requests_due(with_work, _due_jobs(horizon))
        share = sum(loads.values()) / self.loops
        mine = sum(loads.get(pk, 0) for pk in self.runs)
        candidates = (
            with_work.filter(not_backing_off(now))
            .exclude(leased)
            .exclude(pk__in=held)
            .values_list("pk", flat=True)
        )
        # The heaviest first, each taken if at least half of it fits in the share: a
        # greedy "while under the share" would take every light account, then a heavy one.
        for pk in sorted(candidates, key=lambda pk: -loads.get(pk, 0)):
            if self.runs and mine + loads.get(pk, 0) / 2 > share:
                # Beyond our share, but nobody has taken it for a while (fewer loops are
                # running than configured, or one died): take it rather than let it wait.
                first_seen = self.unclaimed_since.setdefault(pk, time.monotonic())
                if time.monotonic() - first_seen < UNCLAIMED_GRACE:
                    continue
            if account_lease_take(
                account_id=pk, owner=self.owner, now=now, seconds=self.lease_seconds
            ):
                self.unclaimed_since.pop(pk, None)
                self.runs[pk] = AccountRun.of(Account.objects.get(pk=pk), once=self.once)
                mine += loads.get(pk, 0)

    def release(self, accounts: Iterable[int] | None = None) -> None:
        """Write the usage counts and give back the leases of `accounts` (None: all)."""
        pks = set(self.runs if accounts is None else accounts)
        for pk in pks:
            with self.lock:
                counts = self.runs[pk].take_unflushed()
            self._write_usage(self.runs[pk], counts)
        account_leases_release(owner=self.owner, keep=set(self.runs) - pks)

    def _drop(self, run: AccountRun) -> None:
        with self.lock:
            self.runs.pop(run.account_id, None)
            counts = run.take_unflushed()
        self._write_usage(run, counts)
        account_leases_release(owner=self.owner, account_id=run.account_id)

    # --- dispatch (the dispatcher thread) ---------------------------------------

    def _refill(self, run: AccountRun) -> None:
        horizon = self.started if self.once else timezone.now()
        with self.lock:
            skip = set(run.in_flight_jobs)
        rows = (
            Job.objects.filter(account_id=run.account_id)
            .filter(_due_jobs(horizon))
            .exclude(pk__among=skip)
            .order_by("next_poll_at")
            .values_list(*Due._fields)[:500]
        )
        run.due.extend(Due(*row) for row in rows)
        run.last_refill = time.monotonic()
        if not run.due:
            run.queue = Queue.EMPTY
        else:
            run.queue = Queue.READY if run.listing is Phase.OFF else Queue.TO_SORT

    def dispatch(self, workers: Workers) -> bool:
        """Hand out every request the budgets allow; returns whether any work remains."""
        busy = False
        for run in list(self.runs.values()):
            if time.monotonic() < run.not_before:
                run.due.clear()  # the account waits; its jobs stay due for after
                if self.once and not run.requests_in_flight:
                    self._drop(run)  # backing off: a one-pass run does not wait for it
                else:
                    busy = True
                continue
            # An account with nothing due looks again every second, so a job due in 7 s
            # is polled about 7 s later.
            wait = 1.0 if run.queue is Queue.EMPTY else 0.2
            if not run.due and time.monotonic() - run.last_refill > wait:
                self._refill(run)
            if run.discovery is Phase.IDLE and time.monotonic() - run.discover_checked > 60:
                # Discovery shares the lease and the budget: the loop holds busy accounts
                # for most of every minute, so a separate task would rarely get a turn.
                run.discover_checked = time.monotonic()
                with self.lock:
                    run.discovery = Phase.RUNNING
                    run.requests_in_flight += 1
                workers.submit(functools.partial(self._discover, run))
            if run.events is not Phase.OFF:
                pull_start(run, self.lock, self.pullers)  # VOD's events, beside the polls
            if run.due and run.queue is Queue.TO_SORT and not self._sort_by_listing(run, workers):
                busy = True
                continue  # waiting for a fresh listing
            while run.due and run.requests_in_flight < min(run.max_in_flight, run.in_flight_cap):
                if not run.leased.budget.try_take():
                    break
                size = min(len(run.due), run.leased.adapter.batch_size)
                batch = [run.due.popleft() for _ in range(size)]
                with self.lock:
                    run.in_flight_jobs.update(due.pk for due in batch)
                    run.requests_in_flight += 1
                workers.submit(functools.partial(self.poll, run, batch))
            listing = run.listing is Phase.RUNNING
            waiting = run.due or run.requests_in_flight or run.in_flight_jobs or listing
            if waiting or run.queue is not Queue.EMPTY:
                busy = True
            elif self.once:
                self._drop(run)  # done with it: let another loop's share count true
        return busy

    def _sort_by_listing(self, run: AccountRun, workers: Workers) -> bool:
        """For providers that list states: keep only the due jobs worth a detail request.

        Returns False while a fresh listing is still being taken. Jobs the listing shows
        unchanged are confirmed without a request; a failed listing falls back to details.
        """
        fresh = time.monotonic() - run.states_at < LISTING_SECONDS
        if not fresh and run.listing is Phase.IDLE:
            with self.lock:
                run.listing = Phase.RUNNING
                run.requests_in_flight += 1
            workers.submit(functools.partial(self._take_listing, run))
        phase = run.listing
        if phase is Phase.RUNNING or not fresh:
            if phase is not Phase.FAILED or time.monotonic() < run.not_before:
                return False
            # No listing this time: ask for every detail, and try listing again later.
            with self.lock:
                run.listing = Phase.IDLE
            run.queue = Queue.READY
            return True
        run.due, unchanged = split_by_listing(run.due, run.states or {})
        run.queue = Queue.READY
        if unchanged:
            with self.lock:
                run.in_flight_jobs.update(due.pk for due in unchanged)
            workers.submit(functools.partial(self._confirm, run, unchanged))
        return True

    # --- work (worker threads) --------------------------------------------------

    def poll(self, run: AccountRun, batch: list[Due]) -> None:
        """One request for a batch of jobs, and everything it means for them.

        The jobs count as in flight until their results are stored, so no refill and no
        other loop can pick them up again in between. Worker threads keep their database
        connection for the loop's life and close it at the end.
        """
        ids = {due.external_id: due.pk for due in batch}
        try:
            answer = ask(run.leased, ids)
        except BaseException:
            self._answered(run, None)
            self._landed(run, ids.values(), None)
            raise
        if isinstance(answer, Polled):  # the request failed: nothing to store
            self._answered(run, answer)
            self._landed(run, ids.values(), answer)
            return
        # The request is over (its slot frees at once, so the storer's wait never slows
        # the account); its jobs stay in flight until the storer has stored them.
        self._answered(run, Polled(seconds=answer.seconds))
        self.storer.put((run, answer))

    def _store(self, stored: list[tuple[AccountRun, Answer]]) -> None:
        """The storer thread: store answers of many requests at once, then count them."""
        polled: list[Polled | None] = [None] * len(stored)
        try:
            polled = list(store([answer for _, answer in stored]))
        finally:
            for (run, answer), result in zip(stored, polled, strict=True):
                self._landed(run, answer.ids.values(), result)

    def _answered(self, run: AccountRun, polled: Polled | None) -> None:
        """Count a finished request (None: it raised) and pace its account."""
        now = time.monotonic()
        record_ok = False
        with self.lock:
            run.requests_in_flight -= 1
            if polled is not None:
                error = polled.error
                if error is not None:
                    self.stats["errors"] += 1
                    run.unflushed_errors += 1
                if polled.seconds is not None:  # widen or narrow the requests in flight
                    slow = polled.seconds > SLOW_ANSWER or (
                        error is not None and error.code == http.Timeout.code
                    )
                    run.in_flight_cap = 1 if slow else min(run.max_in_flight, run.in_flight_cap + 1)
                if polled.back_off is not None:
                    run.not_before = now + polled.back_off
                elif error is None and now - run.ok_recorded_at > RECORD_SECONDS:
                    run.ok_recorded_at = now
                    record_ok = True
            counts = self._count_requests(run, 1)
        if record_ok:
            services.account_record_ok(account_id=run.account_id)
        self._write_usage(run, counts)

    def _landed(self, run: AccountRun, pks: Iterable[int], polled: Polled | None) -> None:
        """These jobs' answers are stored (or lost with their request): free to poll again."""
        with self.lock:
            run.in_flight_jobs.difference_update(pks)
            if polled is not None:
                self.stats["jobs"] += polled.jobs
                self.stats["changed"] += polled.changed

    def _take_listing(self, run: AccountRun) -> None:
        close_old_connections()
        listing = None
        try:
            listing = listing_take(run.leased, deadline=self.cut_at)
        finally:
            with self.lock:
                run.requests_in_flight -= 1
                if listing is not None and listing.states is not None:
                    run.states, run.states_at = listing.states, listing.started
                    run.listing = Phase.IDLE
                else:
                    run.listing = Phase.FAILED
                counts = None
                if listing is not None:
                    if listing.error is not None:
                        self.stats["errors"] += 1
                    if listing.back_off is not None:
                        run.unflushed_errors += 1
                        run.not_before = time.monotonic() + listing.back_off
                    counts = self._count_requests(run, listing.requests)
            self._write_usage(run, counts)

    def _discover(self, run: AccountRun) -> None:
        try:
            leased = run.leased
            discover_if_stale(
                leased.account_id, leased.adapter, leased.budget, self.owner, self.cut_at
            )
        except Exception:  # discovery must never stop the polling of the account
            log.exception("%s: discovery failed", run.name)
        finally:
            with self.lock:
                run.discovery = Phase.IDLE
                run.requests_in_flight -= 1

    def _confirm(self, run: AccountRun, unchanged: list[Due]) -> None:
        close_old_connections()
        try:
            services.jobs_confirm_unchanged(
                jobs=[(due.pk, due.state, due.queue_position) for due in unchanged]
            )
            with self.lock:
                self.stats["jobs"] += len(unchanged)
        finally:
            with self.lock:
                run.in_flight_jobs.difference_update(due.pk for due in unchanged)

    def _count_requests(self, run: AccountRun, n: int) -> tuple[int, int] | None:
        """Count `n` requests (under the lock); the usage counts to write, every 5 s."""
        self.stats["requests"] += n
        run.unflushed_requests += n
        if time.monotonic() - run.flushed_at < RECORD_SECONDS:
            return None
        return run.take_unflushed()

    def _write_usage(self, run: AccountRun, counts: tuple[int, int] | None) -> None:
        if counts is not None:
            usage.usage_record(account_id=run.account_id, requests=counts[0], errors=counts[1])

    # --- the loop ---------------------------------------------------------------

    def run(self) -> dict[str, int]:
        deadline = time.monotonic() + self.seconds
        self.cut_at = deadline + END_GRACE
        workers = Workers(self.threads, cut_at=self.cut_at)
        self.pullers = Workers(PULLERS)  # rounds keep their own time (events.py)
        self.storer: Storer[tuple[AccountRun, Answer]] = Storer(self._store)
        next_claim = next_hint = 0.0
        try:
            while time.monotonic() < deadline:
                if shutting_down():
                    workers.drain()
                    break
                if time.monotonic() >= next_hint and not self.once:
                    if hints_apply(self.runs, self.lock):  # others notified: claim soon
                        next_claim = min(next_claim, time.monotonic() + 0.5)
                    next_hint = time.monotonic() + HINT_SECONDS
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
            self.storer.join()
            with self.lock:  # a VOD round may outlast the loop: its account waits for it
                pulling = {pk for pk, run in self.runs.items() if run.events is Phase.RUNNING}
            self.release(set(self.runs) - pulling)
            account_leases_renew(account_ids=pulling, owner=self.owner, seconds=ROUND_SECONDS + 1)
            self.pullers.join()
            self.release(pulling)
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
