"""Tencent Cloud Infinite (docs/PROVIDERS.md §3): one package, one module per concern.

`signing` is the COS signature, `validation` the accepted names and keys, `parsing`
reads the XML answers and errors, `catalogue` explains job failure codes, `adapter`
is the `TencentCi` class.
"""

from __future__ import annotations

from jobs.providers.tencent_ci.adapter import (
    CANCEL_FLAG,
    JOBS_PATH,
    MAX_BATCH_PATH_CHARS,
    VOICE_SEPARATE,
    TencentCi,
)
from jobs.providers.tencent_ci.parsing import (
    element_data,
    error_from_response,
    output_object_url,
    parse_jobs_response,
    parse_status,
    parse_xml,
)
from jobs.providers.tencent_ci.signing import (
    cos_encode,
    cos_sign,
    encode_query,
    http_string,
    key_time_for,
    string_to_sign,
)
from jobs.providers.tencent_ci.validation import (
    BUCKET,
    CONTROL_CHARS,
    MAX_OBJECT_KEY_BYTES,
    TEMPLATE_ID,
)

# The adapter class (the registry's entry), then the wire names the simulator and the
# tests speak.
__all__ = [
    "TencentCi",
    "BUCKET",
    "CANCEL_FLAG",
    "CONTROL_CHARS",
    "JOBS_PATH",
    "MAX_BATCH_PATH_CHARS",
    "MAX_OBJECT_KEY_BYTES",
    "TEMPLATE_ID",
    "VOICE_SEPARATE",
    "cos_encode",
    "cos_sign",
    "element_data",
    "encode_query",
    "error_from_response",
    "http_string",
    "key_time_for",
    "output_object_url",
    "parse_jobs_response",
    "parse_status",
    "parse_xml",
    "string_to_sign",
]
