"""A real django-q2 cluster (or another `manage.py` process) on the test database, for
the tests that stop it, kill it or share a count with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from django.db import connection
from django_q.brokers.orm import ORM

from jobs.models import Account, Job
from jobs.simulator.core import Simulator


def database_url() -> str:
    """DATABASE_URL of the database this test runs on, for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child `manage.py` on the test database, without Redis."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DEBUG": "true",
        "REDIS_URL": "",
        "CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS": "true",  # the simulator is on 127.0.0.1
        **extra,
    }


def cluster_start(**extra_env: str) -> subprocess.Popen[bytes]:
    """`manage.py qcluster` as under a supervisor: its own session (so one signal to
    the group reaches the workers too, as when a host dies), output discarded."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        env=child_env(**extra_env),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def orm_broker() -> ORM:
    # The cluster under test uses the ORM broker on this database, whatever the suite's
    # own broker is (Redis in the PostgreSQL run).
    return ORM(list_key="clapboard")


def running_ivh_jobs(
    simulator: Simulator,
    account: Account,
    *,
    prefix: str,
    count: int,
    progress: int,
    rate_limit: int,
) -> list[str]:
    """`count` IVH jobs running at `progress` in the simulator and known to the database,
    behind a rate limit of `rate_limit`/s: work that keeps a refresh loop busy for a while."""
    simulator.latency = 0.05
    Account.objects.filter(pk=account.pk).update(rate_limit=rate_limit)
    ids = [f"{prefix}{n}" for n in range(count)]
    for external_id in ids:
        simulator.add_job("tencent_ivh", external_id, pinned="running", pinned_progress=progress)
    Job.objects.bulk_create(Job(account=account, external_id=i) for i in ids)
    return ids


def wait_for_updates(cluster: subprocess.Popen[bytes], count: int) -> None:
    """Until `count` jobs have been updated (the cluster's loop is mid-pass); fails if the
    cluster dies or a minute goes by first."""
    deadline = time.monotonic() + 60
    while Job.objects.filter(version__gt=0).count() < count:
        assert time.monotonic() < deadline and cluster.poll() is None
        time.sleep(0.05)
