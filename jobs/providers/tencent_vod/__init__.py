"""Tencent Cloud VOD (docs/PROVIDERS.md §2): one package, one module per concern.

`signing` is TC3-HMAC-SHA256, `parsing` reads `Response` objects and their errors,
`catalogue` explains task failure codes, `adapter` is the `TencentVod` class.
"""

from __future__ import annotations

from jobs.providers.tencent_vod.adapter import API_VERSION, TencentVod
from jobs.providers.tencent_vod.parsing import TaskSummary, parse_status, parse_task_list
from jobs.providers.tencent_vod.signing import (
    CLOCK_TOLERANCE_SECONDS,
    SERVICE,
    parse_tc3_authorization,
    tc3_date,
    tc3_sign,
)

# The adapter class (the registry's entry), then the wire names the simulator and the
# tests speak.
__all__ = [
    "TencentVod",
    "API_VERSION",
    "CLOCK_TOLERANCE_SECONDS",
    "SERVICE",
    "TaskSummary",
    "parse_status",
    "parse_task_list",
    "parse_tc3_authorization",
    "tc3_date",
    "tc3_sign",
]
