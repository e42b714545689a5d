"""Alibaba Cloud ICE QueryIProductionJob: signing vectors, normalization and failures,
over real HTTP against the simulator."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import http
from jobs.providers import signing
from jobs.providers.aliyun_ice import (
    ACTION,
    API_VERSION,
    CANCEL_ACTION,
    AliyunIce,
    acs3_authorization,
    acs3_canonical_request,
    acs3_date,
    cancel_client_token,
    canonical_query,
    error_from_response,
    is_job_not_found,
    parse_acs3_authorization,
    parse_status,
    rpc_signature,
    rpc_string_to_sign,
)
from jobs.providers.base import JobStatus, ProviderError, State
from jobs.providers.signing import SignedRequest
from jobs.simulator.aliyun_ice import Simulator as IceSimulator
from tests.providers import strategies
from tests.providers.harness import fetch_one

CODE = "aliyun_ice"
SECRET = IceSimulator.demo_credentials["access_key_secret"]
KEY_ID = IceSimulator.demo_credentials["access_key_id"]
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SIGNED = "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"


def make_adapter(simulator, **overrides) -> AliyunIce:
    credentials = dict(IceSimulator.demo_credentials)
    credentials.update(overrides.pop("credentials", {}))
    return AliyunIce(
        credentials=credentials,
        region=IceSimulator.demo_region,
        endpoint=simulator.url,
        **overrides,
    )


# --- Appendix B vectors ---------------------------------------------------------------------

DOC_QUERY = {
    "ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
    "RegionId": "cn-shanghai",
}
DOC_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-version": "2014-05-26",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-content-sha256": EMPTY,
}
ICE_QUERY = {"JobId": "****20b48fb04483915d4f2cd8ac****"}
ICE_HEADERS = {
    "host": "ice.cn-shanghai.aliyuncs.com",
    "x-acs-action": "QueryIProductionJob",
    "x-acs-version": "2020-11-09",
    "x-acs-date": "2024-01-01T00:00:00Z",
    "x-acs-signature-nonce": "0123456789abcdef0123456789abcdef",
    "x-acs-content-sha256": EMPTY,
}


def test_acs3_doc_vector_canonical_request_hash_and_authorization():
    expected_canonical = (
        "POST\n/\n"
        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
        "host:ecs.cn-shanghai.aliyuncs.com\n"
        "x-acs-action:RunInstances\n"
        f"x-acs-content-sha256:{EMPTY}\n"
        "x-acs-date:2023-10-26T10:22:32Z\n"
        "x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n"
        "x-acs-version:2014-05-26\n"
        "\n"
        f"{SIGNED}\n"
        f"{EMPTY}"
    )
    args = ("POST", "/", DOC_QUERY, DOC_HEADERS, b"")
    assert acs3_canonical_request(SignedRequest(*args)) == expected_canonical
    assert (
        signing.sha256_hex(acs3_canonical_request(SignedRequest(*args)))
        == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert acs3_authorization("YourAccessKeyId", "YourAccessKeySecret", SignedRequest(*args)) == (
        f"ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders={SIGNED},"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_acs3_ice_vector_encodes_stars_and_matches():
    assert canonical_query(ICE_QUERY) == "JobId=%2A%2A%2A%2A20b48fb04483915d4f2cd8ac%2A%2A%2A%2A"
    args = ("POST", "/", ICE_QUERY, ICE_HEADERS, b"")
    assert (
        signing.sha256_hex(acs3_canonical_request(SignedRequest(*args)))
        == "0525a358a707c63da7bc2fd1d69cb0a1e6732ffe49bfcbb1d0e170c8058c8771"
    )
    authorization = acs3_authorization(
        "YourAccessKeyId", "YourAccessKeySecret", SignedRequest(*args)
    )
    assert authorization == (
        f"ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders={SIGNED},"
        "Signature=e97a705cc377ee302bf466e41448230c3a0c569f64455489e3f95e09ff9cff46"
    )
    assert parse_acs3_authorization(authorization) == (
        "YourAccessKeyId",
        SIGNED.split(";"),
        "e97a705cc377ee302bf466e41448230c3a0c569f64455489e3f95e09ff9cff46",
    )


# ACS3-ICE-CANCEL (docs/PROVIDERS.md §5.8), computed with the vendor's own signer:
# aliyun/darabonba-openapi at commit 8b916ca848bbdcb8348fceb2fbb65af906cc7aec
# (2026-07-21), `python/alibabacloud_tea_openapi/utils.py` Utils.get_authorization
# (ACS3-HMAC-SHA256), run in a scratch directory with ACS3-ICE's headers and keys,
# x-acs-action CancelIProductionJob and the query {JobId, ClientToken}, ClientToken as
# `cancel_client_token` derives it. The same script reproduces ACS3-ICE above.
ICE_CANCEL_TOKEN = "3bb96dc5441534abc714645fb6acb3e9"
ICE_CANCEL_SIGNATURE = "765a284f363ca9a8fd308154e0d3dfdb237a3539c062dbb4f4ce437d90a7e171"


def test_acs3_ice_cancel_vector():
    job_id = ICE_QUERY["JobId"]
    assert cancel_client_token(job_id) == ICE_CANCEL_TOKEN
    query = {"JobId": job_id, "ClientToken": ICE_CANCEL_TOKEN}
    headers = {**ICE_HEADERS, "x-acs-action": CANCEL_ACTION}
    authorization = acs3_authorization(
        "YourAccessKeyId", "YourAccessKeySecret", SignedRequest("POST", "/", query, headers, b"")
    )
    assert authorization == (
        f"ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders={SIGNED},"
        f"Signature={ICE_CANCEL_SIGNATURE}"
    )


def test_acs3_header_names_and_values_are_normalized():
    shouted = {name.upper(): f"  {value} " for name, value in ICE_HEADERS.items()}
    assert acs3_authorization("k", "s", SignedRequest("post", "/", ICE_QUERY, shouted)) == (
        acs3_authorization("k", "s", SignedRequest("POST", "/", ICE_QUERY, ICE_HEADERS))
    )


def test_canonical_query_is_rfc3986():
    assert canonical_query({"b": "a b+c~/é", "a": "x,y"}) == "a=x%2Cy&b=a%20b%2Bc~%2F%C3%A9"


RPC_DOC_PARAMS = {
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
    "AccessKeyId": "testid",
}


def test_rpc_doc_vector():
    assert rpc_string_to_sign("GET", RPC_DOC_PARAMS) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML"
        "%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"
        "%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z"
        "%26Version%3D2014-05-26"
    )
    assert rpc_signature("testsecret", "GET", RPC_DOC_PARAMS) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    # A Signature already in the params is not signed again.
    with_signature = {**RPC_DOC_PARAMS, "Signature": "x"}
    assert rpc_signature("testsecret", "GET", with_signature) == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


@pytest.mark.parametrize(
    ("method", "expected"),
    [("POST", "lkFkM+7CoVOVRqUqtXYLGP1JK3A="), ("GET", "SRdylNOKjJ0WNx+Nw5s4Fmd6bCk=")],
)
def test_rpc_ice_vectors(method, expected):
    params = {
        "AccessKeyId": "testid",
        "Action": "QueryIProductionJob",
        "Format": "JSON",
        "JobId": "****20b48fb04483915d4f2cd8ac****",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2024-01-01T00:00:00Z",
        "Version": "2020-11-09",
    }
    assert rpc_signature("testsecret", method, params) == expected


# --- the adapter's shape ----------------------------------------------------------------------


def test_schema_and_limits():
    fields = {f.name: f for f in AliyunIce.credential_fields}
    assert list(fields) == [
        "access_key_id",
        "access_key_secret",
        "callback_auth_key",
        "callback_auth_key_previous",
    ]
    # The notification keys are optional secrets: an account without them gets no check.
    assert all(fields[n].secret and not fields[n].required for n in list(fields)[2:])
    assert not fields["access_key_id"].secret and fields["access_key_id"].label == "AccessKey ID"
    assert fields["access_key_secret"].secret
    assert fields["access_key_secret"].label == "AccessKey Secret"
    assert AliyunIce.option_fields == ()
    assert (AliyunIce.code, AliyunIce.default_rate_limit, AliyunIce.batch_size) == (
        CODE,
        20.0,
        1,
    )
    assert AliyunIce.retention is None and AliyunIce.can_submit is False
    assert AliyunIce(credentials={}).base_url() == "https://ice.cn-shanghai.aliyuncs.com"
    assert AliyunIce(credentials={}, region="ap-southeast-1").host == (
        "ice.ap-southeast-1.aliyuncs.com"
    )


def test_signed_request_wire_format():
    adapter = AliyunIce(credentials=IceSimulator.demo_credentials, clock=lambda: 1704067200.0)
    adapter.new_nonce = lambda: "0123456789abcdef0123456789abcdef"
    url, headers = adapter.signed_request({"JobId": "****20b48fb04483915d4f2cd8ac****"})
    assert url == (
        "https://ice.cn-shanghai.aliyuncs.com/?JobId=%2A%2A%2A%2A20b48fb04483915d4f2cd8ac%2A%2A%2A%2A"
    )
    assert {k: v for k, v in headers.items() if k not in ("authorization", "accept")} == ICE_HEADERS
    assert headers["authorization"] == acs3_authorization(
        KEY_ID, SECRET, SignedRequest("POST", "/", ICE_QUERY, ICE_HEADERS)
    )
    assert acs3_date(1704067200.0) == "2024-01-01T00:00:00Z"


def test_real_nonce_is_fresh_uuid_hex():
    adapter = AliyunIce(credentials=IceSimulator.demo_credentials)
    first, second = adapter.new_nonce(), adapter.new_nonce()
    assert first != second and len(first) == 32 and int(first, 16) >= 0


# --- states over HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pinned", "raw", "state"),
    [
        ("queued", "Queuing", State.QUEUED),
        ("running", "Analyzing", State.RUNNING),
        ("succeeded", "Success", State.SUCCEEDED),
        ("failed", "Fail", State.FAILED),
    ],
)
def test_every_raw_state(simulator, pinned, raw, state):
    simulator.add_job(CODE, "job-1", pinned=pinned, kind="SpeechDenoise", name="denoise ep 1")
    status = fetch_one(make_adapter(simulator), "job-1")
    assert isinstance(status, JobStatus)
    assert (status.state, status.provider_state) == (state, raw)
    assert (status.kind, status.name, status.external_id) == (
        "SpeechDenoise",
        "denoise ep 1",
        "job-1",
    )
    assert status.created_at is not None and status.created_at.tzinfo is UTC
    assert (status.finished_at is not None) == state.is_terminal
    assert status.raw["Status"] == raw and status.raw["FunctionName"] == "SpeechDenoise"


@pytest.mark.parametrize("raw", ["Init", "Processing", "Paused", "SUCCESS", ""])
def test_unknown_raw_state_is_kept(simulator, caplog, raw):
    # An empty raw_state would mean "none"; the empty string goes in as an override.
    extra = {} if raw else {"Status": ""}
    simulator.add_job(CODE, "job-odd", pinned="running", raw_state=raw or None, extra=extra)
    with caplog.at_level(logging.WARNING, logger="jobs.providers.aliyun_ice"):
        status = fetch_one(make_adapter(simulator), "job-odd")
    assert status.state is State.UNKNOWN and status.provider_state == raw
    assert "unknown Status" in caplog.text


@pytest.mark.parametrize("raw", ["Canceled", "Cancelled", "Cancel"])
def test_canceled_status_spellings_are_canceled(simulator, raw):
    # The Status of a canceled job is undocumented (PROVIDERS.md §5.8): these spellings are
    # taken as canceled, so an accepted cancel ends the job; "Canceling" stays unknown.
    simulator.add_job(CODE, "job-c", pinned="canceled", raw_state=raw)
    status = fetch_one(make_adapter(simulator), "job-c")
    assert (status.state, status.provider_state) == (State.CANCELED, raw)
    simulator.add_job(CODE, "job-d", pinned="running", raw_state="Canceling")
    assert fetch_one(make_adapter(simulator), "job-d").state is State.UNKNOWN


def test_success_details(simulator):
    created = datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC).timestamp()
    simulator.add_job(
        CODE, "job-ok", created=created, queue_seconds=5, run_seconds=20, kind="MusicDemix"
    )
    status = fetch_one(make_adapter(simulator), "job-ok")
    assert status.state is State.SUCCEEDED and status.progress == 100
    job = simulator.jobs[(CODE, "job-ok")]
    assert status.media_url == simulator.providers[CODE].media_url(job)
    assert status.media_url.startswith(simulator.url)
    assert status.created_at == datetime(2024, 3, 1, 8, 0, 0, tzinfo=UTC)
    assert status.finished_at == datetime(2024, 3, 1, 8, 0, 25, tzinfo=UTC)
    assert status.started_at is None  # ICE does not report a start time
    assert status.queue_position is None and status.failure_code == ""
    assert status.kind == "MusicDemix" and status.name
    # Result and JobParams arrive as JSON strings and are kept decoded.
    assert status.raw["Result"] == {} and status.raw["JobParams"] == {}
    assert status.raw["Input"]["Type"] == "OSS"


def test_kind_falls_back_to_demo_kinds(simulator):
    simulator.add_job(CODE, "job-demo", pinned="running")
    status = fetch_one(make_adapter(simulator), "job-demo")
    assert status.kind in IceSimulator.demo_kinds


def test_running_and_queued_have_no_media_or_progress(simulator):
    simulator.add_job(CODE, "job-q", pinned="queued")
    simulator.add_job(CODE, "job-r", pinned="running", extra={"OutputUrls": ["https://x/y"]})
    adapter = make_adapter(simulator)
    for job_id in ("job-q", "job-r"):
        status = fetch_one(adapter, job_id)
        assert status.media_url == "" and status.progress is None


def test_media_url_falls_back_to_output_url_and_refuses_non_web(simulator):
    simulator.add_job(
        CODE,
        "job-out",
        pinned="succeeded",
        extra={
            "OutputUrls": ["oss://bucket/a.wav"],
            "Output": {"Type": "Media", "Media": "m-1", "OutputUrl": "https://cdn.example/a.wav"},
        },
    )
    simulator.add_job(
        CODE,
        "job-js",
        pinned="succeeded",
        extra={"OutputUrls": ["javascript:alert(1)"], "Output": {"OutputUrl": "oss://b/o"}},
    )
    adapter = make_adapter(simulator)
    assert fetch_one(adapter, "job-out").media_url == "https://cdn.example/a.wav"
    assert fetch_one(adapter, "job-js").media_url == ""


def test_star_job_id_is_signed_and_sent_encoded(simulator):
    simulator.add_job(CODE, "****20b48fb04483915d4f2cd8ac****", pinned="running")
    status = fetch_one(make_adapter(simulator), "****20b48fb04483915d4f2cd8ac****")
    assert status.state is State.RUNNING


# --- job-level failures -------------------------------------------------------------------------


def test_failed_job_reports_result_code_and_message(simulator):
    simulator.add_job(
        CODE,
        "job-f",
        pinned="failed",
        failure_code="InvalidInput.NoAudioStream",
        failure_message="The input media has no audio stream.",
    )
    status = fetch_one(make_adapter(simulator), "job-f")
    assert status.state is State.FAILED and status.provider_state == "Fail"
    assert status.failure_code == "InvalidInput.NoAudioStream"
    assert status.failure_message == "The input media has no audio stream."
    assert status.media_url == ""
    assert status.raw["Result"] == {
        "Code": "InvalidInput.NoAudioStream",
        "Message": "The input media has no audio stream.",
    }


def test_failed_job_uses_simulator_failure_codes(simulator):
    simulator.add_job(CODE, "job-f2", pinned="failed")
    status = fetch_one(make_adapter(simulator), "job-f2")
    assert (status.failure_code, status.failure_message) in IceSimulator.failure_codes


@pytest.mark.parametrize(
    ("result", "code", "message"),
    [
        (
            json.dumps({"Code": "Success", "Data": json.dumps({"Code": "E1", "Message": "m"})}),
            "E1",
            "m",
        ),
        (json.dumps({"Data": {"Code": "E2", "Message": "inner"}}), "E2", "inner"),
        (json.dumps({"Message": "only a message"}), "Fail", "only a message"),
        ("{not json", "Fail", ""),
        (json.dumps([1, 2]), "Fail", ""),
        (None, "Fail", ""),
    ],
)
def test_failed_job_result_shapes(simulator, result, code, message):
    # None: Result is JSON null.
    simulator.add_job(CODE, "job-fs", pinned="failed", extra={"Result": result})
    status = fetch_one(make_adapter(simulator), "job-fs")
    assert status.state is State.FAILED
    assert (status.failure_code, status.failure_message) == (code, message)
    if result == "{not json":
        assert status.raw["Result"] == "{not json"


# --- request-level failures ----------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "ok"), [(16 * 60, False), (-16 * 60, False), (14 * 60, True)])
def test_real_clock_skew_is_checked_by_the_simulator(simulator, offset, ok):
    import time

    simulator.add_job(CODE, "job-1", pinned="running")
    adapter = make_adapter(simulator, clock=lambda: time.time() + offset)
    if ok:
        assert fetch_one(adapter, "job-1").state is State.RUNNING
        return
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["job-1"])
    assert info.value.code == "InvalidTimeStamp.Expired" and not info.value.permanent


def test_simulator_clock_offset_expires_requests(simulator):
    simulator.clock_offset = 3600
    with pytest.raises(ProviderError) as info:
        make_adapter(simulator).fetch(["job-1"])
    assert info.value.code == "InvalidTimeStamp.Expired"


def test_retry_after_header_wins():
    response = http.Response(
        400,
        {"Retry-After": "7"},
        json.dumps({"Code": "Throttling.Api", "Message": "slow down"}).encode(),
    )
    error = error_from_response(response)
    assert error.retry_after == 7.0 and not error.permanent


def test_synthetic_ids_move_with_the_clock(simulator):
    import time

    created = int(time.time()) - 100
    job_id = f"sim-{created}-10-20-fail-abc"
    status = fetch_one(make_adapter(simulator), job_id)
    assert status.state is State.FAILED and status.failure_code


def test_endpoint_override_sends_and_signs_simulator_host(simulator):
    simulator.add_job(CODE, "job-1", pinned="running")
    adapter = make_adapter(simulator)
    assert adapter.default_base_url() == "https://ice.cn-shanghai.aliyuncs.com"
    assert adapter.base_url() == simulator.url
    _, headers = adapter.signed_request({"JobId": "job-1"})
    assert headers["host"] == simulator.url.removeprefix("http://")
    assert fetch_one(adapter, "job-1").state is State.RUNNING
    assert simulator.requests[CODE] == 1


# --- the simulator's checks ------------------------------------------------------------------


def _send(simulator, headers: dict[str, str], query: str = "JobId=job-1") -> http.Response:
    return http.request("POST", f"{simulator.url}/?{query}", headers=headers, timeout=(1.0, 1.0))


def _signed(
    simulator,
    *,
    skip: str = "",
    nonce: str = "ab" * 16,
    date: str = "",
    job_id: str = "job-1",
    action: str = ACTION,
) -> dict[str, str]:
    headers = {
        "host": simulator.url.removeprefix("http://"),
        "x-acs-action": action,
        "x-acs-version": API_VERSION,
        "x-acs-date": date or acs3_date(simulator.now()),
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": signing.sha256_hex(b""),
    }
    signed = {k: v for k, v in headers.items() if k != skip}
    headers["authorization"] = acs3_authorization(
        KEY_ID, SECRET, SignedRequest("POST", "/", {"JobId": job_id}, signed)
    )
    return headers


def test_simulator_requires_all_x_acs_headers_signed(simulator):
    simulator.add_job(CODE, "job-1", pinned="running")
    response = _send(simulator, _signed(simulator, skip="x-acs-signature-nonce"))
    body = json.loads(response.body)
    assert response.status == 400 and body["Code"] == "IncompleteSignature"
    assert set(body) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
    assert error_from_response(response).permanent


def test_simulator_canonicalizes_the_query_it_received(simulator):
    # Like the gateway, the simulator decodes the query and re-encodes it canonically, so
    # a client that sent `*` unencoded still verifies.
    simulator.add_job(CODE, "**x**", pinned="running")
    response = _send(simulator, _signed(simulator, job_id="**x**"), query="JobId=**x**")
    assert response.status == 200 and json.loads(response.body)["JobId"] == "**x**"


def test_simulator_rejects_reused_nonce(simulator):
    simulator.add_job(CODE, "job-1", pinned="running")
    adapter = make_adapter(simulator)
    adapter.new_nonce = lambda: "f" * 32
    assert fetch_one(adapter, "job-1").state is State.RUNNING
    with pytest.raises(ProviderError) as info:
        adapter.fetch(["job-1"])
    assert info.value.code == "SignatureNonceUsed" and not info.value.permanent


def test_simulator_rejects_bad_date_and_missing_authorization(simulator):
    response = _send(simulator, _signed(simulator, nonce="cd" * 16, date="yesterday"))
    assert json.loads(response.body)["Code"] == "InvalidTimeStamp.Format"
    headers = _signed(simulator, nonce="ef" * 16)
    del headers["authorization"]
    response = _send(simulator, headers)
    assert json.loads(response.body)["Code"] == "IncompleteSignature"


def test_simulator_rejects_tampered_query(simulator):
    simulator.add_job(CODE, "job-2", pinned="running")
    response = _send(simulator, _signed(simulator), query="JobId=job-2")
    assert response.status == 400
    assert json.loads(response.body)["Code"] == "SignatureDoesNotMatch"


# --- parser properties -----------------------------------------------------------------------

json_values = strategies.json_values(text_size=20, key_size=12)
ice_keys = st.sampled_from(
    [
        "JobId",
        "Status",
        "Result",
        "FunctionName",
        "Name",
        "CreateTime",
        "FinishTime",
        "OutputUrls",
        "Output",
        "JobParams",
        "Code",
        "Data",
    ]
)
ice_like = st.dictionaries(
    ice_keys,
    json_values
    | st.sampled_from(["Success", "Fail", "Queuing", "Analyzing", "2024-01-01T00:00:00Z"])
    | json_values.map(json.dumps),
    max_size=8,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(payload=json_values | ice_like)
def test_parse_status_never_raises_anything_else(payload):
    try:
        status = parse_status(payload, external_id="job-x")
    except ProviderError as error:
        assert error.code == "MalformedResponse" and not error.permanent
        return
    assert isinstance(status, JobStatus) and isinstance(status.state, State)
    json.dumps(status.raw)  # raw stays plain JSON data


@settings(max_examples=200, deadline=None)
@given(
    status=st.integers(400, 599),
    body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_error_parser_always_gives_provider_error(status, body):
    error = error_from_response(http.Response(status, {}, body))
    assert isinstance(error, ProviderError) and error.code


def test_raw_drops_credential_like_keys_and_deep_nesting():
    nested: dict = {"leaf": 1}
    for _ in range(100):
        nested = {"n": nested}
    status = parse_status(
        {
            "Status": "Success",
            "Authorization": "ACS3...",
            "AccessKeySecret": "x",
            "UserData": {"SecurityToken": "t", "keep": 1},
            "Deep": nested,
        },
        external_id="job-x",
    )
    assert "Authorization" not in status.raw and "AccessKeySecret" not in status.raw
    assert status.raw["UserData"] == {"keep": 1}
    json.dumps(status.raw)


def test_another_jobs_answer_is_malformed():
    with pytest.raises(ProviderError) as info:
        parse_status({"Status": "Success", "JobId": "other"}, external_id="job-x")
    assert info.value.code == "MalformedResponse"


@pytest.mark.parametrize(
    ("code", "status", "permanent", "not_found"),
    [
        ("Forbidden.RAM", 403, True, False),
        ("OperationDenied.Suspended", 400, True, False),
        ("InvalidAccessKeyId.Inactive", 400, True, False),
        ("RequestsTooFrequent", 403, False, False),
        ("ServiceUnavailable", 503, False, False),
        ("ResourceNotFound", 404, True, True),
        ("InvalidParameter.JobId", 400, True, True),
        ("InvalidParameter", 400, True, False),
    ],
)
def test_error_classification(code, status, permanent, not_found):
    body = {
        "RequestId": "R-1",
        "HostId": "ice.cn-shanghai.aliyuncs.com",
        "Code": code,
        "Message": "m",
        "Recommend": "https://api.aliyun.com/troubleshoot",
    }
    error = error_from_response(http.Response(status, {}, json.dumps(body).encode()))
    assert error.code == code and error.permanent is permanent
    assert is_job_not_found(error.code, error.message) is not_found
    if code == "RequestsTooFrequent":
        assert error.retry_after == 1.0


def test_invalid_parameter_naming_job_id_is_not_found():
    body = {"Code": "InvalidParameter", "Message": "The specified parameter JobId is not valid."}
    error = error_from_response(http.Response(400, {}, json.dumps(body).encode()))
    assert is_job_not_found(error.code, error.message)


def test_error_message_redacts_secrets():
    body = {"Code": "SignatureDoesNotMatch", "Message": f"bad key {SECRET}"}
    error = error_from_response(http.Response(400, {}, json.dumps(body).encode()), [SECRET])
    assert SECRET not in str(error) and "[redacted]" in str(error)


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_sends_the_job_and_a_token_derived_from_it(simulator, monkeypatch):
    simulator.add_job(CODE, "job-q", pinned="queued")
    sent: list[tuple[str, dict[str, str]]] = []
    original = http.request

    def spy(method, url, **kwargs):
        sent.append((url, dict(kwargs.get("headers") or {})))
        return original(method, url, **kwargs)

    monkeypatch.setattr(http, "request", spy)
    assert make_adapter(simulator).cancel(["job-q"])["job-q"].accepted
    ((url, headers),) = sent
    assert url.endswith(f"/?ClientToken={cancel_client_token('job-q')}&JobId=job-q")
    assert headers["x-acs-action"] == CANCEL_ACTION
    assert cancel_client_token("job-q") != cancel_client_token("job-r")
    assert len(cancel_client_token("job-q")) == 32


def test_a_retried_cancel_is_the_same_request_and_gets_the_same_answer(simulator):
    # The first answer was lost (say): the retry, with a fresh nonce but the same
    # ClientToken, is answered as the first was, though the job is no longer Queuing.
    simulator.add_job(CODE, "job-q", pinned="queued")
    adapter = make_adapter(simulator)
    assert adapter.cancel(["job-q"])["job-q"].accepted
    assert adapter.cancel(["job-q"])["job-q"].accepted
    assert fetch_one(adapter, "job-q").state is State.CANCELED
    # Without the token the same cancel is a new request, refused: the job is canceled.
    headers = _signed(simulator, job_id="job-q", action=CANCEL_ACTION, nonce=uuid.uuid4().hex)
    refused = json.loads(_send(simulator, headers, query="JobId=job-q").body)
    assert refused["Code"] == "IncorrectJobStatus"


def test_a_cancel_refused_by_ram_fails_the_whole_request():
    # A RAM user without ice:CancelIProductionJob: the account's problem, permanent, raised.
    adapter = AliyunIce(credentials=dict(IceSimulator.demo_credentials))
    error = error_from_response(
        http.Response(403, {}, b'{"Code": "Forbidden.RAM", "Message": "denied"}')
    )
    assert error.permanent and not adapter.refuses_job(error)
    refused = error_from_response(
        http.Response(400, {}, b'{"Code": "IncorrectJobStatus", "Message": "Analyzing"}')
    )
    assert refused.permanent and adapter.refuses_job(refused)
    assert adapter.refusal(refused).code == "IncorrectJobStatus"
