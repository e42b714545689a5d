"""The fault matrix: every way a provider request can go wrong, for every provider.

For each: the job's stored state is unchanged, the error is visible on the job or the
account, polling backs off, and it recovers when the fault clears.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from jobs.models import Account, Job
from jobs.providers import PROVIDERS, provider_class
from jobs.refresh import RefreshLoop, refresh_once

pytestmark = pytest.mark.django_db(transaction=True)

FAULTS = [
    "timeout",
    "connection_refused",
    "http_500",
    "http_502_html",
    "truncated",
    "wrong_shape",
    "huge",
    "unknown_state",
    "clock_skew",
    "throttle",
    "bad_signature",
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("code", list(PROVIDERS))
def test_fault_leaves_the_job_alone_backs_off_and_recovers(
    simulator, accounts, monkeypatch, code, fault
):
    monkeypatch.setattr(provider_class(code), "request_timeout", (1.0, 0.4))
    simulator.fault_delay = 0.8
    account = accounts[code]
    sim_job = simulator.add_job(code, f"{code}-fault", pinned="running", pinned_progress=30)
    job = Job.objects.create(account=account, external_id=f"{code}-fault")
    refresh_once()
    before = Job.objects.get(pk=job.pk)
    assert before.state == "running"

    endpoint = account.endpoint
    if fault == "connection_refused":
        Account.objects.filter(pk=account.pk).update(endpoint=f"http://127.0.0.1:{_closed_port()}")
    elif fault == "unknown_state":
        sim_job.raw_state = "SOMETHING_NEW"
    else:
        simulator.inject(fault, code)
    sim_job.pinned_progress = 90
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()

    after = Job.objects.get(pk=job.pk)
    account.refresh_from_db()
    assert after.state == before.state == "running"
    assert after.failure_code == "" and after.finished_at is None
    if fault == "unknown_state":
        assert after.provider_state == "SOMETHING_NEW"
        assert "Unknown provider state 'SOMETHING_NEW'" in after.last_poll_error
        assert after.next_poll_at > timezone.now() + timedelta(seconds=10)
    else:
        assert (after.progress, after.version) == (before.progress, before.version)
        assert after.last_poll_error or account.last_error  # visible somewhere
        backed_off = after.next_poll_at > timezone.now() + timedelta(seconds=3) or (
            account.retry_at is not None and account.retry_at > timezone.now()
        )
        assert backed_off

    # The fault clears; once the back-off has passed, polling recovers on its own.
    simulator.clear_faults()
    sim_job.raw_state = None
    Account.objects.filter(pk=account.pk).update(endpoint=endpoint)
    with time_machine.travel(timezone.now() + timedelta(minutes=20), tick=True):
        refresh_once()
        recovered = Job.objects.get(pk=job.pk)
        account.refresh_from_db()
        assert recovered.state == "running" and recovered.provider_state != "SOMETHING_NEW"
        assert recovered.poll_errors == 0 and recovered.last_poll_error == ""
        assert account.consecutive_failures == 0 and account.retry_at is None
        if recovered.progress is not None:
            assert recovered.progress == 90


# --- a provider that is slow, not down ----------------------------------------------


def test_a_dripping_provider_is_a_recorded_transient_error_on_job_and_account(
    simulator, accounts, monkeypatch
):
    # Headers at once, then a byte every 0.3 s: each read is quick, the answer never ends.
    monkeypatch.setattr(provider_class("tencent_ivh"), "request_deadline", 1.0, raising=False)
    simulator.drip_interval = 0.3
    simulator.add_job("tencent_ivh", "ivh-drip", pinned="running", pinned_progress=30)
    job = Job.objects.create(account=accounts["tencent_ivh"], external_id="ivh-drip")
    simulator.inject("slow_drip", "tencent_ivh")

    started = time.monotonic()
    refresh_once()

    assert time.monotonic() - started < 10
    job.refresh_from_db()
    account = Account.objects.get(pk=job.account_id)
    assert job.state == "unknown" and job.version == 0  # nothing invented
    assert (
        "Timeout" in job.last_poll_error and "no complete answer within 1 s" in job.last_poll_error
    )
    assert job.poll_errors == 1 and job.next_poll_at > timezone.now() + timedelta(seconds=3)
    assert "no complete answer within 1 s" in account.last_error
    assert account.retry_at is None  # transient: the account's other jobs keep their pace


def test_a_slow_account_does_not_delay_another_accounts_polls(simulator, accounts, monkeypatch):
    # Two ICE accounts whose provider drips every answer until the 3 s deadline, each
    # allowed 16 requests in flight: more than the loop's 24 threads between them.
    monkeypatch.setattr(provider_class("aliyun_ice"), "request_deadline", 3.0, raising=False)
    simulator.drip_interval = 0.05
    simulator.inject("slow_drip", "aliyun_ice")
    ice = accounts["aliyun_ice"]
    for n in range(2):
        slow = Account.objects.create(
            name=f"slow-ice-{n}",
            provider="aliyun_ice",
            credentials=ice.credentials,
            options=ice.options,
            region=ice.region,
            endpoint=ice.endpoint,
            rate_limit=32,
        )
        for i in range(32):
            simulator.add_job("aliyun_ice", f"slow-{n}-{i}", pinned="running")
            Job.objects.create(account=slow, external_id=f"slow-{n}-{i}")
    Account.objects.filter(pk=ice.pk).update(enabled=False)
    fast = [f"ivh-fast-{i}" for i in range(8)]
    for external_id in fast:
        simulator.add_job("tencent_ivh", external_id, pinned="running", pinned_progress=50)
        Job.objects.create(account=accounts["tencent_ivh"], external_id=external_id)

    started = timezone.now()
    clock = time.monotonic()
    RefreshLoop(seconds=5, loops=1).run()  # one loop holds all three accounts
    took = time.monotonic() - clock

    polled = Job.objects.filter(external_id__in=fast)
    assert all(job.progress == 50 and job.last_poll_error == "" for job in polled)
    # Eight polls at IVH's 10/s take under a second; the slow accounts cost them nothing.
    latest = max(job.last_polled_at for job in polled)
    assert latest - started < timedelta(seconds=2), latest - started
    # The loop ends on time: dripping answers are cut, not waited for.
    assert took < 5 + 3
    slow_jobs = Job.objects.filter(account__name__startswith="slow-ice").exclude(poll_errors=0)
    assert slow_jobs.exists()
    assert all("no complete answer" in job.last_poll_error for job in slow_jobs)


# CI answers in XML, which cannot carry U+0000 at all (XML 1.0 forbids it, even as &#0;).
@pytest.mark.parametrize("code", [code for code in PROVIDERS if code != "tencent_ci"])
def test_a_nul_character_from_a_provider_is_dropped_not_a_failed_write(simulator, accounts, code):
    # JSON may carry "\u0000"; PostgreSQL's text and jsonb cannot store it, so before the
    # engine dropped it this write failed there (and the job never left "running").
    simulator.add_job(
        code,
        f"{code}-nul",
        pinned="failed",
        failure_code="E\x00X",
        failure_message="bad\x00input",
        name="clip\x00one",
    )
    job = Job.objects.create(account=accounts[code], external_id=f"{code}-nul")
    refresh_once()
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.last_poll_error == ""
    assert "\x00" not in job.failure_message and "bad" in job.failure_message
    assert "\x00" not in str(job.raw) and "\\u0000" not in str(job.raw)
    assert "\x00" not in job.name
