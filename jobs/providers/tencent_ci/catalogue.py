"""What a Failed CI job's `JobsDetail.Code` means, for operators (docs/PROVIDERS.md §3.3)."""

from __future__ import annotations

from jobs.providers.base import (
    Explanation,
    FailureCategory,
)

# --- job failure codes ------------------------------------------------------------

# What a Failed job's `JobsDetail.Code` means. CI publishes no catalogue of job-level
# codes (docs/PROVIDERS.md §3.3): every entry below is a code the simulator emits
# (jobs/simulator/tencent_ci.py), and its meaning and category are our inference from
# the code name and message. Replace them with real codes as live accounts show them.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Input media unusable (e.g. no audio stream)",
        retry_helps=False,
        action="Check that the input object has an audio track in a supported format; "
        "replace it and submit again.",
    ),
    "DownloadFailed": Explanation(
        FailureCategory.INPUT,
        "Could not read the input object from the bucket",
        retry_helps=False,
        action="Check that the input object exists at that key and that Cloud Infinite "
        "may read the bucket, then submit again.",
    ),
    "AudioProcessFailed": Explanation(
        FailureCategory.INTERNAL,
        "Voice separation failed while processing",
        retry_helps=True,
        action="Submit the job again; if the same file keeps failing, check that it plays "
        "or contact Tencent support with the JobId.",
    ),
    "UploadFailed": Explanation(
        FailureCategory.INPUT,
        "Could not write the output to the bucket",
        retry_helps=False,
        action="Check that the output bucket and region exist and that Cloud Infinite may "
        "write there, then submit again.",
    ),
}
