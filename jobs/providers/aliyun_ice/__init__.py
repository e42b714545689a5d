"""Alibaba Cloud ICE (docs/PROVIDERS.md §5): one package, one module per concern.

`signing` is ACS3-HMAC-SHA256 (and the legacy RPC signature's vectors), `parsing`
reads jobs and errors, `catalogue` explains job failure codes, `adapter` is the
`AliyunIce` class.
"""

from __future__ import annotations

from jobs.providers.aliyun_ice.adapter import (
    ACTION,
    API_VERSION,
    CANCEL_ACTION,
    AliyunIce,
    cancel_client_token,
)
from jobs.providers.aliyun_ice.parsing import error_from_response, is_job_not_found, parse_status
from jobs.providers.aliyun_ice.signing import (
    CLOCK_TOLERANCE_SECONDS,
    DATE_FORMAT,
    acs3_authorization,
    acs3_canonical_request,
    acs3_date,
    canonical_query,
    parse_acs3_authorization,
    rpc_signature,
    rpc_string_to_sign,
)

# The adapter class (the registry's entry), then the wire names the simulator and the
# tests speak.
__all__ = [
    "AliyunIce",
    "ACTION",
    "API_VERSION",
    "CANCEL_ACTION",
    "CLOCK_TOLERANCE_SECONDS",
    "DATE_FORMAT",
    "acs3_authorization",
    "acs3_canonical_request",
    "acs3_date",
    "cancel_client_token",
    "canonical_query",
    "error_from_response",
    "is_job_not_found",
    "parse_acs3_authorization",
    "parse_status",
    "rpc_signature",
    "rpc_string_to_sign",
]
