"""A cluster killed mid-refresh (SIGKILL) loses no update and leaves no lease stuck, and
rotating the encryption keys under a running refresh loop loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Account, Job
from jobs.refresh import RefreshLoop, refresh_once
from tests.clusters import cluster_start, orm_broker, running_ivh_jobs, wait_for_updates

pytestmark = pytest.mark.django_db(transaction=True)


def test_killing_a_cluster_mid_refresh_loses_no_update_and_frees_the_lease(simulator, accounts):
    account = accounts["tencent_ivh"]
    ids = running_ivh_jobs(simulator, account, prefix="ivh-k", count=60, progress=40, rate_limit=10)

    # A real cluster on the ORM broker, sharing the test database; SIGKILL to its group
    # takes the workers down with it, as when a host dies.
    cluster = cluster_start(CLAPBOARD_LEASE_SECONDS="3")
    try:
        async_task("jobs.tasks.refresh_loop", sync=False, broker=orm_broker())
        wait_for_updates(cluster, 5)  # mid-pass: some jobs done
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(10)

    account.refresh_from_db()
    assert account.lease_owner and account.lease_until <= timezone.now() + timezone.timedelta(
        seconds=3
    )
    done = Job.objects.filter(version__gt=0).count()
    assert 5 <= done < len(ids)
    for job in Job.objects.all():  # every update applied whole, or not at all
        assert job.events.count() == job.version
        assert (job.state, job.progress) in (("unknown", None), ("running", 40))

    # Nothing is stuck: once the dead process's lease expires, another refresher takes over.
    assert refresh_once(account_names=[account.name])["requests"] == 0  # still leased
    time.sleep(max(0.0, (account.lease_until - timezone.now()).total_seconds()) + 0.2)
    stats = refresh_once(account_names=[account.name])
    assert stats["jobs"] == len(ids) - done  # the rest, and nobody twice
    assert set(Job.objects.values_list("version", flat=True)) == {1}
    assert all(job.events.count() == 1 for job in Job.objects.all())


def test_rotating_keys_under_a_running_loop_loses_nothing(simulator, accounts, settings):
    simulator.latency = 0.02
    for code, account in accounts.items():
        for n in range(8):
            simulator.add_job(code, f"{code}-r{n}", pinned="running")
            Job.objects.create(account=account, external_id=f"{code}-r{n}")
    old_key = settings.CLAPBOARD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    results = []
    loop = threading.Thread(target=lambda: results.append(RefreshLoop(seconds=4, loops=1).run()))
    loop.start()
    time.sleep(0.5)
    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotatekeys", stdout=open(os.devnull, "w"))
    loop.join()

    settings.CLAPBOARD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    assert results[0]["errors"] == 0
    assert not Job.objects.filter(version=0).exists()
    assert not Account.objects.exclude(last_error="").exists()
    for account in Account.objects.all():
        assert account.credentials == accounts[account.provider].credentials
