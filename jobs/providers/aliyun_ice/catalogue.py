"""What a Fail ICE job's code means, for operators (docs/PROVIDERS.md §5.3)."""

from __future__ import annotations

import re

from jobs.providers.base import (
    Explanation,
    FailureCategory,
)

# --- the adapter --------------------------------------------------------------------------


# --- job failure codes ------------------------------------------------------------

# What a Fail job's code means: the `Code` inside its JSON `Result`, or "Fail" when there
# is none (see `_failure`). Alibaba documents neither the Result schema nor job-level
# codes for this API (docs/PROVIDERS.md §5.3), so every entry is marked with where it comes from.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    # Simulator inventions (jobs/simulator/aliyun_ice.py), meanings from their messages.
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Input media unusable",
        retry_helps=False,
        action="Check the input media against the function's requirements (format, "
        "streams, size); replace it and submit again.",
    ),
    "InvalidInput.NotExist": Explanation(
        FailureCategory.INPUT,
        "Input media missing or unreadable",
        retry_helps=False,
        action="Check that the OSS object in Input exists and that ICE may read its "
        "bucket, then submit again.",
    ),
    "InvalidInput.Format": Explanation(
        FailureCategory.INPUT,
        "Input format not supported by this function",
        retry_helps=False,
        action="Convert the input to a format the function supports and submit again.",
    ),
    "InvalidInput.NoAudioStream": Explanation(
        FailureCategory.INPUT,
        "Input media has no audio stream",
        retry_helps=False,
        action="Use an input with an audio track (this function processes audio) and submit again.",
    ),
    "AlgorithmProcessError": Explanation(
        FailureCategory.INTERNAL,
        "The algorithm failed on this media",
        retry_helps=True,
        action="Submit the job again; if the same media fails twice it is likely "
        "unsuitable, so check it or ask Alibaba support with the JobId.",
    ),
    # IMS common error codes (IMS error-code table); that they appear in Result is assumed.
    "InternalError": Explanation(
        FailureCategory.INTERNAL,
        "Alibaba internal error",
        retry_helps=True,
        action="Submit the job again later; if it keeps failing, ask Alibaba support with "
        "the JobId.",
    ),
    "InvalidParameter": Explanation(
        FailureCategory.INPUT,
        "Invalid job parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct JobParams or the "
        "input and submit again.",
    ),
    # Clapboard's own code for a failed job whose Result names no code.
    "Fail": Explanation(
        FailureCategory.UNKNOWN,
        "ICE gave no reason for the failure",
        retry_helps=False,
        action="Open the job detail and read Result and JobParams; if nothing explains "
        "it, ask Alibaba support with the JobId.",
    ),
}

# A catalogue code quoted in a message ("InvalidInput.NotExist: ..."), for code "Fail".
_QUOTED_CODE = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)*")
