"""What a FAILED MetaStudio job's `error_info.error_code` means (docs/PROVIDERS.md §4.4)."""

from __future__ import annotations

from jobs.providers.base import (
    Explanation,
    FailureCategory,
)

# --- the adapter --------------------------------------------------------------------


# --- job failure codes ------------------------------------------------------------

# What a FAILED job's `error_info.error_code` means. Huawei documents no job-level list;
# the first three codes are in MetaStudio's error-code table (as request errors) and are
# assumed to appear in error_info too. Other entries are marked where they come from.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "MSS.00000003": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the job and submit again.",
    ),
    "MSS.00000004": Explanation(
        FailureCategory.INTERNAL,
        "MetaStudio internal error",
        retry_helps=True,
        action="Submit the job again; if it keeps failing, open a Huawei Cloud ticket "
        "with the job ID.",
    ),
    "MSS.10001001": Explanation(
        FailureCategory.INPUT,
        "Asset not found",
        retry_helps=False,
        action="Check that the model, voice and media asset IDs of the job exist in this "
        "project and region, then submit again.",
    ),
    # Inference: the Web SDK error table lists 20010056 "2d digital human video
    # insufficient resource quota" (too many running jobs); the MSS. form is assumed.
    "MSS.20010056": Explanation(
        FailureCategory.QUOTA,
        "Too many video jobs running (likely quota)",
        retry_helps=True,
        action="Submit again once running jobs finish; if it keeps happening, stagger "
        "submissions or ask Huawei to raise the concurrency quota.",
    ),
    # Simulator inventions (jobs/simulator/huawei_metastudio.py); not Huawei's codes.
    "MSS.00000005": Explanation(
        FailureCategory.INTERNAL,
        "Video rendering failed",
        retry_helps=True,
        action="Submit the job again; if it keeps failing, open a Huawei Cloud ticket "
        "with the job ID.",
    ),
    "MSS.00000006": Explanation(
        FailureCategory.INPUT,
        "Speech synthesis failed for the script",
        retry_helps=False,
        action="Check the script text and voice (language matches, no unsupported "
        "characters or tags), fix it and submit again.",
    ),
    "MSS.00000007": Explanation(
        FailureCategory.INPUT,
        "Avatar model asset unavailable",
        retry_helps=False,
        action="Check that model_asset_id names an active, unfrozen model in this "
        "project, then submit again.",
    ),
}
