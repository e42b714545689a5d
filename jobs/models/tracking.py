"""Tracking pastes (the Track page): a batch of pasted task IDs and their outcomes."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.models.accounts import Account
from jobs.models.jobs import Job


class TrackBatch(models.Model):
    """One paste of task IDs on the Track page. Its new jobs start unverified; the refresh
    engine checks each on its first poll, within the account's rate budget, and records
    the outcome on the batch's items (see services.track_batch_create)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="track_batches")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"track batch {self.code}"


class TrackItem(models.Model):
    """One pasted ID of a batch, in paste order, and what became of it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "checking"
        TRACKED = "tracked", "tracked"
        ALREADY = "already tracked", "already tracked"
        NOT_FOUND = "not found", "not found"
        ERROR = "error", "could not be checked"
        ANYWAY = "tracked anyway", "tracked anyway"

    batch = models.ForeignKey(TrackBatch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    external_id = models.CharField(max_length=255)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="track_items"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="trackitem_position")
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.outcome}"
