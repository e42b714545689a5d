"""A real django-q2 cluster (or another `manage.py` process) on the test database, for
the tests that stop it, kill it or share a count with it."""

from __future__ import annotations

import os
import subprocess
import sys

from django.db import connection
from django_q.brokers.orm import ORM


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
