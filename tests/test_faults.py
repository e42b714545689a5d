"""The fault matrix: every way a provider request can go wrong, for every provider.

For each: the job's stored state is unchanged, the error is visible on the job or the
account, polling backs off, and it recovers when the fault clears.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from jobs.models import Account, Job
from jobs.providers import PROVIDERS, provider_class
from jobs.refresh import refresh_once

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
