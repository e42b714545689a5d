"""What Cloud Infinite accepts as a bucket, region, queue, template or object key.

The adapter checks arguments with these before anything is sent; the dashboard's
VoiceSeparationForm uses the same patterns.
"""

from __future__ import annotations

import re

# COS job ids are short alphanumerics; anything with a separator could not be asked for
# in a comma-separated batch path and is unknown to CI by construction.
_ASKABLE_ID = re.compile(r"[^\x00-\x20\x7f,/]{1,128}")
# Also the dashboard's VoiceSeparationForm checks: a bucket, a template id, no control
# characters in object keys.
BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?-[0-9]{5,}")
_REGION = re.compile(r"[a-z]{2,}(?:-[a-z0-9]+){1,3}")
_QUEUE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
TEMPLATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CODEC = re.compile(r"[A-Za-z0-9]{1,16}")
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# docs/PROVIDERS.md §3.1 is sure of `IsAudio` only; the others are the template API's values.
AUDIO_MODES = frozenset({"IsAudio", "IsBackground", "AudioAndBackground", "MusicMode"})
# COS object keys are at most 850 bytes of UTF-8.
MAX_OBJECT_KEY_BYTES = 850

# Where a COS bucket, and so a job's input or output, can live: (region, place). From
# Tencent's COS "Regions and Access Endpoints" page (cloud.tencent.com/document/product/
# 436/6224), cross-checked with its tencentyun/qcloud-documents source and SDK region
# tables; CI addresses the same regions (`<bucket>.ci.<region>.myqcloud.com`,
# docs/PROVIDERS.md §3.1).
# Finance regions and Beijing Zone 1 take existing or approved buckets only.
REGIONS = (
    ("ap-beijing", "Beijing"),
    ("ap-nanjing", "Nanjing"),
    ("ap-shanghai", "Shanghai"),
    ("ap-guangzhou", "Guangzhou"),
    ("ap-chengdu", "Chengdu"),
    ("ap-chongqing", "Chongqing"),
    ("ap-beijing-1", "Beijing Zone 1"),
    ("ap-beijing-fsi", "Beijing Finance"),
    ("ap-shanghai-fsi", "Shanghai Finance"),
    ("ap-shenzhen-fsi", "Shenzhen Finance"),
    ("ap-hongkong", "Hong Kong, China"),
    ("ap-singapore", "Singapore"),
    ("ap-jakarta", "Jakarta"),
    ("ap-mumbai", "Mumbai"),
    ("ap-seoul", "Seoul"),
    ("ap-bangkok", "Bangkok"),
    ("ap-tokyo", "Tokyo"),
    ("na-siliconvalley", "Silicon Valley"),
    ("na-ashburn", "Virginia"),
    ("na-toronto", "Toronto"),
    ("sa-saopaulo", "São Paulo"),
    ("eu-frankfurt", "Frankfurt"),
)


# --- the adapter -----------------------------------------------------------------------


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not valid")
    return value


def _object_key(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if CONTROL_CHARS.search(value):
        raise ValueError(f"{what} contains control characters")
    if len(value.encode("utf-8")) > MAX_OBJECT_KEY_BYTES:
        raise ValueError(f"{what} is longer than {MAX_OBJECT_KEY_BYTES} bytes")
    return value


def _number(value: str | int, what: str) -> str:
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isdigit() or isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number, not {value!r}")
    return str(int(text))
