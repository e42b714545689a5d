"""Tencent Cloud IVH video maker (docs/PROVIDERS.md §1): one package, one module per concern.

`signing` builds the signed query, `parsing` reads the envelope and its errors,
`catalogue` explains job failure codes, `adapter` is the `TencentIvh` class.
"""

from __future__ import annotations

from jobs.providers.tencent_ivh.adapter import (
    CONTENT_TYPE,
    GETPROGRESS_PATH,
    TencentIvh,
    request_body,
)
from jobs.providers.tencent_ivh.parsing import (
    CODE_APPKEY_UNKNOWN,
    CODE_FREQUENCY_LIMIT,
    CODE_INTERNAL_ERROR,
    CODE_INVALID_PARAMETER,
    CODE_OK,
    CODE_SIGNATURE_INVALID,
    CODE_TASK_NOT_FOUND,
    CODE_TIMESTAMP_EXPIRED,
    TICKS_PER_MS,
    interpret_response,
    parse_status,
    raise_for_header,
)
from jobs.providers.tencent_ivh.signing import TIMESTAMP_TOLERANCE_SECONDS, sign, signed_query

# The adapter class (the registry's entry), then the wire names the simulator and the
# tests speak.
__all__ = [
    "TencentIvh",
    "CODE_APPKEY_UNKNOWN",
    "CODE_FREQUENCY_LIMIT",
    "CODE_INTERNAL_ERROR",
    "CODE_INVALID_PARAMETER",
    "CODE_OK",
    "CODE_SIGNATURE_INVALID",
    "CODE_TASK_NOT_FOUND",
    "CODE_TIMESTAMP_EXPIRED",
    "CONTENT_TYPE",
    "GETPROGRESS_PATH",
    "TICKS_PER_MS",
    "TIMESTAMP_TOLERANCE_SECONDS",
    "interpret_response",
    "parse_status",
    "raise_for_header",
    "request_body",
    "sign",
    "signed_query",
]
