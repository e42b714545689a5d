"""Each provider's notification format read into a Notice, and hostile bodies refused
with a reason (never an exception other than NotificationError)."""

from __future__ import annotations

import pytest

from jobs.providers import PROVIDERS, provider_class
from jobs.providers.notify import Notice, NotificationError


def parse(code: str, body: str | bytes, content_type: str = "application/json") -> Notice:
    raw = body.encode() if isinstance(body, str) else body
    return provider_class(code).parse_notification(raw, content_type)


def test_the_vendors_documented_shapes():
    assert parse(
        "tencent_ivh",
        '{"Payload":{"Progress":100,"MediaUrl":"https://m/v.mp4","SubtitlesUrl":"https://m/s.srt",'
        '"Status":"SUCCESS","FailMessage":"","TaskId":"8dbe0b7e4e0a4a7c"}}',
    ) == Notice("SUCCESS", ("8dbe0b7e4e0a4a7c",))
    assert parse(
        "tencent_vod",
        '{"EventType":"ProcedureStateChanged","ProcedureStateChangeEvent":{"TaskId":'
        '"1400329073-procedurev2-f3f2","Status":"FINISH","ErrCode":0,"Message":"SUCCESS",'
        '"FileId":"5285890799710670616","MediaProcessResultSet":[]}}',
    ) == Notice("ProcedureStateChanged", ("1400329073-procedurev2-f3f2",))
    assert parse(
        "tencent_vod", '{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"52858"}}'
    ) == Notice("NewFileUpload", ())
    xml = (
        "<Response><EventName>TaskFinish</EventName>"
        "<JobsDetail><Code>Success</Code><Message/><JobId>j8d1</JobId><State>Success</State>"
        "<Tag>VoiceSeparate</Tag></JobsDetail>"
        "<JobsDetail><Code>Failed</Code><JobId>j8d2</JobId><State>Failed</State></JobsDetail>"
        "</Response>"
    )
    assert parse("tencent_ci", xml, "application/xml") == Notice("TaskFinish", ("j8d1", "j8d2"))
    assert parse(
        "tencent_ci", '{"EventName":"TaskFinish","JobsDetail":{"JobId":"j9","State":"Failed"}}'
    ) == Notice("TaskFinish", ("j9",))
    assert parse(
        "huawei_metastudio", '{"job_id":"e9b6d7c1","result":"FAILED","asset_id":"a1"}'
    ) == Notice("FAILED", ("e9b6d7c1",))
    assert parse(
        "aliyun_ice",
        '{"EventType":"ProduceMediaComplete","UserId":1,"EventTime":"2026-12-01T00:00:00Z",'
        '"MessageBody":{"JobId":"****20b48fb04483915d4f2cd8ac****","Status":"Success"}}',
    ) == Notice("ProduceMediaComplete", ("****20b48fb04483915d4f2cd8ac****",))


BOMB = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    "<Response><EventName>&b;</EventName></Response>"
)


@pytest.mark.parametrize("code", sorted(PROVIDERS))
@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[1, 2]", b'"text"', b"\xff\xfe", b"{", BOMB.encode(), b"<Response", b"{}"],
)
def test_hostile_bodies_are_refused_with_a_reason(code, body):
    try:
        notice = parse(code, body)
    except NotificationError as exc:
        assert str(exc)
    else:
        pytest.fail(f"{code} read {body!r} as {notice}")


def test_ids_are_trimmed_deduplicated_and_capped():
    details = "".join(f"<JobsDetail><JobId>\n j{n} </JobId></JobsDetail>" for n in range(3))
    body = f"<Response><EventName>TaskFinish</EventName>{details}{details}</Response>"
    assert parse("tencent_ci", body).task_ids == ("j0", "j1", "j2")
    assert parse("tencent_ci", '{"JobsDetail":[{"JobId":"j\\u0000 7"}]}').task_ids == ("j 7",)
    many = "".join(f"<JobsDetail><JobId>j{n}</JobId></JobsDetail>" for n in range(101))
    with pytest.raises(NotificationError, match="more than 100"):
        parse("tencent_ci", f"<Response>{many}</Response>")
