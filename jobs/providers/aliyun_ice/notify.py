"""ICE's event callback (`SetEventCallback`, one URL per account and region).

    {"EventType": "ProduceMediaComplete", "UserId": 1, "EventTime": "…Z",
     "MessageBody": {"JobId": "…", "Status": "Success", …}}

Which event an intelligent-production job fires is not documented; the job is read from
`MessageBody.JobId` whatever the type. With `AuthSwitch=on` ICE adds `X-ICE-TIMESTAMP`
(Unix seconds) and `X-ICE-SIGNATURE = md5("<callback URL>|<timestamp>|<AuthKey>")`; the body
is not covered. Two keys may be set while one replaces the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobs.providers.notify import (
    Notice,
    NotificationError,
    fresh,
    json_object,
    md5_hex,
    notice,
    same,
)


def parse(body: bytes, content_type: str) -> Notice:
    data = json_object(body)
    message = data.get("MessageBody")
    if not isinstance(message, dict):
        raise NotificationError("no MessageBody object")
    return notice(data.get("EventType") or "callback", [message.get("JobId")])


def verify(keys: Sequence[str], *, url: str, headers: Mapping[str, str], now: float) -> None:
    stamp, signature = headers.get("X-ICE-TIMESTAMP", ""), headers.get("X-ICE-SIGNATURE", "")
    if not stamp or not signature:
        raise NotificationError("no X-ICE-TIMESTAMP / X-ICE-SIGNATURE headers")
    if not stamp.isdigit():
        raise NotificationError("X-ICE-TIMESTAMP is not a number")
    fresh(int(stamp), now)
    if not any(same(md5_hex(f"{url}|{stamp}|{key}"), signature) for key in keys):
        raise NotificationError("bad X-ICE-SIGNATURE")
