"""Huawei Cloud MetaStudio (docs/PROVIDERS.md §4): one package, one module per concern.

`signing` is SDK-HMAC-SHA256, `parsing` reads list answers and errors, `catalogue`
explains job failure codes, `adapter` is the `HuaweiMetaStudio` class.
"""

from __future__ import annotations

from jobs.providers.huawei_metastudio.adapter import HuaweiMetaStudio
from jobs.providers.huawei_metastudio.parsing import (
    KIND_2D,
    KIND_PHOTO,
    STATES,
    decode_json,
    error_from_response,
    normalize_kind,
    parse_list,
    parse_status,
)
from jobs.providers.huawei_metastudio.signing import (
    SDK_DATE_FORMAT,
    SDK_DATE_TOLERANCE_SECONDS,
    canonical_query,
    canonical_request,
    parse_authorization,
    sdk_hmac_sha256_authorization,
    string_to_sign,
)

# The adapter class (the registry's entry), then the wire names the simulator and the
# tests speak.
__all__ = [
    "HuaweiMetaStudio",
    "KIND_2D",
    "KIND_PHOTO",
    "SDK_DATE_FORMAT",
    "SDK_DATE_TOLERANCE_SECONDS",
    "STATES",
    "canonical_query",
    "canonical_request",
    "decode_json",
    "error_from_response",
    "normalize_kind",
    "parse_authorization",
    "parse_list",
    "parse_status",
    "sdk_hmac_sha256_authorization",
    "string_to_sign",
]
