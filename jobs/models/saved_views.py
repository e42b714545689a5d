"""Saved views: a named filter and tab of the job list, personal or shared."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class SavedView(models.Model):
    """The job list's query string under a name, shown as a link above the list's tabs.

    `query` is kept canonical (the list's own parameters, sorted, no paging or poll
    token) so two saves of the same filters read the same, and a link opens exactly it.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=2000, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint("owner", Lower("name"), name="savedview_owner_name")]

    def __str__(self) -> str:
        return self.name
