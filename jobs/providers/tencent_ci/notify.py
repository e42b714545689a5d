"""CI's job callback (the job's CallBack URL, or its queue's), XML by default or JSON with
CallBackFormat=JSON; unsigned. Several JobsDetail may come in one body.

    <Response><EventName>TaskFinish</EventName>
      <JobsDetail><Code>Success</Code><JobId>…</JobId><State>Success</State>…</JobsDetail>
    </Response>
"""

from __future__ import annotations

from typing import Any

from jobs.providers.notify import Notice, NotificationError, json_object, notice, xml_root


def parse(body: bytes, content_type: str) -> Notice:
    if body.lstrip().startswith(b"<"):
        root = xml_root(body)
        if root.tag != "Response":
            raise NotificationError("the XML is not a <Response>")
        ids = [detail.findtext("JobId") for detail in root.findall("JobsDetail")]
        return notice(root.findtext("EventName") or "callback", ids)
    data: Any = json_object(body)
    data = data.get("Response", data) if isinstance(data.get("Response"), dict) else data
    details = data.get("JobsDetail")
    if details is None:
        raise NotificationError("no JobsDetail")
    details = details if isinstance(details, list) else [details]
    ids = [d.get("JobId") for d in details if isinstance(d, dict)]
    return notice(data.get("EventName") or "callback", ids)
