"""Tencent VOD: TC3 vectors, DescribeTaskDetail normalization, DescribeTasks paging and
failures, over real HTTP against the simulator."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.providers import signing
from jobs.providers.base import JobStatus, ProviderError, State
from jobs.providers.tencent_vod import (
    TaskSummary,
    TencentVod,
    parse_status,
    parse_task_list,
    tc3_sign,
)
from jobs.providers.tencent_vod.signing import Tc3Signature
from jobs.simulator.tencent_vod import TencentVodSimulator
from tests.providers import strategies
from tests.providers.harness import fetch_one

CODE = "tencent_vod"
SECRET_ID = TencentVodSimulator.demo_credentials["secret_id"]
SECRET_KEY = TencentVodSimulator.demo_credentials["secret_key"]
SUB_APP_ID = TencentVodSimulator.demo_options["sub_app_id"]


@pytest.fixture
def adapter(simulator) -> TencentVod:
    return TencentVod(
        credentials=dict(TencentVodSimulator.demo_credentials),
        options=dict(TencentVodSimulator.demo_options),
        endpoint=simulator.url,
    )


@pytest.fixture
def sent(adapter, monkeypatch) -> list[dict]:
    """Every request the adapter puts on the wire (method, url, headers, body)."""
    calls: list[dict] = []
    original = adapter.send

    def recording(method, url, *, headers=None, body=b""):
        calls.append({"method": method, "url": url, "headers": dict(headers or {}), "body": body})
        return original(method, url, headers=headers, body=body)

    monkeypatch.setattr(adapter, "send", recording)
    return calls


def assert_no_secret(exc: ProviderError, caplog: pytest.LogCaptureFixture) -> None:
    assert SECRET_KEY not in str(exc)
    assert SECRET_KEY not in exc.message
    assert SECRET_KEY not in caplog.text


# --- TC3 vectors (docs/PROVIDERS.md §2.5 / Appendix B) ------------------------------------

CVM_PAYLOAD = json.dumps(
    {"Limit": 1, "Filters": [{"Values": ["未命名"], "Name": "instance-name"}]}
).encode()

CVM_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "X-TC-Action": "DescribeInstances",
}


def test_cvm_payload_bytes_are_the_published_ones():
    assert CVM_PAYLOAD == (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    assert (
        signing.sha256_hex(CVM_PAYLOAD)
        == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )


def cvm_sign(
    secret_id: str, secret_key: str, headers: dict[str, str] = CVM_HEADERS
) -> Tc3Signature:
    """The published CVM DescribeInstances request (POST at 1551113065), signed."""
    return tc3_sign(
        secret_id,
        secret_key,
        "cvm",
        "cvm.tencentcloudapi.com",
        "POST",
        "",
        headers,
        CVM_PAYLOAD,
        1551113065,
    )


def test_tc3_a_current_docs_vector():
    result = cvm_sign("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "*" * 32)
    assert result.canonical_request == (
        "POST\n/\n\n"
        "content-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n"
        "x-tc-action:describeinstances\n"
        "\n"
        "content-type;host;x-tc-action\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert (
        result.hashed_canonical_request
        == "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert result.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert (
        result.signing_key.hex()
        == "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
    )
    assert result.signature == "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    assert result.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host;x-tc-action, "
        "Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    )


def test_tc3_b_earlier_revision_vector():
    result = cvm_sign("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******")
    assert (
        result.hashed_canonical_request
        == "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    )
    assert (
        result.signing_key.hex()
        == "8aa8ab5755582f576e94bcfe383b8e29325b0ca90c3590d569221c6a63a091ed"
    )
    assert result.signature == "be4f67d323c78ab9acb7395e43c0dbcf822a9cfac32fea2449a7bc7726b770a3"


def test_tc3_c_example_revision_vector():
    result = cvm_sign(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert result.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )
    assert (
        result.hashed_canonical_request
        == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )


VOD_BODY = (
    b'{"TaskId": "1500000001-Procedure-2e1af2456351812be963e309cc133403t0", "SubAppId": 1500000001}'
)


def test_tc3_vod_vector():
    assert (
        signing.sha256_hex(VOD_BODY)
        == "622f362f6e793bea786d1971d465ea35afaee769287123d2510ab0926748beb1"
    )
    result = tc3_sign(
        "AKIDEXAMPLE1234567890",
        "SecretKeyExample1234567890abcdef",
        "vod",
        "vod.tencentcloudapi.com",
        "POST",
        "",
        {"Content-Type": "application/json"},
        VOD_BODY,
        1700000000,
    )
    assert result.canonical_request == (
        "POST\n/\n\ncontent-type:application/json\nhost:vod.tencentcloudapi.com\n\n"
        "content-type;host\n622f362f6e793bea786d1971d465ea35afaee769287123d2510ab0926748beb1"
    )
    assert (
        result.hashed_canonical_request
        == "dcf00eaaf8c8385e68e410ea4c7de7b09f622d38b7a639a923e78f2d102fb74d"
    )
    assert result.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE1234567890/2023-11-14/vod/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=b5db64d6353c2522fd3f8121aa2c1b2f059a00aa5d4e80ada7008a985c057d75"
    )


def test_credential_date_is_the_utc_day():
    # 2023-11-14 23:30 UTC is already the 15th in Beijing; the scope must say the 14th.
    timestamp = int(datetime(2023, 11, 14, 23, 30, tzinfo=UTC).timestamp())
    result = tc3_sign("id", "key", "vod", "h", "POST", "", {"Content-Type": "x"}, b"", timestamp)
    assert "\n2023-11-14/vod/tc3_request\n" in result.string_to_sign


# --- the wire request -------------------------------------------------------------------


def test_wire_request_is_signed_over_what_is_sent(adapter, sent, simulator):
    simulator.add_job(CODE, "wire-1", pinned="running", kind="EditMedia")
    fetch_one(adapter, "wire-1")
    (call,) = sent
    headers, body = call["headers"], call["body"]
    assert call["method"] == "POST"
    assert call["url"] == f"{simulator.url}/"
    assert headers["Host"] == simulator.url.removeprefix("http://") == adapter.host
    assert headers["Content-Type"] == "application/json"
    assert headers["X-TC-Action"] == "DescribeTaskDetail"
    assert headers["X-TC-Version"] == "2018-07-17"
    # Compact JSON, SubAppId as an integer.
    assert body == b'{"TaskId":"wire-1","SubAppId":1500000001}'
    assert json.loads(body)["SubAppId"] == int(SUB_APP_ID)
    expected = tc3_sign(
        SECRET_ID,
        SECRET_KEY,
        "vod",
        adapter.host,
        "POST",
        "",
        {"Content-Type": "application/json"},
        body,
        int(headers["X-TC-Timestamp"]),
    ).authorization
    assert headers["Authorization"] == expected
    assert "SignedHeaders=content-type;host," in expected


def test_no_sub_app_id_when_the_option_is_unset(simulator, sent, adapter):
    adapter.options = {}
    simulator.add_job(CODE, "wire-2", pinned="queued")
    assert fetch_one(adapter, "wire-2").state is State.QUEUED
    assert json.loads(sent[0]["body"]) == {"TaskId": "wire-2"}


def test_default_and_intl_hosts():
    creds = {"secret_id": "AKIDx", "secret_key": "k"}
    assert TencentVod(credentials=creds).base_url() == "https://vod.tencentcloudapi.com"
    intl = TencentVod(credentials=creds, region="intl")
    assert intl.base_url() == "https://vod.intl.tencentcloudapi.com"
    assert intl.host == "vod.intl.tencentcloudapi.com"
    url, headers, _ = intl.signed_request("DescribeTaskDetail", {"TaskId": "t"})
    assert url == "https://vod.intl.tencentcloudapi.com/"
    assert headers["Host"] == "vod.intl.tencentcloudapi.com"


def test_endpoint_override_sends_to_the_simulator(adapter, simulator, sent):
    simulator.add_job(CODE, "override-1", pinned="succeeded")
    before = simulator.requests.get(CODE, 0)
    assert fetch_one(adapter, "override-1").state is State.SUCCEEDED
    assert simulator.requests[CODE] == before + 1
    assert sent[0]["url"].startswith(simulator.url)
    assert f"Credential={SECRET_ID}/" in sent[0]["headers"]["Authorization"]


def test_schema():
    assert [(f.name, f.secret, f.label) for f in TencentVod.credential_fields] == [
        ("secret_id", False, "SecretId"),
        ("secret_key", True, "SecretKey"),
    ]
    assert [(o.name, o.secret, o.required, o.label) for o in TencentVod.option_fields] == [
        ("sub_app_id", False, False, "SubAppId"),
        ("events", False, False, "Event mode"),
    ]
    # The event mode is "pull" (VOD's reliable events) or nothing.
    assert TencentVod.validate_settings({"secret_id": "a", "secret_key": "b"}, {"events": "pull"})
    with pytest.raises(ValueError, match="'events' must be 'pull' or empty"):
        TencentVod.validate_settings({"secret_id": "a", "secret_key": "b"}, {"events": "push"})
    assert TencentVod.default_rate_limit == 100.0
    assert TencentVod.batch_size == 1
    assert TencentVod.retention == timedelta(days=3)
    assert TencentVod.can_submit is False


# --- states over HTTP ------------------------------------------------------------------

KINDS = ("Procedure", "EditMedia", "ComposeMedia", "AigcVideoTask", "VideoDepthEstimation")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("phase", "raw", "state"),
    [
        ("queued", "WAITING", State.QUEUED),
        ("running", "PROCESSING", State.RUNNING),
        ("succeeded", "FINISH", State.SUCCEEDED),
        ("failed", "FINISH", State.FAILED),
        ("canceled", "ABORTED", State.CANCELED),
    ],
)
def test_every_state_of_every_kind(adapter, simulator, kind, phase, raw, state):
    simulator.add_job(
        CODE,
        f"{kind}-{phase}",
        kind=kind,
        pinned=phase,
        name="news",
        failure_code="SourceFileError",
        failure_message="The source file is corrupted.",
    )
    status = fetch_one(adapter, f"{kind}-{phase}")
    assert isinstance(status, JobStatus)
    assert status.external_id == f"{kind}-{phase}"
    assert (status.state, status.provider_state, status.kind) == (state, raw, kind)
    assert status.raw["Status"] == raw
    assert status.raw["TaskType"] == kind
    job = simulator.jobs[(CODE, f"{kind}-{phase}")]
    if state is State.SUCCEEDED:
        assert status.media_url == simulator.providers[CODE].media_url(job)
        assert status.name == "news"
        assert status.progress == 100
        assert status.failure_code == ""
    else:
        assert status.media_url == ""
    if state is State.FAILED:
        # ComposeMediaTask has only the deprecated numeric ErrCode (60000: source file error).
        assert status.failure_code == ("60000" if kind == "ComposeMedia" else "SourceFileError")
        assert status.failure_message == "The source file is corrupted."
    if state in (State.QUEUED, State.RUNNING):
        assert (status.failure_code, status.finished_at) == ("", None)


def test_procedure_success_carries_cover_duration_and_times(adapter, simulator):
    created = time.time() - 100
    job = simulator.add_job(
        CODE,
        "proc-ok",
        kind="Procedure",
        created=created,
        queue_seconds=10,
        run_seconds=30,
        name="evening.mp4",
    )
    status = fetch_one(adapter, "proc-ok")
    sim = simulator.providers[CODE]
    assert status.state is State.SUCCEEDED
    assert status.media_url == sim.media_url(job)
    assert status.cover_url == sim.cover_url(job)
    assert status.duration_ms == 12000
    assert status.name == "evening.mp4"
    assert status.created_at == datetime.fromtimestamp(int(created), UTC)
    assert status.started_at == datetime.fromtimestamp(int(created + 10), UTC)
    assert status.finished_at == datetime.fromtimestamp(int(created + 40), UTC)
    assert status.queue_position is None
    transcode = status.raw["ProcedureTask"]["MediaProcessResultSet"][0]["TranscodeTask"]
    assert transcode["Status"] == "SUCCESS"


def test_running_progress_comes_from_the_subtask(adapter, simulator):
    simulator.add_job(CODE, "edit-run", kind="EditMedia", pinned="running", pinned_progress=37)
    simulator.add_job(CODE, "proc-run", kind="Procedure", pinned="running", pinned_progress=64)
    edit, proc = fetch_one(adapter, "edit-run"), fetch_one(adapter, "proc-run")
    assert (edit.state, edit.progress, edit.started_at is not None) == (State.RUNNING, 37, True)
    assert edit.finished_at is None
    # ProcedureTask has no Progress of its own: the nested TranscodeTask's is used.
    assert (proc.state, proc.progress) == (State.RUNNING, 64)


def failed_status(
    adapter: TencentVod, simulator, external_id: str, *, kind: str, code: str, message: str
) -> JobStatus:
    """A job the simulator fails with `code` and `message`, fetched: it must come back
    FAILED with both."""
    simulator.add_job(
        CODE, external_id, kind=kind, pinned="failed", failure_code=code, failure_message=message
    )
    status = fetch_one(adapter, external_id)
    assert (status.state, status.failure_code, status.failure_message) == (
        State.FAILED,
        code,
        message,
    )
    return status


def test_procedure_finish_with_failed_transcode_is_failed(adapter, simulator):
    status = failed_status(
        adapter,
        simulator,
        "proc-fail",
        kind="Procedure",
        code="SourceFileError",
        message="The source file is corrupted.",
    )
    assert status.provider_state == "FINISH"
    # Top-level ProcedureTask says ErrCode 0 / FINISH: only the nested set shows failure.
    assert status.raw["ProcedureTask"]["ErrCode"] == 0
    assert status.raw["ProcedureTask"]["Status"] == "FINISH"


def test_numeric_failure_code(adapter, simulator):
    failed_status(
        adapter,
        simulator,
        "edit-60000",
        kind="EditMedia",
        code="60000",
        message="Source file error",
    )


def test_aborted_aigc_task_is_canceled_with_its_reason(adapter, simulator):
    simulator.add_job(CODE, "aigc-cancel", kind="AigcVideoTask", pinned="canceled")
    status = fetch_one(adapter, "aigc-cancel")
    assert (status.state, status.provider_state) == (State.CANCELED, "ABORTED")
    assert status.failure_code == "OperationCanceled"


def test_unknown_raw_state_is_kept(adapter, simulator, caplog):
    simulator.add_job(CODE, "odd-1", pinned="running", raw_state="SUSPENDED", kind="EditMedia")
    with caplog.at_level(logging.WARNING):
        status = fetch_one(adapter, "odd-1")
    assert (status.state, status.provider_state) == (State.UNKNOWN, "SUSPENDED")
    assert "SUSPENDED" in caplog.text
    assert SECRET_KEY not in caplog.text


def test_raw_state_reported_verbatim(adapter, simulator):
    simulator.add_job(CODE, "verbatim", pinned="succeeded", raw_state="ABORTED")
    status = fetch_one(adapter, "verbatim")
    assert (status.state, status.provider_state) == (State.CANCELED, "ABORTED")


def test_clock_moves_synthesised_jobs(adapter, simulator):
    now = int(simulator.now())
    job_id = f"sim-{now - 8}-5-20-ok-abc"
    status = fetch_one(adapter, job_id)
    assert status.state is State.RUNNING
    simulator.clock_offset = 60
    adapter.clock = lambda: time.time() + 60
    assert fetch_one(adapter, job_id).state is State.SUCCEEDED


# --- pure parser ---------------------------------------------------------------------------


def wrap(response: dict) -> dict:
    return {"Response": {"RequestId": "r-1", **response}}


def test_doc_example_procedure_finish_is_succeeded():
    payload = wrap(
        {
            "TaskType": "Procedure",
            "Status": "FINISH",
            "CreateTime": "2019-02-21T08:27:42Z",
            "BeginProcessTime": "2019-02-21T08:27:43Z",
            "FinishTime": "2019-02-21T08:27:44Z",
            "ProcedureTask": {
                "TaskId": "12567683xx-Procedure-2e1af2456351812be963e309cc133403t0",
                "Status": "FINISH",
                "ErrCode": 0,
                "Message": "",
                "FileName": "small",
                "FileUrl": "http://example.vod2.myqcloud.com/source.mp4",
                "MetaData": {"Duration": 60, "Size": 7700180},
                "MediaProcessResultSet": [],
            },
            "EditMediaTask": None,
            "ComposeMediaTask": None,
        }
    )
    status = parse_status(payload, external_id="x")
    assert status.state is State.SUCCEEDED
    assert status.name == "small"
    assert status.duration_ms == 60000
    # The source file is not a result.
    assert status.media_url == ""
    assert status.created_at == datetime(2019, 2, 21, 8, 27, 42, tzinfo=UTC)
    assert status.finished_at == datetime(2019, 2, 21, 8, 27, 44, tzinfo=UTC)
    assert "EditMediaTask" not in status.raw  # null sub-task slots are dropped


def test_doc_example_legacy_transcode_task():
    payload = wrap(
        {
            "TaskType": "Transcode",
            "Status": "FINISH",
            "TranscodeTask": {
                "ErrCode": 0,
                "Message": "",
                "Duration": 60,
                "CoverUrl": "http://example/cover.jpg",
                "PlayInfoSet": [{"Url": "http://example/AtUCmy6gmIYA.mp4", "Definition": 0}],
            },
        }
    )
    status = parse_status(payload, external_id="t")
    assert status.state is State.SUCCEEDED
    assert status.media_url == "http://example/AtUCmy6gmIYA.mp4"
    assert status.cover_url == "http://example/cover.jpg"


@pytest.mark.parametrize(
    ("node", "code", "message"),
    [
        ({"ErrCodeExt": "InternalError", "ErrCode": 70000, "Message": "m"}, "InternalError", "m"),
        ({"ErrCodeExt": "", "ErrCode": 40000, "Message": "bad"}, "40000", "bad"),
        ({"ErrCode": "60000", "Message": "src"}, "60000", "src"),
        ({"Status": "FAIL", "ErrCode": 0, "ErrCodeExt": "", "Message": "?"}, "FAIL", "?"),
    ],
)
def test_failure_signals_anywhere_in_the_subtask(node, code, message):
    payload = wrap(
        {
            "TaskType": "Procedure",
            "Status": "FINISH",
            "ProcedureTask": {
                "Status": "FINISH",
                "ErrCode": 0,
                "MediaProcessResultSet": [
                    {"Type": "Transcode", "TranscodeTask": {"Status": "SUCCESS", "ErrCode": 0}},
                ],
                "AiAnalysisResultSet": [{"Type": "Classification", "ClassificationTask": node}],
            },
        }
    )
    status = parse_status(payload, external_id="p")
    assert (status.state, status.failure_code, status.failure_message) == (
        State.FAILED,
        code,
        message,
    )


def test_unknown_task_type_is_handled_generically():
    payload = wrap(
        {
            "TaskType": "SomethingNewAsync",
            "Status": "FINISH",
            "ProcedureTask": None,
            "SomethingNewAsyncResultTask": {
                "Status": "FINISH",
                "ErrCode": 0,
                "ErrCodeExt": "ModelGenerateFailed",
                "Message": "model failed",
                "Progress": 100,
            },
        }
    )
    status = parse_status(payload, external_id="n")
    assert (status.state, status.kind) == (State.FAILED, "SomethingNewAsync")
    assert status.failure_code == "ModelGenerateFailed"
    assert status.progress == 100


def test_finish_while_subtask_still_processing_counts_only_failures():
    payload = wrap(
        {
            "TaskType": "EditMedia",
            "Status": "PROCESSING",
            "EditMediaTask": {"ErrCodeExt": "InternalError", "Progress": 10},
        }
    )
    status = parse_status(payload, external_id="e")
    # Not terminal yet: a failing attempt may still be retried by VOD.
    assert (status.state, status.failure_code, status.progress) == (State.RUNNING, "", 10)


def test_credential_like_keys_never_reach_raw():
    payload = wrap(
        {
            "TaskType": "EditMedia",
            "Status": "WAITING",
            "EditMediaTask": {"SecretId": "AKIDleak", "Input": {"Authorization": "TC3 leak"}},
            "X-TC-Token": "tok",
        }
    )
    raw = parse_status(payload, external_id="e").raw
    text = json.dumps(raw)
    assert "leak" not in text and "tok" not in text
    assert raw["EditMediaTask"] == {"Input": {}}


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"Response": []},
        {"response": {}},
        {"Response": {"TaskType": "Procedure"}},
        {"Response": {"Status": 3}},
        {"Response": {"Error": "boom"}},
    ],
)
def test_wrong_shapes_are_malformed(payload):
    with pytest.raises(ProviderError) as info:
        parse_status(payload, external_id="w")
    assert info.value.code == "MalformedResponse"
    assert not info.value.permanent


def _queue_events(simulator, n: int) -> None:
    simulator.vod_events(SECRET_ID)
    queue = simulator.providers[CODE].events.queue(SECRET_ID)
    for i in range(n):
        queue.append(
            {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": {"TaskId": f"b{i}"}}
        )


def test_events_backlog_is_the_count_vod_holds(adapter, simulator, sent):
    _queue_events(simulator, 0)
    assert adapter.events_backlog() == 0
    _queue_events(simulator, 3)
    assert adapter.events_backlog() == 3
    assert [call["headers"]["X-TC-Action"] for call in sent] == ["DescribeEventsState"] * 2
    assert sent[-1]["headers"]["Authorization"].startswith("TC3-HMAC-SHA256 ")
    adapter.pull_events()  # what a pull handed out is no longer counted (for 30 s)
    assert adapter.events_backlog() == 0


@pytest.mark.parametrize("count", [-1, "3", True, 2.5, None, [3]])
def test_an_events_backlog_that_is_not_a_count_is_malformed(adapter, simulator, monkeypatch, count):
    from jobs.simulator.tencent_vod_events import EventQueue

    _queue_events(simulator, 1)
    monkeypatch.setattr(EventQueue, "count", lambda self: count)  # the simulator's side
    with pytest.raises(ProviderError) as info:
        adapter.events_backlog()
    assert info.value.code == "MalformedResponse" and not info.value.permanent


def test_an_events_backlog_answer_of_another_shape_is_malformed(adapter, simulator):
    _queue_events(simulator, 1)
    simulator.inject("wrong_shape", CODE)
    with pytest.raises(ProviderError) as info:
        adapter.events_backlog()
    assert info.value.code == "MalformedResponse"


def test_out_of_range_times_are_dropped():
    payload = wrap(
        {
            "Status": "WAITING",
            "CreateTime": "0001-01-01T00:00:00+01:00",
            "FinishTime": "0000-00-00T00:00:00Z",
        }
    )
    status = parse_status(payload, external_id="t")
    assert status.created_at is None and status.finished_at is None


# --- failures over HTTP ------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-301, 400])
def test_real_clock_skew_is_detected_by_the_simulator(adapter, simulator, skew):
    simulator.add_job(CODE, "skew-1", pinned="running")
    adapter.clock = lambda: time.time() + skew
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["skew-1"])
    assert info.value.code == "AuthFailure.SignatureExpire"


def test_small_clock_skew_is_tolerated(adapter, simulator):
    simulator.add_job(CODE, "skew-2", pinned="running")
    simulator.clock_offset = 200
    assert fetch_one(adapter, "skew-2").state is State.RUNNING


def test_tampered_body_fails_the_signature(adapter, simulator, monkeypatch):
    original = adapter.send

    def tamper(method, url, *, headers=None, body=b""):
        return original(method, url, headers=headers, body=body.replace(b"t-1", b"t-2"))

    monkeypatch.setattr(adapter, "send", tamper)
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["t-1"])
    assert info.value.code == "AuthFailure.SignatureFailure"


def test_wrong_sub_app_id_is_permanent(adapter, simulator, caplog):
    adapter.options = {"sub_app_id": "1500009999"}
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["x"])
    assert (info.value.code, info.value.permanent) == ("InvalidParameterValue.SubAppId", True)
    adapter.options = {"sub_app_id": "not-a-number"}
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["x"])
    assert (info.value.code, info.value.permanent) == ("InvalidParameterValue.SubAppId", True)
    assert_no_secret(info.value, caplog)


def test_retry_after_header_wins(adapter, monkeypatch):
    from jobs import http

    body = json.dumps(
        {
            "Response": {
                "Error": {"Code": "RequestLimitExceeded.UinLimitExceeded", "Message": "slow down"},
                "RequestId": "r",
            }
        }
    )
    monkeypatch.setattr(
        adapter,
        "send",
        lambda *a, **k: http.Response(200, {"retry-after": "7"}, body.encode()),
    )
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["x"])
    assert (info.value.code, info.value.retry_after) == (
        "RequestLimitExceeded.UinLimitExceeded",
        7.0,
    )


def test_error_messages_are_redacted(adapter, monkeypatch):
    from jobs import http

    body = json.dumps(
        {
            "Response": {
                "Error": {
                    "Code": "AuthFailure.SignatureFailure",
                    "Message": f"bad key {SECRET_KEY}",
                }
            }
        }
    )
    monkeypatch.setattr(adapter, "send", lambda *a, **k: http.Response(200, {}, body.encode()))
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["x"])
    assert SECRET_KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


# --- check_credentials and DescribeTasks -----------------------------------------------------


def test_describe_tasks_pages_with_scroll_token(adapter, simulator, sent):
    base = simulator.now() - 600
    for index in range(5):
        simulator.add_job(
            CODE, f"list-{index}", created=base + index, pinned="running", kind="EditMedia"
        )
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        summaries, token = adapter.describe_tasks(limit=2, scroll_token=token)
        pages += 1
        seen += [s.task_id for s in summaries]
        if not token:
            break
    assert pages == 3
    assert seen == [f"list-{i}" for i in (4, 3, 2, 1, 0)]  # newest first
    first = json.loads(sent[0]["body"])
    assert first == {"Limit": 2, "SubAppId": int(SUB_APP_ID)}
    assert json.loads(sent[1]["body"])["ScrollToken"]
    assert all(c["headers"]["X-TC-Action"] == "DescribeTasks" for c in sent)


def test_describe_tasks_filters_and_summaries(adapter, simulator):
    now = simulator.now()
    simulator.add_job(CODE, "f-wait", created=now - 50, pinned="queued", kind="Procedure")
    simulator.add_job(CODE, "f-done", created=now - 40, pinned="succeeded", kind="EditMedia")
    simulator.add_job(CODE, "f-abort", created=now - 30, pinned="canceled", kind="AigcVideoTask")
    simulator.add_job(CODE, "f-old", created=now - 73 * 3600, pinned="succeeded")
    everything, token = adapter.describe_tasks()
    by_id = {s.task_id: s for s in everything}
    assert token == ""
    assert set(by_id) == {"f-wait", "f-done", "f-abort"}  # 72 h window
    assert by_id["f-abort"].status == "ABORTED" and by_id["f-abort"].is_finished
    assert by_id["f-wait"] == TaskSummary(
        "f-wait", "WAITING", "Procedure", datetime.fromtimestamp(int(now - 50), UTC), None
    )
    assert not by_id["f-wait"].is_finished
    finished, _ = adapter.describe_tasks(status="FINISH")
    assert [s.task_id for s in finished] == ["f-done"]
    recent, _ = adapter.describe_tasks(created_after=datetime.fromtimestamp(now - 45, UTC))
    assert {s.task_id for s in recent} == {"f-done", "f-abort"}
    with pytest.raises(ValueError):
        adapter.describe_tasks(status="ABORTED")


def test_describe_tasks_clamps_limit(adapter, sent):
    adapter.describe_tasks(limit=500)
    adapter.describe_tasks(limit=0)
    assert [json.loads(c["body"])["Limit"] for c in sent] == [100, 1]


def test_describe_tasks_errors(adapter, simulator):
    simulator.inject("throttle", CODE, count=1)
    with pytest.raises(ProviderError) as info:
        adapter.describe_tasks()
    assert info.value.retry_after == 1.0
    with pytest.raises(ProviderError) as info:
        adapter.describe_tasks(scroll_token="garbage!")
    assert (info.value.code, info.value.permanent) == ("InvalidParameterValue.ScrollToken", True)


def test_parse_task_list_skips_bad_rows():
    payload = {
        "Response": {
            "TaskSet": [
                {
                    "TaskId": "a",
                    "Status": "FINISH",
                    "CreateTime": "2024-01-01T00:00:00Z",
                    "FinishTime": "",
                },
                {"Status": "WAITING"},
                5,
            ],
            "ScrollToken": "next",
        }
    }
    summaries, token = parse_task_list(payload)
    assert token == "next"
    assert summaries == [TaskSummary("a", "FINISH", "", datetime(2024, 1, 1, tzinfo=UTC), None)]


# --- properties ------------------------------------------------------------------------------

json_values = strategies.json_values()
VOD_KEYS = st.sampled_from(
    [
        "TaskType",
        "Status",
        "CreateTime",
        "BeginProcessTime",
        "FinishTime",
        "ProcedureTask",
        "EditMediaTask",
        "AigcVideoTask",
        "XTask",
        "MediaProcessResultSet",
        "TranscodeTask",
        "ErrCode",
        "ErrCodeExt",
        "Message",
        "Progress",
        "Output",
        "FileUrl",
        "Url",
        "CoverUrl",
        "Duration",
        "MetaData",
        "FileName",
        "MediaName",
        "Error",
        "Code",
        "RequestId",
        "TaskSet",
        "TaskId",
        "ScrollToken",
        "PlayInfoSet",
    ]
)
VOD_VALUES = st.sampled_from(
    [
        "FINISH",
        "WAITING",
        "PROCESSING",
        "ABORTED",
        "FAIL",
        "Procedure",
        "EditMedia",
        "2019-07-16T06:21:27Z",
        "0001-01-01T00:00:00+01:00",
        "0000-00-00T00:00:00Z",
        0,
        70000,
        -1,
        1e300,
        float("nan"),
        "http://x/y.mp4",
    ]
)
vod_like = st.recursive(
    VOD_VALUES | json_values,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(VOD_KEYS, children, max_size=6)
    ),
    max_leaves=30,
)


def _job_status_or_provider_error(payload) -> None:
    try:
        result = parse_status(payload, external_id="prop")
    except ProviderError:
        return
    assert isinstance(result, JobStatus)
    assert isinstance(result.state, State)
    json.dumps(result.raw)  # plain JSON data


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_parse_status_never_raises_anything_else(payload):
    _job_status_or_provider_error(payload)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(VOD_KEYS, vod_like, max_size=8))
def test_parse_status_on_vod_shaped_responses(response):
    _job_status_or_provider_error({"Response": response})


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(VOD_KEYS, vod_like, max_size=8))
def test_parse_task_list_never_raises_anything_else(response):
    try:
        summaries, token = parse_task_list({"Response": response})
    except ProviderError:
        return
    assert isinstance(token, str)
    assert all(isinstance(s, TaskSummary) for s in summaries)
