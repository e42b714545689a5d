"""VOD's reliable events pulled by the loop that holds the account: the named jobs asked
and stored before ConfirmEvents; an event pulled but never confirmed (a crash between the
pull and the store) comes again after 30 s and is handled then; one puller per account."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Account, Job, JobEvent, Notification
from jobs.refresh import RefreshLoop
from jobs.simulator.core import Phase

pytestmark = pytest.mark.django_db(transaction=True)


def _pulling(account: Account) -> Account:
    account.options = {**account.options, "events": "pull"}
    account.save()
    return account


def _waiting_job(account: Account, external_id: str) -> Job:
    # Not due for an hour: only an event can make the loop ask about it now.
    return Job.objects.create(
        account=account,
        external_id=external_id,
        state="running",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )


def _loop(seconds: float) -> threading.Thread:
    def run() -> None:
        try:
            RefreshLoop(seconds=seconds).run()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _finish(simulator, external_id: str) -> None:
    sim = simulator.add_job("tencent_vod", external_id, kind="Procedure", pinned="running")
    deadline = time.monotonic() + 5
    while not any(c["external_id"] == external_id for c in simulator.notifier.changes_for(None)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sim.pinned = Phase.SUCCEEDED


def _queue(simulator, account: Account):
    return simulator.providers["tencent_vod"].events.queue(account.credentials["secret_id"])


def test_an_event_is_asked_about_stored_then_confirmed(simulator, accounts):
    account = _pulling(accounts["tencent_vod"])
    job = _waiting_job(account, "vod-e1")
    simulator.vod_events(hold=1.0)
    _finish(simulator, "vod-e1")
    loop = _loop(8)
    try:
        deadline = time.monotonic() + 7
        while Job.objects.get(pk=job.pk).state != "succeeded":
            assert time.monotonic() < deadline, "the event did not reach the job"
            time.sleep(0.05)
    finally:
        loop.join()
    assert JobEvent.objects.filter(job=job, kind=JobEvent.Kind.NOTIFIED).exists()
    assert Notification.objects.filter(account=account, task_id="vod-e1").exists()
    simulator.clock_offset += 31
    assert _queue(simulator, account).count() == 0  # confirmed: never delivered again


def test_an_event_pulled_but_never_handled_comes_again(simulator, accounts):
    account = _pulling(accounts["tencent_vod"])
    job = _waiting_job(account, "vod-e2")
    simulator.vod_events(hold=0.2)
    _finish(simulator, "vod-e2")
    deadline = time.monotonic() + 5
    while _queue(simulator, account).count() < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The crash: a puller took the events and died before storing anything.
    assert len(account.adapter().pull_events()) == 2
    assert Job.objects.get(pk=job.pk).state == "running"
    simulator.clock_offset += 31  # VOD gives them out again
    loop = _loop(8)
    try:
        deadline = time.monotonic() + 7
        while Job.objects.get(pk=job.pk).state != "succeeded":
            assert time.monotonic() < deadline, "the redelivered event was not handled"
            time.sleep(0.05)
    finally:
        loop.join()
    simulator.clock_offset += 31
    assert _queue(simulator, account).count() == 0


def test_two_loops_never_both_pull_one_account(simulator, accounts, monkeypatch):
    account = _pulling(accounts["tencent_vod"])
    _waiting_job(account, "vod-e3")
    simulator.vod_events(hold=0.5)
    from jobs.providers.tencent_vod import TencentVod

    active, overlaps, calls = [0], [0], [0]
    lock = threading.Lock()
    original = TencentVod.pull_events

    def counted(self):
        with lock:
            active[0] += 1
            calls[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
        try:
            return original(self)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(TencentVod, "pull_events", counted)
    loops = [_loop(8), _loop(8)]  # as two clusters would
    for loop in loops:
        loop.join()
    assert calls[0] >= 2 and overlaps[0] == 1


def test_polling_goes_on_beside_the_event_puller(simulator, accounts):
    # The long poll holds a thread most of the time; the account's due jobs are polled
    # all the same (counted as a request in flight, it once kept them from ever going).
    account = _pulling(accounts["tencent_vod"])
    simulator.vod_events(hold=5.0)
    # A task the simulator makes up from its ID, as the demo's are: no state listing
    # shows it, so only its own poll can.
    job = Job.objects.create(account=account, external_id=f"sim-{int(time.time()) - 5}-0-60-ok-d1")
    loop = _loop(12)  # long enough for the puller's rounds to follow one another
    try:
        deadline = time.monotonic() + 3
        while Job.objects.get(pk=job.pk).version == 0:
            assert time.monotonic() < deadline, "the due job was never polled"
            time.sleep(0.05)
    finally:
        loop.join()
    assert Job.objects.get(pk=job.pk).state == "running"


def test_rounds_go_on_to_the_loops_end_and_only_their_account_waits(simulator, accounts):
    # Rounds used to stop a long poll's length before the loop's end, so an event in a
    # loop's last seconds waited for the next loop: now a round may start until the end,
    # and the loop gives back its other accounts on time and this one after the round.
    account = _pulling(accounts["tencent_vod"])
    job = _waiting_job(account, "vod-e5")
    other = accounts["tencent_ivh"]
    Job.objects.create(account=other, external_id="ivh-e5", state="running")
    sim = simulator.add_job("tencent_vod", "vod-e5", kind="Procedure", pinned="running")
    simulator.vod_events(hold=3.0)
    seconds = 6.0
    ends = time.monotonic() + seconds
    loop = _loop(seconds)
    time.sleep(max(0.0, ends - 1.0 - time.monotonic()))
    sim.pinned = Phase.SUCCEEDED  # an event one second before the loop's end
    time.sleep(max(0.0, ends + 0.6 - time.monotonic()))
    # The round that followed the event holds its long poll past the end.
    assert Account.objects.get(pk=other.pk).lease_owner == ""
    assert Account.objects.get(pk=account.pk).lease_owner.startswith("refresh-loop:")
    loop.join()
    assert time.monotonic() - ends < 3.0 + 2.0  # one round's hold past the end, no more
    assert Job.objects.get(pk=job.pk).state == "succeeded"
    assert Account.objects.get(pk=account.pk).lease_owner == ""
    simulator.clock_offset += 31
    assert _queue(simulator, account).count() == 0  # handled and confirmed by that loop


def _backlog_events(simulator, account: Account, n: int) -> None:
    simulator.vod_events(account.credentials["secret_id"], hold=0.2)
    queue = _queue(simulator, account)
    for i in range(n):  # events naming tasks no job has: recorded, then confirmed
        queue.append(
            {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": {"TaskId": f"x{i}"}}
        )


def _counted_backlog(monkeypatch) -> list[int]:
    from jobs.providers.tencent_vod import TencentVod

    answers: list[int] = []
    original = TencentVod.events_backlog

    def counted(self):
        answers.append(original(self))
        return answers[-1]

    monkeypatch.setattr(TencentVod, "events_backlog", counted)
    return answers


def test_a_round_records_the_backlog_at_most_once_a_minute(simulator, accounts, monkeypatch):
    account = _pulling(accounts["tencent_vod"])
    _backlog_events(simulator, account, 20)
    answers = _counted_backlog(monkeypatch)
    before = timezone.now()
    _loop(4).join()
    # The first round pulled 16 and confirmed them, then read the 4 left; the next
    # rounds pulled those within the minute and did not ask again.
    assert answers == [4]
    stored = Account.objects.get(pk=account.pk)
    assert stored.events_backlog == 4 and stored.events_backlog_at >= before
    assert _queue(simulator, account).count() == 0
    assert Notification.objects.filter(account=account).count() == 20


def _run_holding(account: Account, owner: str):
    from jobs.refresh.leases import account_lease_take
    from jobs.refresh.runs import AccountRun

    assert account_lease_take(account_id=account.pk, owner=owner)
    return AccountRun.of(Account.objects.get(pk=account.pk), once=False)


def test_the_backlog_is_read_again_after_a_minute_and_only_while_leased(
    simulator, accounts, monkeypatch
):
    from jobs.refresh.events import backlog_check
    from jobs.refresh.leases import account_leases_release

    account = _pulling(accounts["tencent_vod"])
    _backlog_events(simulator, account, 2)
    answers = _counted_backlog(monkeypatch)
    run = _run_holding(account, "refresh-loop:test")
    assert run.leased.owner == "refresh-loop:test"
    backlog_check(run, deadline=time.monotonic() + 5)
    _backlog_events(simulator, account, 1)
    backlog_check(run, deadline=time.monotonic() + 5)  # within the minute: not asked
    assert answers == [2] and Account.objects.get(pk=account.pk).events_backlog == 2
    run.backlog_checked -= 61
    backlog_check(run, deadline=time.monotonic() + 5)
    assert answers == [2, 3] and Account.objects.get(pk=account.pk).events_backlog == 3
    # The lease lost (another loop took the account): the answer is not stored.
    account_leases_release(owner="refresh-loop:test")
    run.backlog_checked -= 61
    _backlog_events(simulator, account, 1)
    backlog_check(run, deadline=time.monotonic() + 5)
    assert answers == [2, 3, 4] and Account.objects.get(pk=account.pk).events_backlog == 3


def test_no_backlog_is_asked_without_a_token_in_time(simulator, accounts, monkeypatch):
    from jobs.refresh.events import backlog_check

    account = _pulling(accounts["tencent_vod"])
    _backlog_events(simulator, account, 1)
    answers = _counted_backlog(monkeypatch)
    run = _run_holding(account, "refresh-loop:test")
    while run.leased.budget.try_take():  # the budget spent by the polls
        pass
    backlog_check(run, deadline=time.monotonic())
    assert answers == [] and Account.objects.get(pk=account.pk).events_backlog is None
    backlog_check(run, deadline=time.monotonic() + 5)  # skipped, so asked next round
    assert answers == [1]


def test_a_failed_backlog_read_does_not_pause_the_events(simulator, accounts, monkeypatch):
    from jobs.refresh.events import pull
    from jobs.refresh.runs import Phase as RunPhase
    from jobs.simulator.tencent_vod_events import EventQueue

    account = _pulling(accounts["tencent_vod"])
    _backlog_events(simulator, account, 1)
    monkeypatch.setattr(EventQueue, "count", lambda self: -1)
    run = _run_holding(account, "refresh-loop:test")
    pull(run, threading.Lock())
    assert run.events is RunPhase.IDLE and run.events_after <= time.monotonic()
    assert Account.objects.get(pk=account.pk).events_backlog is None
    assert Notification.objects.filter(account=account, task_id="x0").exists()


def test_a_rounds_asks_go_out_together_and_are_confirmed_after_one_store(simulator, accounts):
    from jobs.refresh.events import pull_round
    from jobs.refresh.poll import Leased

    account = _pulling(accounts["tencent_vod"])
    ids = [f"vod-par{n}" for n in range(6)]
    jobs = [_waiting_job(account, external_id) for external_id in ids]
    simulator.vod_events(hold=0.2)
    for external_id in ids:
        _finish(simulator, external_id)
    deadline = time.monotonic() + 5
    while _queue(simulator, account).count() < 2 * len(ids):  # started, then finished
        assert time.monotonic() < deadline
        time.sleep(0.02)
    simulator.latency = 0.3
    try:
        began = time.monotonic()
        result = pull_round(Leased.of(account), discover=False, deadline=began + 10)
        took = time.monotonic() - began
    finally:
        simulator.latency = 0.0
    assert result.confirmed and result.asked == len(ids)
    assert {Job.objects.get(pk=job.pk).state for job in jobs} == {"succeeded"}
    # Pull, six asks, confirm at 0.3 s each: 2.4 s one after another, about 0.9 s together.
    assert took < 1.8, f"the asks went one after another ({took:.2f} s)"
    simulator.clock_offset += 31
    assert _queue(simulator, account).count() == 0
