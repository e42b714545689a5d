"""VOD's event notifications (push callbacks, and the events PullEvents returns): an
`EventType` and one `<Something>Event` object; task events carry its `TaskId`.

    {"EventType": "ProcedureStateChanged",
     "ProcedureStateChangeEvent": {"TaskId": "…", "Status": "FINISH", "ErrCode": 0, …}}

Events about files (NewFileUpload, FileDeleted…) name no task: recorded, nothing asked.
"""

from __future__ import annotations

from typing import Any

from jobs.providers.notify import Notice, NotificationError, json_object, notice


def parse(body: bytes, content_type: str) -> Notice:
    return parse_event(json_object(body))


def parse_event(event: dict[str, Any]) -> Notice:
    kind = event.get("EventType")
    if not isinstance(kind, str) or not kind:
        raise NotificationError("no EventType")
    tasks = [
        value.get("TaskId")
        for key, value in event.items()
        if key.endswith("Event") and isinstance(value, dict)
    ]
    return notice(kind, [t for t in tasks if t])
