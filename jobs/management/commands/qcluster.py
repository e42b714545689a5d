"""django-q2's `qcluster`, stopping promptly on SIGTERM/SIGINT.

django-q2 stops a cluster by letting every worker finish the task it is on, and a
refresh loop runs for most of a minute (more queued behind it), so a supervisor's SIGTERM
left the cluster "stopping" for minutes. Here the signal first raises the refresh
engine's shutdown flag, shared with the forked workers, so their loops end at once and
release their leases; django-q2's own stop then finds the workers idle.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from jobs.refresh.shutdown import shutdown_prepare, shutdown_request


class PromptCluster(Cluster):  # type: ignore[misc]  # django-q2 has no type hints
    def sig_handler(self, signum: int, frame: Any) -> None:
        shutdown_request()
        super().sig_handler(signum, frame)


class Command(qcluster.Command):  # type: ignore[misc]
    def handle(self, *args: Any, **options: Any) -> None:
        settings.SECRET_KEY  # noqa: B018 - as django-q2: signing needs it
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        shutdown_prepare()  # before the fork, so the workers share it
        cluster = PromptCluster()
        cluster.start()
        if options.get("run_once", False):
            cluster.stop()
