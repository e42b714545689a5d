"""MetaStudio's video-job callback (`callback_config` on the create request).

    {"job_id": "…", "result": "SUCCEED" | "FAILED", "asset_id": "…"}

With `auth_type` MSS_A the URL gains `time_stamp` and `secret` query parameters. The SDK's
description (`secret = HMAC-SHA256(key, URI(callback_url) + time_stamp)`, `time_stamp =
hex(timestamp)`) does not settle what URI() covers, the unit or the digest's encoding; we
read it as the URL's path, Unix seconds in lowercase hex, and a lowercase hex digest (the
simulator signs the same way). The receiver's own URL secret authenticates the request
whatever this check says, so an account only sets the key once the reading is confirmed
against the real service (docs/PROVIDERS.md, "Notifications").
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from jobs.providers.notify import (
    Notice,
    NotificationError,
    fresh,
    hmac_sha256_hex,
    json_object,
    notice,
    same,
)


def parse(body: bytes, content_type: str) -> Notice:
    data = json_object(body)
    if "job_id" not in data:
        raise NotificationError("no job_id")
    return notice(data.get("result") or data.get("state") or "callback", [data.get("job_id")])


def verify(key: str, *, url: str, query: Mapping[str, str], now: float) -> None:
    stamp, secret = query.get("time_stamp", ""), query.get("secret", "")
    if not stamp or not secret:
        raise NotificationError("no MSS_A signature (time_stamp and secret)")
    try:
        seconds = int(stamp, 16)
    except ValueError:
        raise NotificationError("time_stamp is not hexadecimal") from None
    fresh(seconds, now)
    if not same(hmac_sha256_hex(key, urlsplit(url).path + stamp), secret):
        raise NotificationError("bad MSS_A signature")
