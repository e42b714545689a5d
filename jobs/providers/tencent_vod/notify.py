"""VOD's event notifications (push callbacks, and the events PullEvents returns): an
`EventType` and one `<Something>Event` object; task events carry its `TaskId`.

    {"EventType": "ProcedureStateChanged",
     "ProcedureStateChangeEvent": {"TaskId": "…", "Status": "FINISH", "ErrCode": 0, …}}

Events about files (NewFileUpload, FileDeleted…) name no task: recorded, nothing asked.
"""

from __future__ import annotations

from typing import Any

from jobs.providers.notify import Notice, NotificationError, json_object, notice, text

# PullEvents' answer when nothing came within its long poll. The vendor pages list no
# error codes for it (an empty EventSet is documented too, and read the same way); the
# simulator answers this one (docs/PROVIDERS.md, notifications).
NO_EVENT = "ResourceNotFound.NoEvent"


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


def pulled(events: list[Any]) -> list[tuple[str, Notice]]:
    """PullEvents' EventSet as (EventHandle, Notice); an event that is not one of these
    still has a handle to confirm, and names nothing."""
    read = []
    for event in events[:16]:
        handle = text(event.get("EventHandle"), 1000) if isinstance(event, dict) else ""
        if not handle:
            continue
        try:
            read.append((handle, parse_event(event)))
        except NotificationError:
            read.append((handle, Notice(text(event.get("EventType"), 64), ())))
    return read
