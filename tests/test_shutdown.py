"""SIGTERM stops a cluster promptly (systemd and Kubernetes stop with it), even while a
refresh loop that would run for most of a minute is polling, and its leases are freed."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import pytest
from django_q.tasks import async_task

from jobs.models import Account, Job
from tests.clusters import cluster_start, orm_broker, running_ivh_jobs, wait_for_updates

pytestmark = pytest.mark.django_db(transaction=True)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_stops_a_cluster_mid_loop_within_20_seconds(simulator, accounts):
    account = accounts["tencent_ivh"]
    # Slow enough that the loop has work for its whole minute.
    ids = running_ivh_jobs(simulator, account, prefix="ivh-t", count=300, progress=10, rate_limit=3)
    cluster = cluster_start()  # as under a supervisor; SIGTERM goes to the parent alone
    try:
        broker = orm_broker()
        async_task("jobs.tasks.refresh_loop", sync=False, broker=broker)
        async_task("jobs.tasks.refresh_loop", sync=False, broker=broker)  # queued behind
        wait_for_updates(cluster, 3)  # the loop is polling
        assert Account.objects.get(pk=account.pk).lease_owner

        cluster.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        cluster.wait(20)  # raises TimeoutExpired if the cluster lingers
        stopped_after = time.monotonic() - sent
        for _ in range(20):  # the sentinel and workers too, not only the parent
            if not _group_alive(cluster.pid):
                break
            time.sleep(0.1)
        assert not _group_alive(cluster.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(10)

    assert stopped_after < 20
    account.refresh_from_db()
    assert (account.lease_owner, account.lease_until) == ("", None)  # released, not expired
    # Polled work was stored whole; the rest is still due, for the next cluster.
    polled = Job.objects.filter(version__gt=0).count()
    assert 3 <= polled < len(ids)
    assert not Job.objects.filter(version=0, next_poll_at__isnull=True).exists()
