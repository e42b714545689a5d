"""Bulk actions: one operator action on many jobs, run in the background."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.models.audit import AuditEntry


class BulkAction(models.Model):
    """An action (refresh, stop watching, watch again, cancel) on up to BULK_MAX jobs.

    `job_ids` is the selection as resolved when it was asked for (a filter is resolved
    once, server-side, so the jobs do not change under the operator). The counts add up
    to `total` once the action is done; `moved_at` is when one of them last changed, so
    the progress page can say how long it has been still. `detail` holds grouped skip
    reasons and the failed jobs' messages (capped), never a secret.

    A run is resumable: `position` is how many of `job_ids` it has worked through (each
    chunk's job writes and its counts commit together), `heartbeat_at` is when its worker
    last showed it was alive (also while it waits for a lease or a rate budget, when no
    count moves), and `resumes` counts the times the sweep handed it to a new worker
    after the old one went silent; a worker acts only while `resumes` is still the value
    it started under (jobs.services.bulk_recovery).
    """

    class Kind(models.TextChoices):
        REFRESH = "refresh", "Refresh"
        STOP_WATCHING = "stop_watching", "Stop watching"
        WATCH_AGAIN = "watch_again", "Watch again"
        CANCEL = "cancel", "Cancel"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        # A refresh whose jobs are marked due: the refresh engine polls them.
        WAITING = "waiting", "Waiting for the refresh engine"
        DONE = "done", "Done"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    via = models.CharField(max_length=8, choices=AuditEntry.Via.choices)
    action = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    job_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    detail = models.JSONField(blank=True, default=dict)
    audit = models.ForeignKey(
        AuditEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    resumes = models.PositiveSmallIntegerField(default=0)
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} of {self.total} jobs ({self.state})"

    @property
    def settled(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.settled * 100 // self.total)

    @property
    def is_done(self) -> bool:
        return self.state == self.State.DONE
