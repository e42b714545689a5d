"""Workflows that touch the database and the providers, one module per workflow.

Views, commands and tasks call these; they hold no request or CLI concerns. This is the
package's public surface, listed once: callers write `from jobs.services import job_track`.
Tokens, share links and request counts are imported from their modules
(`jobs.services.api_tokens`, `.sharing`, `.usage`).
"""

from jobs.services.accounts import (
    account_check,
    account_create,
    account_record_error,
    account_record_ok,
    account_settings_clean,
)
from jobs.services.cancel import CancelResult, cancel_refusal, jobs_cancel
from jobs.services.errors import InvalidInput
from jobs.services.status import (
    Applied,
    job_apply_status,
    jobs_apply_statuses,
    jobs_confirm_unchanged,
    jobs_record_error,
)
from jobs.services.submitting import (
    ResubmitRefused,
    job_resubmit,
    job_submit,
    resubmit_refusal,
)
from jobs.services.subtitles import job_fetch_subtitles
from jobs.services.tracking import (
    TRACK_MAX_IDS,
    TrackProgress,
    TrackResult,
    job_track,
    parse_external_ids,
    track_batch_create,
    track_batch_progress,
    track_batch_track_anyway,
)
from jobs.services.verification import track_account_refused
from jobs.services.watching import (
    job_record_refresh,
    job_request_refresh,
    job_resume_watching,
    job_stop_watching,
)

__all__ = [
    "TRACK_MAX_IDS",
    "Applied",
    "CancelResult",
    "InvalidInput",
    "ResubmitRefused",
    "TrackProgress",
    "TrackResult",
    "account_check",
    "account_create",
    "account_record_error",
    "account_record_ok",
    "account_settings_clean",
    "cancel_refusal",
    "job_apply_status",
    "jobs_apply_statuses",
    "jobs_cancel",
    "job_fetch_subtitles",
    "job_record_refresh",
    "job_resubmit",
    "job_request_refresh",
    "job_resume_watching",
    "job_stop_watching",
    "job_submit",
    "job_track",
    "jobs_confirm_unchanged",
    "jobs_record_error",
    "parse_external_ids",
    "resubmit_refusal",
    "track_account_refused",
    "track_batch_create",
    "track_batch_progress",
    "track_batch_track_anyway",
]
