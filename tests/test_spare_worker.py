"""The cluster keeps a worker beside its refresh loops: while both loops hold theirs for
their minute, "Refresh now" (and any other task) runs at once instead of waiting for one."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from jobs.models import Account, Job, JobEvent
from tests.clusters import cluster_start, orm_broker, running_ivh_jobs, wait_for_updates

pytestmark = pytest.mark.django_db(transaction=True)


def test_refresh_now_runs_while_every_loop_holds_its_worker(simulator, accounts):
    ivh = accounts["tencent_ivh"]
    # Work for a whole minute, so the loop holding IVH (and its idle sibling) live on.
    running_ivh_jobs(simulator, ivh, prefix="ivh-s", count=300, progress=10, rate_limit=3)
    vod = accounts["tencent_vod"]
    simulator.add_job("tencent_vod", "vod-spare-1", pinned="running", pinned_progress=40)
    # Not due: no loop claims VOD, so Refresh now polls it itself.
    job = Job.objects.create(
        account=vod, external_id="vod-spare-1", next_poll_at=timezone.now() + timedelta(hours=1)
    )
    cluster = cluster_start()  # the default Q_WORKERS: one per loop and one spare
    try:
        broker = orm_broker()
        async_task("jobs.tasks.refresh_loop", sync=False, broker=broker)
        async_task("jobs.tasks.refresh_loop", sync=False, broker=broker)
        wait_for_updates(cluster, 3)
        assert Account.objects.get(pk=ivh.pk).lease_owner
        asked = time.monotonic()
        async_task("jobs.tasks.job_refresh", job.pk, sync=False, broker=broker)
        while not JobEvent.objects.filter(job=job, kind=JobEvent.Kind.REFRESH).exists():
            # A loop lives 59 s: with no spare worker the task would wait for one to end.
            assert time.monotonic() - asked < 20, "Refresh now waited for a refresh loop"
            assert cluster.poll() is None
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait(10)
    job.refresh_from_db()
    assert job.progress == 40
    assert Account.objects.get(pk=ivh.pk).lease_owner  # the loops were still on it
