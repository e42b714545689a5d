"""What a failed IVH job's `FailCode` means, for operators (docs/PROVIDERS.md §1.4)."""

from __future__ import annotations

from jobs.providers.base import (
    Explanation,
    FailureCategory,
)

# --- job failure codes ------------------------------------------------------------

_RETRY_OR_SUPPORT = (
    "Submit the job again; if it keeps failing, contact Tencent support with the task ID."
)

# What a FAIL job's `FailCode` means. Source unless noted: Tencent Cloud AI Digital Human
# docs, "Appendix I: Result Code Dictionary" (product 1211/62095), section II "audio and
# video production result codes". docs/PROVIDERS.md §1.4 had not found this list.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "801000": Explanation(
        FailureCategory.INTERNAL,
        "IVH internal system error",
        retry_helps=True,
        action=_RETRY_OR_SUPPORT,
    ),
    "801003": Explanation(
        FailureCategory.INTERNAL,
        "Production gave up after its retries",
        retry_helps=True,
        action=_RETRY_OR_SUPPORT,
    ),
    "801004": Explanation(
        FailureCategory.INTERNAL,
        "Production crashed",
        retry_helps=True,
        action=_RETRY_OR_SUPPORT,
    ),
    "801007": Explanation(
        FailureCategory.TRANSIENT,
        "Production timed out",
        retry_helps=True,
        action="Submit the job again, ideally at a quieter time; if it keeps timing out, "
        "contact Tencent support with the task ID.",
    ),
    "801008": Explanation(
        FailureCategory.INPUT,
        "Could not download a file given in the request",
        retry_helps=False,
        action="Check that every file URL in the request is public and downloadable, "
        "fix it and submit again.",
    ),
    "801009": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter (named in the message)",
        retry_helps=False,
        action="Fix the parameter the message names so it matches the API, then submit again.",
    ),
    "801010": Explanation(
        FailureCategory.INPUT,
        "Could not fetch a URL given in the request",
        retry_helps=False,
        action="Check that the URLs in the request (images, audio, backgrounds) open "
        "publicly, fix them and submit again.",
    ),
    "801015": Explanation(
        FailureCategory.INPUT,
        "Upload to your storage URL failed",
        retry_helps=False,
        action="Check that VideoStorageS3Url / SubtitleStorageS3Url are valid and "
        "writable, then submit again.",
    ),
    # Listed by Tencent among the API (submit-time) codes as "text security check
    # failed"; a third-party client also sees it as a job FailCode (docs/PROVIDERS.md §1.4).
    "801005": Explanation(
        FailureCategory.CONTENT_POLICY,
        "Script failed the text safety check",
        retry_helps=False,
        action="Remove sensitive wording from the script (SSML) and submit again; "
        "resubmitting it unchanged will fail again.",
    ),
    # Unverified: only a third-party client treats 802000 as a content-policy rejection
    # (docs/PROVIDERS.md §1.4); Tencent's dictionary does not list it.
    "802000": Explanation(
        FailureCategory.CONTENT_POLICY,
        "Likely rejected by content review (unverified)",
        retry_helps=False,
        action="Check the script and images for content Tencent may reject and change "
        "it before submitting again; ask Tencent support if the message is unclear.",
    ),
    # Simulator inventions (jobs/simulator/tencent_ivh.py); not in Tencent's dictionary.
    "600001": Explanation(
        FailureCategory.INPUT,
        "Script text too long",
        retry_helps=False,
        action="Shorten the script or split it over several jobs, then submit again.",
    ),
    "700002": Explanation(
        FailureCategory.INPUT,
        "Avatar key invalid or avatar offline",
        retry_helps=False,
        action="Check the VirtualmanKey in the request and that the avatar is still active "
        "in the IVH console, then submit again.",
    ),
    "900001": Explanation(
        FailureCategory.INTERNAL,
        "Video rendering failed",
        retry_helps=True,
        action=_RETRY_OR_SUPPORT,
    ),
}
