"""What a failed VOD task's `failure_code` means, for operators (docs/PROVIDERS.md §2.2)."""

from __future__ import annotations

from jobs.providers.base import (
    Explanation,
    FailureCategory,
)

# --- job failure codes -------------------------------------------------------------------

# What a failed task's `failure_code` means. Keys are ErrCodeExt strings, the deprecated
# numeric ErrCode (only sub-tasks without ErrCodeExt, e.g. ComposeMediaTask, send it alone)
# and "FAIL" (an inner Status=FAIL without codes, see `subtask_failure`).
# Sources: VOD "Error Codes" page, video-processing section (InvalidInput*, SourceFileError*,
# InternalError); the EditMediaTask ErrCode docs (40000/60000/70000); the AigcVideoTask
# ErrCodeExt list in docs/PROVIDERS.md §2.2 (names only, meanings not documented there).
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Invalid task parameters",
        retry_helps=False,
        action="Check the task's parameters (the message names the problem), fix them "
        "and submit again.",
    ),
    "InvalidInput.DefinitionNotExist": Explanation(
        FailureCategory.INPUT,
        "Template ID does not exist",
        retry_helps=False,
        action="Check the template (Definition) ID used by the task or its procedure; "
        "create the template or pick an existing one, then submit again.",
    ),
    "SourceFileError": Explanation(
        FailureCategory.INPUT,
        "Source file is corrupt, unsupported or unreachable",
        retry_helps=False,
        action="Check that the source file plays and can be downloaded (corrupt data, "
        "unsupported format or no access); replace it and submit again.",
    ),
    # AigcVideoTask ErrCodeExt values: the names are documented, the meanings below are
    # read from the names (our inference).
    "InvalidParameter": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the request and submit again.",
    ),
    "InvalidParameterValue": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter value",
        retry_helps=False,
        action="Read the message for the value at fault (model, size, duration...), "
        "correct it and submit again.",
    ),
    "InvalidParameter.MediaFormat": Explanation(
        FailureCategory.INPUT,
        "Input media format not supported",
        retry_helps=False,
        action="Convert the input image or video to a supported format and submit again.",
    ),
    "InvalidParameter.VoilationContent": Explanation(  # sic: Tencent's spelling
        FailureCategory.CONTENT_POLICY,
        "Prompt or input violates content rules",
        retry_helps=False,
        action="Change the prompt or input media so it complies with Tencent's content "
        "rules; resubmitting it unchanged will fail again.",
    ),
    "ContentModerationFailed": Explanation(
        FailureCategory.CONTENT_POLICY,
        "Content did not pass moderation",
        retry_helps=False,
        action="Review the prompt, input and generated content for material Tencent's "
        "moderation rejects; change it before submitting again.",
    ),
    "RequestLimitExceeded": Explanation(
        FailureCategory.QUOTA,
        "Rate or concurrency limit reached",
        retry_helps=True,
        action="Submit again in a few minutes; if it keeps happening, spread submissions "
        "out or ask Tencent to raise the account's limit.",
    ),
    # Inference: "not enough resources" may be Tencent capacity or the account's quota.
    "ResourceInsufficient": Explanation(
        FailureCategory.QUOTA,
        "Not enough resources (likely quota or capacity)",
        retry_helps=True,
        action="Submit again later; if it persists, check the account's AIGC quota and "
        "resource packages in the VOD console.",
    ),
    "InternalError": Explanation(
        FailureCategory.INTERNAL,
        "Tencent internal error",
        retry_helps=True,
        action="Submit the task again; if it keeps failing, open a Tencent ticket with "
        "the task ID.",
    ),
    # Inference: FailedOperation carries no documented meaning; treated as internal.
    "FailedOperation": Explanation(
        FailureCategory.INTERNAL,
        "Operation failed (no reason given)",
        retry_helps=True,
        action="Submit again once; if it fails again, read the message and ask Tencent "
        "support with the task ID.",
    ),
    # The deprecated numeric ErrCode (EditMediaTask docs); `explain_failure` lets the
    # message refine them first.
    "40000": Explanation(
        FailureCategory.INPUT,
        "Invalid input parameters (legacy code)",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the task and submit again.",
    ),
    "60000": Explanation(
        FailureCategory.INPUT,
        "Source file error, e.g. corrupt (legacy code)",
        retry_helps=False,
        action="Check that the source file plays and is not damaged; replace it and submit again.",
    ),
    "70000": Explanation(
        FailureCategory.INTERNAL,
        "Internal error (legacy code)",
        retry_helps=True,
        action="Submit the task again; if it keeps failing, open a Tencent ticket with "
        "the task ID.",
    ),
    # Clapboard's own code for a sub-task with Status=FAIL and no error code.
    "FAIL": Explanation(
        FailureCategory.UNKNOWN,
        "A sub-task failed without an error code",
        retry_helps=False,
        action="Open the job detail to see which sub-task failed and its message; ask "
        "Tencent support with the task ID if it is unclear.",
    ),
}

# Our inference, not Tencent's: words in the Message that say more than a coarse numeric
# ErrCode (or "FAIL") does, mapped to the ErrCodeExt entry that fits. First match wins.
_MESSAGE_HINTS: tuple[tuple[str, str], ...] = (
    ("moderation", "ContentModerationFailed"),
    ("violat", "InvalidParameter.VoilationContent"),
    ("sensitive", "ContentModerationFailed"),
    ("frequency", "RequestLimitExceeded"),
)
