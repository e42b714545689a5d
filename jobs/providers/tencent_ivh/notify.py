"""IVH's video-make callback (the request's CallbackUrl): terminal states only, unsigned.

{"Payload": {"TaskId": "…", "Status": "SUCCESS" | "FAIL", "Progress": 100,
             "MediaUrl": "…", "SubtitlesUrl": "…", "FailMessage": ""}}
"""

from __future__ import annotations

from jobs.providers.notify import Notice, NotificationError, json_object, notice


def parse(body: bytes, content_type: str) -> Notice:
    payload = json_object(body).get("Payload")
    if not isinstance(payload, dict):
        raise NotificationError("no Payload object")
    return notice(payload.get("Status") or "callback", [payload.get("TaskId")])
