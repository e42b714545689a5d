"""The errors adapters raise and the explanations of job failures they look up.

Kept apart from `base` so the wire toolkit can build errors without importing the
adapter base class.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ProviderError(Exception):
    """A request-level failure: the provider did not tell us anything about the job.

    `permanent` means retrying the same request cannot succeed (bad credentials, unknown
    task ID); `retry_after` (seconds) is set when the provider throttled us.
    Messages never contain secrets: adapters build them from codes and redacted text.
    """

    def __init__(
        self,
        message: str,
        code: str = "",
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        self.http_status = http_status

    def __str__(self) -> str:
        if not self.code or self.message.startswith(self.code):
            return self.message
        return f"{self.code}: {self.message}"

    @property
    def is_not_found(self) -> bool:
        return self.code == NOT_FOUND


# The code adapters use for "the provider does not know this task (any more)".
NOT_FOUND = "NotFound"
# The account's endpoint (or what its name resolves to) is not somewhere we send requests.
REFUSED_ENDPOINT = "RefusedEndpoint"
PRIVATE_ENDPOINT_HINT = (
    "; private and loopback endpoints are refused unless CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS is true"
)


class FailureCategory(enum.StrEnum):
    INPUT = "input"
    CONTENT_POLICY = "content policy"
    QUOTA = "quota/throttling"
    TRANSIENT = "transient"
    INTERNAL = "internal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Explanation:
    """What a job failure code means for an operator: its kind, whether retrying the job
    can help, and what to do about it."""

    category: FailureCategory
    summary: str
    retry_helps: bool
    action: str


UNKNOWN_FAILURE = Explanation(
    FailureCategory.UNKNOWN,
    "Not in Clapboard's catalogue for this provider",
    retry_helps=False,
    action="Read the provider's message below; if it is unclear, ask the provider's support "
    "with the task ID.",
)


# The code of an answer Clapboard cannot read (transient: the next poll may do better).
MALFORMED = "MalformedResponse"
