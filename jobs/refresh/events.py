"""VOD's reliable events, for accounts with the option `events=pull`: the loop that holds
the account's lease (so one puller per account on any number of hosts) pulls them.

A round: PullEvents (VOD holds it up to 5 s until an event comes), then the jobs the
events name are asked about at once with the signed query and their answers stored, and
only then ConfirmEvents. A crash, a failed ask or a missed deadline between the pull and
the store leaves the events unconfirmed, so VOD delivers them again after 30 s: an event
can come twice (the second ask finds nothing new), never be lost. Every call spends from
the account's rate budget, shared with polling.

Rounds start until the loop's end and may run ROUND_SECONDS past it, on the loop's own
puller threads: the loop gives back its other accounts on time and this one when its
round is over, so the next loop's first round follows within a claim (about a second),
not after a pause of the long poll's length at every loop's end.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from jobs import http
from jobs.models import Account, Job, JobEvent, Notification
from jobs.providers.errors import ProviderError
from jobs.providers.notify import Notice
from jobs.refresh.leases import account_lease_keep
from jobs.refresh.poll import Answer, Leased, Polled, ask, store
from jobs.refresh.runs import AccountRun, Phase
from jobs.refresh.workers import Workers

log = logging.getLogger("jobs.refresh")

# A round needs this long: the long poll's 5 s and a second to ask and confirm.
ROUND_SECONDS = 6.5
# After a failed round the account's events wait this long (polling goes on meanwhile).
PAUSE_SECONDS = 10.0
# A loop's puller threads: more accounts pulling events than this take turns (a round
# with events is over in well under a second; one without holds its thread 5 s).
PULLERS = 4
# A round's asks go out together (each still within the budget) and are stored in one
# write: one after another, a round of a few events took about half a second, and the
# events that came meanwhile waited in VOD's queue.
ASKERS = 8
# Made in the worker process on first use: a pool made before django-q2 forks its
# workers would have no threads in them.
_askers: ThreadPoolExecutor | None = None
_askers_lock = threading.Lock()
# How often a puller asks VOD how many events wait (DescribeEventsState has 20 req/s for
# the whole account, and counts with about 5 s of lag anyway).
BACKLOG_SECONDS = 60.0


@dataclass(frozen=True)
class Round:
    events: int = 0
    asked: int = 0
    confirmed: bool = False


def pull_start(run: AccountRun, lock: threading.Lock, pullers: Workers) -> None:
    """Start the account's next round unless one is running or it pauses after a failure."""
    if run.events not in (Phase.IDLE, Phase.FAILED) or time.monotonic() < run.events_after:
        return
    with lock:  # counted apart from the polls in flight: its long poll would starve them
        run.events = Phase.RUNNING
    pullers.submit(functools.partial(pull, run, lock))


def pull(run: AccountRun, lock: threading.Lock) -> None:
    """One round, on a loop's puller thread, within ROUND_SECONDS; the run's events phase
    back to IDLE, or FAILED for PAUSE_SECONDS after an error (its events come again)."""
    failed = True
    deadline = time.monotonic() + ROUND_SECONDS
    try:
        with http.deadline_by(deadline):
            pull_round(run.leased, discover=run.discovery is not Phase.OFF, deadline=deadline)
        failed = False
        try:  # after the round: its failure pauses nothing
            backlog_check(run, deadline=deadline)
        except ProviderError as error:
            log.warning("%s: events backlog not read: %s", run.name, error)
    except ProviderError as error:
        log.warning("%s: events not pulled: %s", run.name, error)
    except Exception:  # a round must never stop the polling of the account
        log.exception("%s: events round failed", run.name)
    finally:
        with lock:
            run.events = Phase.FAILED if failed else Phase.IDLE
            run.events_after = time.monotonic() + (PAUSE_SECONDS if failed else 0.0)


def pull_round(leased: Leased, *, discover: bool, deadline: float) -> Round:
    """One pull, ask and confirm; ProviderErrors propagate (the events come again)."""
    adapter = leased.adapter
    if not leased.budget.take(deadline):
        return Round()
    events = adapter.pull_events()  # type: ignore[attr-defined]
    if not events:
        return Round()
    ids = _jobs_named(leased.account_id, [notice for _, notice in events], discover=discover)
    items, batch = list(ids.items()), adapter.batch_size
    chunks = [dict(items[start : start + batch]) for start in range(0, len(items), batch)]
    asks = []
    for chunk in chunks:
        if not leased.budget.take(deadline):
            break
        asks.append(_pool().submit(_ask, leased, chunk, deadline))
    answers = [ask_.result() for ask_ in asks]
    stored = store([answer for answer in answers if isinstance(answer, Answer)])
    asked = sum(len(answer.ids) for answer in answers if isinstance(answer, Answer))
    if len(asks) < len(chunks) or len(stored) < len(answers) or any(p.error for p in stored):
        return Round(len(events), asked)  # unconfirmed: VOD gives the events out again
    if not leased.budget.take(deadline):
        return Round(len(events), len(ids))
    adapter.confirm_events([handle for handle, _ in events])  # type: ignore[attr-defined]
    return Round(len(events), len(ids), confirmed=True)


def _pool() -> ThreadPoolExecutor:
    global _askers
    with _askers_lock:
        if _askers is None:
            _askers = ThreadPoolExecutor(max_workers=ASKERS, thread_name_prefix="vod-ask")
        return _askers


def _ask(leased: Leased, ids: dict[str, int], deadline: float) -> Answer | Polled:
    """One ask on a pool thread, within the round's deadline (a thread's own). Only a
    failure writes (its record); the connection is closed after, so the pool holds none."""
    try:
        with http.deadline_by(deadline):
            return ask(leased, ids)
    finally:
        connection.close()


def backlog_check(run: AccountRun, *, deadline: float) -> None:
    """At most once a minute, for one token of the budget (none left: not this round),
    store how many events VOD holds unpulled (DescribeEventsState) and when, while the
    run's loop still holds the lease. ProviderErrors propagate."""
    leased = run.leased
    if not leased.owner or time.monotonic() - run.backlog_checked < BACKLOG_SECONDS:
        return
    if not leased.budget.take(deadline):
        return
    run.backlog_checked = time.monotonic()  # a failed ask waits its minute too
    with http.deadline_by(deadline):
        backlog = leased.adapter.events_backlog()  # type: ignore[attr-defined]
    account_lease_keep(
        account_id=leased.account_id,
        owner=leased.owner,
        events_backlog=backlog,
        events_backlog_at=timezone.now(),
    )


def _jobs_named(account_id: int, notices: list[Notice], *, discover: bool) -> dict[str, int]:
    """{task ID: job pk} of the watched, unfinished jobs the events name (tracking unknown
    tasks first where discovery is on); each event recorded, each job given a line."""
    account = Account.objects.defer("credentials").get(pk=account_id)
    tasks = list(dict.fromkeys(t for notice in notices for t in notice.task_ids))
    if discover and tasks:
        Job.objects.bulk_create(
            [Job(account=account, external_id=t) for t in tasks], ignore_conflicts=True
        )
    jobs = {j.external_id: j for j in Job.objects.filter(account=account, external_id__in=tasks)}
    now = timezone.now()
    records, lines = [], []
    for notice in notices:
        for task in notice.task_ids or ("",):
            job = jobs.get(task)
            outcome = Notification.Outcome.ACCEPTED if job else Notification.Outcome.UNKNOWN
            reason = "pulled" if job else ("names no task" if not task else "no tracked job")
            records.append(
                Notification(
                    account=account,
                    received_at=now,
                    task_id=task,
                    event=notice.event,
                    outcome=outcome,
                    reason=reason,
                    job=job,
                )
            )
            if job:
                note = f"event pulled: {notice.event}"[:255]
                lines.append(
                    JobEvent(
                        job=job, at=now, state=job.state, kind=JobEvent.Kind.NOTIFIED, note=note
                    )
                )
    Notification.objects.bulk_create(records)
    JobEvent.objects.bulk_create(lines)
    return {
        task: job.pk
        for task, job in jobs.items()
        if job.next_poll_at is not None and not job.is_terminal
    }
