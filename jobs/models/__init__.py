"""The domain's models, one module per aggregate; imported here so `from jobs.models import
Job` works and Django finds them all (app label `jobs`, tables unchanged)."""

from jobs.models import lookups  # noqa: F401 - registers the `among` lookup
from jobs.models.accounts import Account, AccountEpisode, http_url, mask
from jobs.models.alerts import AlertDelivery, AlertNotice, AlertRule
from jobs.models.audit import AuditEntry, AuditJob
from jobs.models.bulk import BulkAction
from jobs.models.jobs import STATE_CHOICES, Job, JobEvent, JobQuerySet, JobStateCount
from jobs.models.notifications import Notification
from jobs.models.saved_views import SavedView
from jobs.models.search import JobSearch
from jobs.models.sharing import ShareLink
from jobs.models.tokens import ApiToken
from jobs.models.tracking import TrackBatch, TrackItem
from jobs.models.usage import AccountUsage, RateCounter

__all__ = [
    "STATE_CHOICES",
    "Account",
    "AccountEpisode",
    "AccountUsage",
    "AlertDelivery",
    "AlertNotice",
    "AlertRule",
    "ApiToken",
    "AuditEntry",
    "AuditJob",
    "BulkAction",
    "Job",
    "JobEvent",
    "JobQuerySet",
    "JobSearch",
    "JobStateCount",
    "Notification",
    "RateCounter",
    "SavedView",
    "ShareLink",
    "TrackBatch",
    "TrackItem",
    "http_url",
    "mask",
]
