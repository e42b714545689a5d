"""Watched provider jobs, their history and the per-account state counts."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import BigIntegerField, F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models.accounts import Account
from jobs.providers.base import TERMINAL_STATES, State

STATE_CHOICES = [(state.value, state.value.capitalize()) for state in State]
# When a job finished, as the Failures page and the list's finished filter read it: the
# provider's time, else when Clapboard first saw the job. Indexed (job_state_finished).
FINISHED_AT = Coalesce("finished_at", "tracked_at")
# The job list's sort keys (jobs.listing), each with an index of its own. Created as the
# list shows it: the provider's time, else when Clapboard first saw the job; last change
# likewise. A job without a media length or progress sorts as -1, below every real value,
# so the keyset never meets a NULL; -1 is SQL text, not a parameter, because SQLite only
# matches an index on an expression written the same way, and a bound value is not.
CREATED_AT = Coalesce("created_at", "tracked_at")
CHANGED_AT = Coalesce("changed_at", "tracked_at")
DURATION_KEY = Coalesce("duration_ms", RawSQL("-1", ()), output_field=BigIntegerField())
PROGRESS_KEY = Coalesce("progress", RawSQL("-1", ()), output_field=BigIntegerField())


class JobQuerySet(models.QuerySet["Job"]):
    def active(self) -> JobQuerySet:
        return self.exclude(state__in=TERMINAL_STATES)


class Job(models.Model):
    """One provider task as last seen, plus what the poller needs to schedule it."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="jobs")
    external_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=STATE_CHOICES, default=State.UNKNOWN.value)
    provider_state = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=128, blank=True)
    failure_message = models.TextField(blank=True)
    media_url = models.TextField(blank=True)
    subtitles_url = models.TextField(blank=True)
    cover_url = models.TextField(blank=True)
    duration_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    tracked_at = models.DateTimeField(default=timezone.now)
    # When the newest event happened (the list's "Last change"); null before the first.
    # A trigger on jobs_jobevent keeps it whatever writes events (migration 0020).
    changed_at = models.DateTimeField(null=True, blank=True)
    words = models.JSONField(blank=True, default=list)
    subtitles = models.TextField(blank=True)
    subtitles_error = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(blank=True, default=dict)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    # Null means "not scheduled": terminal, stopped, or given up on.
    next_poll_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    poll_errors = models.PositiveIntegerField(default=0)
    last_poll_error = models.TextField(blank=True)
    # Why polling stopped before the job finished (retention, not found, an operator).
    stopped_reason = models.CharField(max_length=255, blank=True)
    version = models.PositiveIntegerField(default=0)
    # When a provider notification last named this job, until a refresh loop takes the
    # hint and asks the provider (jobs/refresh/hints.py): never a state, only "ask now".
    notified_at = models.DateTimeField(null=True, blank=True)
    # What the submit form sent, for a resubmit (null: not submitted through Clapboard).
    # Nullable, without a default, so SQLite adds the column in place: a default would
    # make Django rebuild jobs_job, and the rebuild drops the table's triggers.
    submit_params = models.JSONField(null=True, blank=True, editable=False)
    resubmission_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resubmissions",
        editable=False,
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], name="job_account_external_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_poll_at"], name="job_due", condition=Q(next_poll_at__isnull=False)
            ),
            models.Index(fields=["-tracked_at", "-id"], name="job_recent"),
            models.Index(fields=["state", "-tracked_at", "-id"], name="job_state_recent"),
            models.Index(fields=["account", "state"], name="job_account_state"),
            # A provider's typical run time (the job page of jobs without progress): the
            # newest succeeded jobs of one account and kind, without reading the rest.
            models.Index(
                fields=["account", "kind", "-finished_at"],
                name="job_recent_succeeded",
                condition=Q(state="succeeded", finished_at__isnull=False),
            ),
            # The list's Kind choices walk it one kind at a time (jobs.selectors.KINDS_SQL).
            models.Index(fields=["kind"], name="job_kind"),
            # The Failures page's window (state = failed, FINISHED_AT in a range) and the
            # list's finished filter read this range instead of every job (migration 0016).
            models.Index(F("state"), FINISHED_AT, name="job_state_finished"),
            # The loops look for hints four times a second: a scan of the few jobs named.
            models.Index(
                fields=["notified_at"],
                name="job_notified",
                condition=Q(notified_at__isnull=False),
            ),
            # The list's other orders, walked either way (migration 0020).
            models.Index(CREATED_AT.desc(), F("id").desc(), name="job_sort_created"),
            models.Index(CHANGED_AT.desc(), F("id").desc(), name="job_sort_changed"),
            models.Index(DURATION_KEY.desc(), F("id").desc(), name="job_sort_duration"),
            models.Index(PROGRESS_KEY.desc(), F("id").desc(), name="job_sort_progress"),
        ]
        permissions = [("operate_job", "Can track, refresh and share jobs")]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def display_name(self) -> str:
        return self.name or self.external_id


class JobEvent(models.Model):
    """A visible change of a job: its history, and the source of ETA estimates.

    Most events are status changes (`kind` empty). The others are about Clapboard's view of
    the job, not the job itself: checks starting to fail, checks answered again, the
    outcome of an operator's "Refresh now", and operators' actions.
    """

    class Kind(models.TextChoices):
        STATUS = "", "Status"
        FAILING = "failing", "Checks failing"
        RECOVERED = "recovered", "Checks recovered"
        REFRESH = "refresh", "Refresh now"
        # An operator's action on the job (stop, watch again, cancel...); the audit log
        # holds the full entry, the timeline this line of it.
        ACTION = "action", "Operator"
        # A provider notification named the job (a hint; the state comes from the query
        # it caused). The Notification row holds what was received.
        NOTIFIED = "notified", "Notification"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=STATE_CHOICES)
    provider_state = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=128, blank=True)
    failure_message = models.TextField(blank=True)
    note = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, blank=True, default="")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["job", "at"], name="jobevent_job_at")]

    def __str__(self) -> str:
        return f"{self.job_id} {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"


class JobStateCount(models.Model):
    """How many jobs each account has in each state, for the list's tabs.

    Database triggers (migrations 0003 and 0012) keep it exact on every insert, update and
    delete of a job — whatever code path, bulk or raw — so the tabs never count the jobs
    table.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="state_counts")
    state = models.CharField(max_length=16, choices=STATE_CHOICES)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "state"], name="statecount_account_state")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.state}: {self.count}"
