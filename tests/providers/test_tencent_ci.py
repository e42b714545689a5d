"""Tencent Cloud Infinite adapter against the simulator over real HTTP (docs/PROVIDERS.md §3)."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import http
from jobs.providers import tencent_ci as ci
from jobs.providers.base import NOT_FOUND, JobStatus, ProviderError, State
from jobs.providers.tencent_ci import TencentCi
from jobs.providers.tencent_ci.signing import CosSignature
from jobs.simulator.core import Simulator
from tests.providers.harness import fetch_error, fetch_one

CODE = "tencent_ci"

# Appendix B key pair (published in Tencent's docs; not a real account).
DOC_SECRET_ID = "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q"
DOC_SECRET_KEY = "BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"
CI_HOST = "examplebucket-1250000000.ci.ap-beijing.myqcloud.com"
CI_KEY_TIME = "1699999940;1700010000"
CI_SIGN_KEY = "1d1e4980f055b2c867bb9b7d31f493c78b2f1dbe"
WRONG_SECRET = "wrongsecretkey0123456789abcdefXYZ"


# --- helpers -----------------------------------------------------------------------


def sim_of(simulator: Simulator):
    return simulator.providers[CODE]


def adapter_for(simulator: Simulator, **overrides) -> TencentCi:
    sim = sim_of(simulator)
    return TencentCi(
        credentials=overrides.pop("credentials", sim.demo_credentials),
        options=overrides.pop("options", sim.demo_options),
        region=overrides.pop("region", sim.demo_region),
        endpoint=overrides.pop("endpoint", simulator.url),
        **overrides,
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Every request the adapter hands to the HTTP choke point, as handed."""
    calls: list[dict] = []
    original = http.request

    def spy(method, url, **kwargs):
        calls.append(
            {
                "method": method,
                "url": url,
                "headers": dict(kwargs.get("headers") or {}),
                "body": kwargs.get("body", b""),
            }
        )
        return original(method, url, **kwargs)

    monkeypatch.setattr(http, "request", spy)
    return calls


def auth_fields(authorization: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in authorization.split("&"))


# --- Appendix B vectors ------------------------------------------------------------


COS_HOST = "examplebucket-1250000000.cos.ap-beijing.myqcloud.com"
COS1_HEADERS = {
    "Content-Length": "13",
    "Content-MD5": "mQ/fVh815F3k6TAUm8m0eg==",
    "Content-Type": "text/plain",
    "Date": "Thu, 16 May 2019 06:45:51 GMT",
    "Host": COS_HOST,
    "x-cos-acl": "private",
    "x-cos-grant-read": 'uin="100000000011"',
}
COS2_PARAMS = {
    "response-content-type": "application/octet-stream",
    "response-cache-control": "max-age=600",
}
COS2_HEADERS = {"Date": "Thu, 16 May 2019 06:55:53 GMT", "Host": COS_HOST}


def doc_cos_sign(
    method: str, params: dict[str, str], headers: dict[str, str], key_time: str
) -> CosSignature:
    """The published object's request, signed with the Appendix B key pair."""
    return ci.cos_sign(
        DOC_SECRET_ID, DOC_SECRET_KEY, method, "/exampleobject(腾讯云)", params, headers, key_time
    )


def test_cos1_put_vector_with_chinese_path_and_signed_date():
    signed = doc_cos_sign("PUT", {}, COS1_HEADERS, "1557989151;1557996351")
    assert signed.key_time == "1557989151;1557996351"
    assert signed.sign_key == "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f"
    assert signed.http_string == (
        "put\n/exampleobject(腾讯云)\n\ncontent-length=13&content-md5=mQ%2FfVh815F3k6TAUm8m0eg%3D%3D"
        "&content-type=text%2Fplain&date=Thu%2C%2016%20May%202019%2006%3A45%3A51%20GMT"
        "&host=examplebucket-1250000000.cos.ap-beijing.myqcloud.com&x-cos-acl=private"
        "&x-cos-grant-read=uin%3D%22100000000011%22\n"
    )
    assert signed.header_list == (
        "content-length;content-md5;content-type;date;host;x-cos-acl;x-cos-grant-read"
    )
    assert signed.url_param_list == ""
    assert signed.string_to_sign == (
        "sha1\n1557989151;1557996351\n8b2751e77f43a0995d6e9eb9477f4b685cca4172\n"
    )
    assert signed.signature == "3b8851a11a569213c17ba8fa7dcf2abec6935172"
    assert ci.string_to_sign(signed.key_time, signed.http_string) == signed.string_to_sign


def test_cos2_get_vector_with_params():
    signed = doc_cos_sign("GET", COS2_PARAMS, COS2_HEADERS, "1557989753;1557996953")
    assert signed.sign_key == "937914bf490e9e8c189836aad2052e4feeb35eaf"
    assert signed.url_param_list == "response-cache-control;response-content-type"
    assert signed.header_list == "date;host"
    assert signed.string_to_sign == (
        "sha1\n1557989753;1557996953\n54ecfe22f59d3514fdc764b87a32d8133ea611e6\n"
    )
    assert signed.signature == "01681b8c9d798a678e43b685a9f1bba0f6c0e012"


CI_VECTORS = {
    "CI-1": (
        "GET",
        "/jobs/jabcsdssfeipplsdfwe",
        {},
        {"Host": CI_HOST},
        f"get\n/jobs/jabcsdssfeipplsdfwe\n\nhost={CI_HOST}\n",
        ("host", ""),
        "ac063828749e27d16fbb00e1497da1414cfbcf88",
    ),
    "CI-2": (
        "GET",
        "/jobs",
        {
            "tag": "VoiceSeparate",
            "queueId": "p893bcda225bf4945a378da6662e81a89",
            "states": "Success,Failed",
            "size": "10",
            "orderByTime": "Desc",
            "nextToken": "",
        },
        {"Host": CI_HOST},
        "get\n/jobs\nnexttoken=&orderbytime=Desc&queueid=p893bcda225bf4945a378da6662e81a89"
        f"&size=10&states=Success%2CFailed&tag=VoiceSeparate\nhost={CI_HOST}\n",
        ("host", "nexttoken;orderbytime;queueid;size;states;tag"),
        "01aab192656a4ee0eca10abfb833f2cdd7cac940",
    ),
    "CI-3": (
        "POST",
        "/jobs",
        {},
        {"Host": CI_HOST, "Content-Type": "application/xml", "Content-Length": "43"},
        f"post\n/jobs\n\ncontent-length=43&content-type=application%2Fxml&host={CI_HOST}\n",
        ("content-length;content-type;host", ""),
        "cba9c2a578993bdbf806a2b0a7c42355bd9b7eb3",
    ),
}


@pytest.mark.parametrize("vector", sorted(CI_VECTORS))
def test_ci_sdk_vectors(vector: str):
    method, path, params, headers, http_string, lists, signature = CI_VECTORS[vector]
    signed = ci.cos_sign(DOC_SECRET_ID, DOC_SECRET_KEY, method, path, params, headers, CI_KEY_TIME)
    assert signed.sign_key == CI_SIGN_KEY
    assert signed.http_string == http_string
    assert ci.http_string(method, path, params, headers) == http_string
    assert (signed.header_list, signed.url_param_list) == lists
    assert signed.signature == signature
    expected = (
        f"q-sign-algorithm=sha1&q-ak={DOC_SECRET_ID}&q-sign-time={CI_KEY_TIME}"
        f"&q-key-time={CI_KEY_TIME}&q-header-list={lists[0]}&q-url-param-list={lists[1]}"
        f"&q-signature={signature}"
    )
    assert signed.authorization == expected
    assert (
        ci.cos_sign(
            DOC_SECRET_ID, DOC_SECRET_KEY, method, path, params, headers, CI_KEY_TIME
        ).authorization
        == expected
    )


def test_ci1_string_to_sign():
    signed = ci.cos_sign(
        DOC_SECRET_ID, DOC_SECRET_KEY, *CI_VECTORS["CI-1"][:4], key_time=CI_KEY_TIME
    )
    assert signed.string_to_sign == (
        "sha1\n1699999940;1700010000\nd06ca9887902c779fb71f8fc657ba218c30df7a1\n"
    )


def test_ci2_query_goes_out_as_the_sdk_sends_it():
    params = CI_VECTORS["CI-2"][2]
    assert ci.encode_query(params) == (
        "tag=VoiceSeparate&queueId=p893bcda225bf4945a378da6662e81a89"
        "&states=Success%2CFailed&size=10&orderByTime=Desc&nextToken="
    )


def test_key_time_window_is_now_minus_60_to_now_plus_600():
    assert ci.key_time_for(1700000000.7) == "1699999940;1700000600"


# CI-CANCEL, PUT /jobs/<id>?cancel (docs/PROVIDERS.md §3.6), computed with the vendor's own
# signer: cos-python-sdk-v5 at commit cc3bdf0a2460f17f007abaf20c2cc256820252b3
# (tencentyun/cos-python-sdk-v5, 2026-01-13), `qcloud_cos/cos_auth.py` CosS3Auth, run in
# a scratch directory as `ci_cancel_jobs` calls it: CosS3Auth(conf, "/jobs/<id>",
# params={}) on a requests PreparedRequest for PUT <host>/jobs/<id>?cancel with no body,
# time.time() frozen at 1700000000, the SDK's default expire (10000 s), the Appendix B
# key pair. requests adds `Content-Length: 0` to a PUT, and the SDK signs it; `cancel`
# stays out of the signed params.
CI_CANCEL_JOB = "jb57da17e29c111eda218713081fe2b05"  # the job id of CI's cancel doc example
CI_CANCEL_AUTHORIZATION = (
    f"q-sign-algorithm=sha1&q-ak={DOC_SECRET_ID}&q-sign-time={CI_KEY_TIME}"
    f"&q-key-time={CI_KEY_TIME}&q-header-list=content-length;host&q-url-param-list="
    "&q-signature=9722357fd749e910c007b29cb69dc3d513bbfc90"
)


def test_ci_cancel_sdk_vector():
    signed = ci.cos_sign(
        DOC_SECRET_ID,
        DOC_SECRET_KEY,
        "PUT",
        f"/jobs/{CI_CANCEL_JOB}",
        {},
        {"Host": CI_HOST, "Content-Length": "0"},
        CI_KEY_TIME,
    )
    assert signed.http_string == f"put\n/jobs/{CI_CANCEL_JOB}\n\ncontent-length=0&host={CI_HOST}\n"
    assert signed.authorization == CI_CANCEL_AUTHORIZATION


# --- schema and URLs ---------------------------------------------------------------


def test_schema_names_and_limits():
    assert [(f.name, f.secret, f.label) for f in TencentCi.credential_fields] == [
        ("secret_id", False, "SecretId"),
        ("secret_key", True, "SecretKey"),
    ]
    assert [(f.name, f.secret, f.required, f.label) for f in TencentCi.option_fields] == [
        ("bucket", False, True, "Bucket (name-APPID)"),
        ("queue_id", False, False, "Queue ID"),
    ]
    assert (TencentCi.default_rate_limit, TencentCi.batch_size) == (20.0, 50)
    assert TencentCi.retention is None and TencentCi.can_submit is True
    with pytest.raises(ValueError, match="bucket"):
        TencentCi.validate_settings({"secret_id": "a", "secret_key": "b"}, {})


def test_real_host_from_bucket_and_region():
    adapter = TencentCi(
        credentials={"secret_id": DOC_SECRET_ID, "secret_key": DOC_SECRET_KEY},
        options={"bucket": "examplebucket-1250000000"},
        region="ap-beijing",
    )
    assert adapter.base_url() == f"https://{CI_HOST}"
    assert adapter.host == CI_HOST


@pytest.mark.parametrize(
    ("bucket", "region"),
    [("examplebucket-1250000000", ""), ("evil.example.com/x", "ap-beijing"), ("", "ap-beijing")],
)
def test_real_host_needs_a_valid_bucket_and_region(bucket: str, region: str):
    adapter = TencentCi(
        credentials={"secret_id": "a", "secret_key": "b"}, options={"bucket": bucket}, region=region
    )
    with pytest.raises(ProviderError) as caught:
        adapter.base_url()
    assert caught.value.code == "InvalidConfiguration" and caught.value.permanent


def test_endpoint_override_sends_to_simulator_and_signs_the_host_sent(simulator, sent):
    simulator.add_job(CODE, "jhost", pinned="running")
    adapter = adapter_for(simulator)
    assert adapter.host == simulator.url.split("://", 1)[1]
    status = fetch_one(adapter, "jhost")
    assert status.state is State.RUNNING
    (call,) = sent
    assert call["url"] == f"{simulator.url}/jobs/jhost"
    assert call["headers"]["Host"] == adapter.host
    fields = auth_fields(call["headers"]["Authorization"])
    assert fields["q-header-list"] == "host"
    assert fields["q-url-param-list"] == ""
    assert fields["q-ak"] == sim_of(simulator).demo_credentials["secret_id"]
    start, end = (int(x) for x in fields["q-key-time"].split(";"))
    assert start <= time.time() <= end and end - start == 660


# --- states and fields -------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "raw", "state"),
    [
        ("queued", "Submitted", State.QUEUED),
        ("running", "Running", State.RUNNING),
        ("paused", "Pause", State.PAUSED),
        ("succeeded", "Success", State.SUCCEEDED),
        ("failed", "Failed", State.FAILED),
        ("canceled", "Cancel", State.CANCELED),
    ],
)
def test_every_raw_state(simulator, phase: str, raw: str, state: State):
    simulator.add_job(CODE, "jstate", pinned=phase)
    status = fetch_one(adapter_for(simulator), "jstate")
    assert (status.state, status.provider_state) == (state, raw)
    assert status.kind == "VoiceSeparate"
    assert status.queue_position is None


def test_unknown_raw_state_is_kept_and_warned(simulator, caplog):
    simulator.add_job(CODE, "jodd", pinned="running", raw_state="Frozen")
    with caplog.at_level(logging.WARNING, logger="jobs.providers.tencent_ci"):
        status = fetch_one(adapter_for(simulator), "jodd")
    assert (status.state, status.provider_state) == (State.UNKNOWN, "Frozen")
    assert "Frozen" in caplog.text


def test_succeeded_job_carries_media_duration_times_and_name(simulator):
    created = int(time.time()) - 100
    job = simulator.add_job(
        CODE,
        "jdone",
        created=float(created),
        queue_seconds=5,
        run_seconds=20,
        name="input/evening-news.mp4",
    )
    status = fetch_one(adapter_for(simulator), "jdone")
    assert status.state is State.SUCCEEDED and status.provider_state == "Success"
    assert status.media_url == sim_of(simulator).media_url(job)
    assert status.progress == 100
    assert status.duration_ms == 12000
    assert status.created_at == datetime.fromtimestamp(created, UTC)
    assert status.started_at == datetime.fromtimestamp(created + 5, UTC)
    assert status.finished_at == datetime.fromtimestamp(created + 25, UTC)
    assert status.kind == "VoiceSeparate"
    assert status.name == "input/evening-news.mp4"
    assert (status.failure_code, status.failure_message) == ("", "")
    assert status.raw["JobId"] == "jdone"
    assert status.raw["Operation"]["Output"]["Bucket"] == "clapboard-demo-1250000000"
    assert status.subtitles_url == "" and status.words == ()


def test_media_is_served_where_the_adapter_points(simulator):
    simulator.add_job(CODE, "jplay", pinned="succeeded")
    status = fetch_one(adapter_for(simulator), "jplay")
    response = http.request("GET", status.media_url)
    assert response.status == 200 and response.body[:4] == b"RIFF"


def test_queued_and_running_jobs_have_no_end(simulator):
    simulator.add_job(CODE, "jq", pinned="queued")
    simulator.add_job(CODE, "jr", pinned="running")
    result = adapter_for(simulator).fetch(["jq", "jr"])
    queued, running = result["jq"], result["jr"]
    assert queued.started_at is None and queued.finished_at is None
    assert queued.progress is None and queued.media_url == ""
    assert running.started_at is not None and running.finished_at is None
    assert running.duration_ms is None


def test_failed_job_reports_job_code_and_message(simulator):
    simulator.add_job(
        CODE,
        "jfail",
        pinned="failed",
        failure_code="DownloadFailed",
        failure_message="Failed to download the input object.",
    )
    status = fetch_one(adapter_for(simulator), "jfail")
    assert status.state is State.FAILED
    assert status.failure_code == "DownloadFailed"
    assert status.failure_message == "Failed to download the input object."
    assert status.media_url == "" and status.finished_at is not None


def test_failed_job_default_codes_come_from_the_catalogue(simulator):
    job = simulator.add_job(CODE, "jfail2", pinned="failed")
    status = fetch_one(adapter_for(simulator), "jfail2")
    assert (status.failure_code, status.failure_message) == sim_of(simulator).failure_for(job)


def test_synthetic_ids_move_with_the_clock(simulator):
    created = int(time.time()) - 10
    external_id = f"sim-{created}-5-20-ok-demo"
    status = fetch_one(adapter_for(simulator), external_id)
    assert status.state is State.RUNNING
    simulator.clock_offset = 30  # the adapter signs with a clock inside the window still
    assert fetch_one(adapter_for(simulator), external_id).state is State.SUCCEEDED


def test_colon_less_offset_becomes_utc():
    status = ci.parse_status(
        {
            "JobId": "j1",
            "State": "Running",
            "CreationTime": "2019-07-07T12:12:12+0800",
            "StartTime": "",
        }
    )
    assert status.created_at == datetime(2019, 7, 7, 4, 12, 12, tzinfo=UTC)
    assert status.started_at is None


def test_times_at_the_ends_of_the_calendar_are_dropped():
    status = ci.parse_status(
        {"JobId": "j1", "State": "Running", "CreationTime": "0001-01-01T00:00:00+0800"}
    )
    assert status.created_at is None


def test_single_and_repeated_jobs_detail_are_both_lists():
    one = ci.parse_jobs_response(
        "<Response><JobsDetail><JobId>a</JobId><State>Running</State></JobsDetail></Response>"
    )
    two = ci.parse_jobs_response(
        "<Response><JobsDetail><JobId>a</JobId><State>Running</State></JobsDetail>"
        "<JobsDetail><JobId>b</JobId><State>Success</State></JobsDetail>"
        "<NextToken>t2</NextToken></Response>"
    )
    assert [d["JobId"] for d in one.details] == ["a"]
    assert [d["JobId"] for d in two.details] == ["a", "b"]
    assert (one.next_token, two.next_token) == ("", "t2")


def test_non_exist_job_ids_as_elements_or_csv():
    page = ci.parse_jobs_response(
        "<Response><NonExistJobIds>a,b</NonExistJobIds><NonExistJobIds>c</NonExistJobIds>"
        "</Response>"
    )
    assert page.missing_ids == ["a", "b", "c"] and page.details == []


def test_output_url_on_the_real_bucket_host():
    output = {
        "Region": "ap-chongqing",
        "Bucket": "test-1234567890",
        "Object": "output/background.mp3",
        "AuObject": "output/vocals 1.mp3",
    }
    assert ci.output_object_url(output) == (
        "https://test-1234567890.cos.ap-chongqing.myqcloud.com/output/vocals%201.mp3"
    )
    assert ci.output_object_url({**output, "AuObject": ""}).endswith("/output/background.mp3")
    assert ci.output_object_url({**output, "AuObject": "out/a.${ext}"}) == ""
    assert ci.output_object_url({**output, "Bucket": "evil.example.com#"}) == ""
    assert ci.output_object_url("nonsense") == ""
    assert ci.output_object_url({**output, "AuObject": "a\ud800"}) == ""


def test_raw_drops_credential_like_keys():
    status = ci.parse_status(
        {
            "JobId": "j1",
            "State": "Submitted",
            "Operation": {"CallBackMqConfig": {"SecretId": "AKIDxyz", "Token": "t"}},
            "x-ci-security-token": "tok",
        }
    )
    assert status.raw == {
        "JobId": "j1",
        "State": "Submitted",
        "Operation": {"CallBackMqConfig": {}},
    }


def test_progress_is_read_when_ci_sends_it():
    status = ci.parse_status({"JobId": "j", "State": "Running", "Progress": "42"})
    assert status.progress == 42


# --- batches -----------------------------------------------------------------------


def test_batch_with_found_and_unknown_ids_is_one_request(simulator):
    simulator.add_job(CODE, "ja", pinned="running")
    simulator.add_job(CODE, "jb", pinned="succeeded")
    simulator.add_job(CODE, "jc", pinned="failed")
    adapter = adapter_for(simulator)
    result = adapter.fetch(["ja", "jgone1", "jb", "jc", "jgone2", "ja"])
    assert simulator.requests[CODE] == 1
    assert set(result) == {"ja", "jb", "jc", "jgone1", "jgone2"}
    assert result["ja"].state is State.RUNNING
    assert result["jb"].state is State.SUCCEEDED
    assert result["jc"].state is State.FAILED
    for gone in ("jgone1", "jgone2"):
        error = result[gone]
        assert isinstance(error, ProviderError)
        assert error.code == NOT_FOUND and error.is_not_found and error.permanent


def test_ids_that_cannot_be_asked_for_are_not_found_without_a_request(simulator):
    result = adapter_for(simulator).fetch(["a,b", "x/y", "", " "])
    assert all(r.code == NOT_FOUND and r.permanent for r in result.values())
    assert CODE not in simulator.requests


def test_large_batches_split_to_keep_urls_reasonable(simulator, sent):
    ids = [f"j{n:031d}" for n in range(120)]
    result = adapter_for(simulator).fetch(ids)
    assert len(result) == 120 and all(r.code == NOT_FOUND for r in result.values())
    assert [len(c["url"].rsplit("/", 1)[1].split(",")) for c in sent] == [50, 50, 20]
    long_ids = [f"j{n:0100d}" for n in range(30)]
    sent.clear()
    adapter_for(simulator).fetch(long_ids)
    assert len(sent) == 2
    assert all(len(c["url"].split("/jobs/", 1)[1]) <= ci.MAX_BATCH_PATH_CHARS for c in sent)


# --- request-level failures --------------------------------------------------------


@pytest.mark.parametrize("skew", [-3600.0, 3600.0])
def test_adapter_clock_outside_the_key_time_window(simulator, skew: float):
    adapter = adapter_for(simulator, clock=lambda: time.time() + skew)
    error = fetch_error(adapter, "jmissing")
    assert (error.code, error.permanent) == ("SignatureExpired", True)


def test_simulator_clock_past_the_window(simulator):
    simulator.clock_offset = 700  # KeyTime ends at now + 600
    error = fetch_error(adapter_for(simulator), "jmissing")
    assert error.code == "SignatureExpired"


def test_retry_after_header_is_honoured():
    body = b"<Error><Code>SlowDown</Code><Message>slow down</Message></Error>"
    error = ci.error_from_response(http.Response(429, {"retry-after": "7"}, body))
    assert (error.code, error.retry_after, error.permanent) == ("SlowDown", 7.0, False)
    odd = ci.error_from_response(http.Response(429, {"Retry-After": "soon"}, body))
    assert odd.retry_after == 1.0


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (403, "QueueSaturated", False),
        (403, "QueuePaused", False),
        (400, "InvalidArgument", True),
        (401, "InvalidAuthorization", True),
        (404, "InvalidUrl", True),
        (503, "ServiceUnavailable", False),
        (500, "InternalErrror", False),
    ],
)
def test_error_classification(status: int, code: str, permanent: bool):
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    error = ci.error_from_response(http.Response(status, {}, body))
    assert (error.code, error.permanent, error.http_status) == (code, permanent, status)
    assert error.retry_after is None


def test_error_messages_redact_secrets():
    body = f"<Error><Code>AccessDenied</Code><Message>bad key {WRONG_SECRET}</Message></Error>"
    error = ci.error_from_response(http.Response(403, {}, body.encode()), secrets=[WRONG_SECRET])
    assert WRONG_SECRET not in str(error) and "AccessDenied" in str(error)


def test_error_document_with_http_200_is_still_an_error(simulator, monkeypatch):
    adapter = adapter_for(simulator)
    body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    monkeypatch.setattr(adapter, "send", lambda *a, **k: http.Response(200, {}, body))
    error = fetch_error(adapter, "jmissing")
    assert (error.code, error.permanent) == ("AccessDenied", True)


def test_jobs_detail_without_job_id_fails_the_whole_answer(simulator, monkeypatch):
    adapter = adapter_for(simulator)
    body = b"<Response><JobsDetail><State>Running</State></JobsDetail></Response>"
    monkeypatch.setattr(adapter, "send", lambda *a, **k: http.Response(200, {}, body))
    assert fetch_error(adapter, "ja").code == "MalformedResponse"


def test_an_id_left_out_of_the_answer_is_a_transient_per_id_error(simulator, monkeypatch):
    adapter = adapter_for(simulator)
    body = b"<Response><JobsDetail><JobId>ja</JobId><State>Running</State></JobsDetail></Response>"
    monkeypatch.setattr(adapter, "send", lambda *a, **k: http.Response(200, {}, body))
    result = adapter.fetch(["ja", "jb"])
    assert result["ja"].state is State.RUNNING
    assert result["jb"].code == "MalformedResponse" and not result["jb"].permanent


# --- hostile XML -------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Response><JobsDetail><JobId>&lol2;</JobId><State>Running</State></JobsDetail></Response>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!doctype r [<!entity xxe SYSTEM "file:///etc/passwd">]><Response>&xxe;</Response>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        "<Response>" * 200 + "</Response>" * 200,
        b"<Response>\xff\xfe</Response>",
        "",
        "<Response><JobsDetail>",
    ],
    ids=["billion-laughs", "external-entity", "deep", "not-utf8", "empty", "truncated"],
)
def test_hostile_or_broken_xml_is_refused(body):
    with pytest.raises(ProviderError) as caught:
        ci.parse_jobs_response(body)
    assert caught.value.code == "MalformedResponse" and not caught.value.permanent


PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://169.254.169.254/x.dtd"> %remote;]><Response/>"""
SYSTEM_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Response>&xxe;</Response>"""
BARE_DOCTYPE = '<?xml version="1.0"?><!DOCTYPE Response><Response><JobsDetail/></Response>'


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, SYSTEM_ENTITY, PARAMETER_ENTITY, BARE_DOCTYPE],
    ids=["billion-laughs", "system-entity", "parameter-entity", "bare-doctype"],
)
def test_declarations_are_refused_by_defusedxml(body):
    with pytest.raises(ProviderError) as caught:
        ci.parse_xml(body)
    assert caught.value.code == "MalformedResponse" and not caught.value.permanent
    assert "DOCTYPE or ENTITY" in caught.value.message


def test_declaration_lookalikes_in_text_are_data_not_refusals():
    # A failure message that quotes an HTML page (CDATA) or a comment is not a DTD: the
    # parser, not a substring search, decides what is a declaration.
    body = (
        "<Response><!-- no <!ENTITY here --><JobsDetail><JobId>j1</JobId>"
        "<State>Failed</State><Code>Upstream</Code>"
        "<Message><![CDATA[<!DOCTYPE html><p>gateway error</p>]]></Message>"
        "</JobsDetail></Response>"
    )
    (detail,) = ci.parse_jobs_response(body).details
    assert detail["Message"] == "<!DOCTYPE html><p>gateway error</p>"
    assert ci.parse_status(detail).failure_code == "Upstream"


def test_hostile_xml_from_the_wire_is_refused(simulator, monkeypatch):
    adapter = adapter_for(simulator)
    monkeypatch.setattr(
        adapter, "send", lambda *a, **k: http.Response(200, {}, BILLION_LAUGHS.encode())
    )
    assert fetch_error(adapter, "jmissing").code == "MalformedResponse"


# --- property tests ----------------------------------------------------------------

TAGS = st.sampled_from(
    [
        "Response",
        "JobsDetail",
        "JobId",
        "State",
        "Code",
        "Message",
        "CreationTime",
        "StartTime",
        "EndTime",
        "Tag",
        "Progress",
        "Input",
        "Object",
        "Operation",
        "Output",
        "AuObject",
        "Bucket",
        "Region",
        "MediaInfo",
        "Format",
        "Duration",
        "NonExistJobIds",
        "NextToken",
        "Error",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "Running",
            "Success",
            "Failed",
            "2019-07-07T12:12:12+0800",
            "0001-01-01T00:00:00+0800",
            "9999-12-31T23:59:59-0800",
            "12.5",
            "nan",
            "1e400",
            "-3",
        ]
    ),
)


def _tree(children):
    return st.builds(
        lambda tag, text, kids: (tag, text, kids), TAGS, TEXTS, st.lists(children, max_size=4)
    )


TREES = st.recursive(st.tuples(TAGS, TEXTS, st.just([])), _tree, max_leaves=25)


def _element(tree) -> ET.Element:
    tag, text, kids = tree
    element = ET.Element(tag)
    element.text = text
    element.extend(_element(kid) for kid in kids)
    return element


def _parse_everything(body) -> None:
    try:
        page = ci.parse_jobs_response(body)
        for detail in page.details:
            assert isinstance(ci.parse_status(detail), JobStatus)
    except ProviderError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_property_any_text_is_a_status_or_provider_error(body):
    _parse_everything(body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_property_any_xml_tree_is_a_status_or_provider_error(tree):
    root = _element(tree)
    root.tag = "Response"
    _parse_everything(ET.tostring(root, encoding="unicode"))


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(TAGS, st.text(max_size=8)), inner, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(JSONISH)
def test_property_any_json_like_detail_is_a_status_or_provider_error(detail):
    try:
        assert isinstance(ci.parse_status(detail), JobStatus)
    except ProviderError:
        pass


# --- credentials check -------------------------------------------------------------


# --- submit ------------------------------------------------------------------------

OUTPUT = {"output_bucket": "clapboard-out-1250000000", "output_region": "ap-guangzhou"}


def test_submit_with_template(simulator, sent):
    adapter = adapter_for(simulator)
    job_id = adapter.submit(
        input_object="input/news.mp4",
        **OUTPUT,
        voice_object="output/voice.mp3",
        template_id="t1460606b9752148c4ab182f55163ba7cd",
    )
    job = simulator.jobs[(CODE, job_id)]
    assert job_id.startswith("j") and job.kind == "VoiceSeparate"
    assert job.owner == sim_of(simulator).demo_credentials["secret_id"]
    assert job.extra["template_id"] == "t1460606b9752148c4ab182f55163ba7cd"
    assert job.extra["queue_id"] == sim_of(simulator).demo_options["queue_id"]
    assert job.extra["output"] == {
        "Region": "ap-guangzhou",
        "Bucket": "clapboard-out-1250000000",
        "Object": "",
        "AuObject": "output/voice.mp3",
    }
    (call,) = sent
    assert call["method"] == "POST" and call["url"] == f"{simulator.url}/jobs"
    assert call["headers"]["Content-Type"] == "application/xml"
    assert call["headers"]["Content-Length"] == str(len(call["body"]))
    fields = auth_fields(call["headers"]["Authorization"])
    assert fields["q-header-list"] == "content-length;content-type;host"
    request = ET.fromstring(call["body"])
    assert request.findtext("Tag") == "VoiceSeparate"
    assert request.find("Operation/VoiceSeparate") is None
    assert request.findtext("QueueId") == sim_of(simulator).demo_options["queue_id"]

    status = fetch_one(adapter, job_id)
    assert status.state is State.QUEUED and status.name == "input/news.mp4"
    simulator.clock_offset = 40
    status = fetch_one(adapter, job_id)
    assert status.state is State.SUCCEEDED
    assert status.media_url == f"{simulator.url}/output/voice.mp3"


# Inline VoiceSeparate settings; the numbers come as ints and as strings alike.
INLINE_AUDIO = {
    "audio_mode": "AudioAndBackground",
    "codec": "mp3",
    "samplerate": 44100,
    "bitrate": "12",
    "channels": 2,
}


def test_submit_with_inline_parameters_and_queue_override(simulator):
    adapter = adapter_for(simulator)
    job_id = adapter.submit(
        input_object="input/song.mp4",
        **OUTPUT,
        background_object="output/bg.mp3",
        voice_object="output/voice.mp3",
        **INLINE_AUDIO,
        queue_id="pother0123",
    )
    job = simulator.jobs[(CODE, job_id)]
    assert job.extra["voice_separate"] == {
        "AudioMode": "AudioAndBackground",
        "AudioConfig": {"Codec": "mp3", "Samplerate": "44100", "Bitrate": "12", "Channels": "2"},
    }
    assert job.extra["queue_id"] == "pother0123"
    status = fetch_one(adapter, job_id)
    assert status.raw["Operation"]["VoiceSeparate"]["AudioMode"] == "AudioAndBackground"


def test_submit_escapes_every_value(simulator):
    tricky = "in/a&b<c>\"d'</Object><Tag>Transcode</Tag>.mp4"
    job_id = adapter_for(simulator).submit(
        input_object=tricky,
        **OUTPUT,
        voice_object="out/<&>.mp3",
        audio_mode="IsAudio",
    )
    job = simulator.jobs[(CODE, job_id)]
    assert job.extra["input_object"] == tricky
    assert job.extra["output"]["AuObject"] == "out/<&>.mp3"
    assert job.kind == "VoiceSeparate"


def test_submit_without_queue_sends_none(simulator, sent):
    sim = sim_of(simulator)
    adapter = adapter_for(simulator, options={"bucket": sim.demo_options["bucket"]})
    adapter.submit(
        input_object="in.mp4",
        **OUTPUT,
        voice_object="v.mp3",
        audio_mode="IsAudio",
    )
    assert ET.fromstring(sent[0]["body"]).find("QueueId") is None


GOOD = {"input_object": "in.mp4", **OUTPUT, "voice_object": "v.mp3", "audio_mode": "IsAudio"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input_object": ""}, "input_object"),
        ({"input_object": "a\x00b"}, "control"),
        ({"output_bucket": "nobucketappid"}, "output_bucket"),
        ({"output_bucket": "evil.com/x-125"}, "output_bucket"),
        ({"output_region": "Beijing!"}, "output_region"),
        ({"voice_object": ""}, "voice_object, background_object"),
        ({"template_id": "t123"}, "not both"),
        ({"audio_mode": ""}, "template_id"),
        ({"audio_mode": "Karaoke"}, "audio_mode"),
        ({"samplerate": "44.1k"}, "samplerate"),
        ({"channels": -2}, "channels"),
        ({"codec": "mp3;rm"}, "codec"),
        ({"queue_id": "p 1"}, "queue id"),
        ({"voice_object": "v" * 900}, "850"),
    ],
)
def test_submit_validates_before_sending(simulator, change: dict, message: str):
    with pytest.raises(ValueError, match=message):
        adapter_for(simulator).submit(**{**GOOD, **change})
    assert CODE not in simulator.requests


def test_submit_failure_is_a_provider_error(simulator):
    simulator.inject("throttle", CODE)
    with pytest.raises(ProviderError) as caught:
        adapter_for(simulator).submit(**GOOD)
    assert caught.value.code == "SlowDown"


# --- listing -----------------------------------------------------------------------


def test_list_jobs_filters_by_state_and_pages(simulator, sent):
    now = time.time()
    for n, phase in enumerate(["succeeded", "running", "succeeded", "failed", "succeeded"]):
        simulator.add_job(CODE, f"jl{n}", pinned=phase, created=now - 100 + n)
    simulator.add_job(CODE, "jforeign", pinned="succeeded", owner="AKIDsomeoneelse")
    adapter = adapter_for(simulator)

    jobs, token = adapter.list_jobs(states=[State.SUCCEEDED], size=2)
    assert [j.external_id for j in jobs] == ["jl4", "jl2"] and token
    more, token2 = adapter.list_jobs(states=[State.SUCCEEDED], size=2, next_token=token)
    assert [j.external_id for j in more] == ["jl0"] and token2 == ""
    assert all(j.state is State.SUCCEEDED for j in jobs + more)

    everything, _ = adapter.list_jobs()
    assert {j.external_id for j in everything} == {f"jl{n}" for n in range(5)}
    failed, _ = adapter.list_jobs(states=["Failed", "Running"])
    assert {j.external_id for j in failed} == {"jl1", "jl3"}

    fields = auth_fields(sent[0]["headers"]["Authorization"])
    assert fields["q-url-param-list"] == "queueid;size;states;tag"
    assert "tag=VoiceSeparate" in sent[0]["url"] and "states=Success&" in sent[0]["url"]


def test_list_jobs_with_one_result_is_a_list(simulator):
    simulator.add_job(CODE, "jsolo", pinned="running")
    jobs, token = adapter_for(simulator).list_jobs(size=5)
    assert [(j.external_id, j.state) for j in jobs] == [("jsolo", State.RUNNING)]
    assert token == ""


@pytest.mark.parametrize(
    "kwargs", [{"size": 0}, {"size": 101}, {"states": ["Bogus"]}, {"tag": "a&b"}]
)
def test_list_jobs_validates(simulator, kwargs: dict):
    with pytest.raises(ValueError):
        adapter_for(simulator).list_jobs(**kwargs)


# --- cancel ------------------------------------------------------------------------


def test_cancel_goes_out_as_the_sdk_sends_it(simulator, sent):
    simulator.add_job(CODE, CI_CANCEL_JOB, pinned="queued")
    adapter = adapter_for(simulator, clock=lambda: 1700000000.0)
    simulator.clock_offset = 1700000000.0 - time.time()
    assert adapter.cancel([CI_CANCEL_JOB])[CI_CANCEL_JOB].accepted
    (call,) = sent
    assert call["method"] == "PUT" and call["body"] == b""
    assert call["url"] == f"{simulator.url}/jobs/{CI_CANCEL_JOB}?cancel"
    fields = auth_fields(call["headers"]["Authorization"])
    assert (fields["q-header-list"], fields["q-url-param-list"]) == ("content-length;host", "")
    assert call["headers"]["Content-Length"] == "0"
    # The same inputs with the SDK's key pair and window give the SDK's Authorization.
    signed = ci.cos_sign(
        DOC_SECRET_ID,
        DOC_SECRET_KEY,
        "PUT",
        f"/jobs/{CI_CANCEL_JOB}",
        {},
        {k: v for k, v in call["headers"].items() if k != "Authorization"} | {"Host": CI_HOST},
        CI_KEY_TIME,
    )
    assert signed.authorization == CI_CANCEL_AUTHORIZATION


def test_cancels_in_one_account_mix_and_one_fetch_shows_them(simulator):
    # CancelMediaJob takes one JobId a call (cancel_batch_size 1): a mix is a run of calls.
    for job_id, pinned in (("jq", "queued"), ("jr", "running"), ("jp", "paused")):
        simulator.add_job(CODE, job_id, pinned=pinned)
    adapter = adapter_for(simulator)
    outcomes = {job_id: adapter.cancel([job_id])[job_id] for job_id in ("jq", "jr", "jp", "jx")}
    assert outcomes["jq"].accepted
    # Only a Submitted job "not yet executed" is cancelled; a paused queue's job is refused.
    for job_id in ("jr", "jp"):
        assert (outcomes[job_id].accepted, outcomes[job_id].code) == (False, "InvalidArgument")
        assert "HTTP 400" in outcomes[job_id].message
    assert not outcomes["jx"].accepted and "does not exist" in outcomes["jx"].message
    assert simulator.requests[CODE] == 4
    fetched = adapter.fetch(["jq", "jr", "jp", "jx"])
    assert simulator.requests[CODE] == 5
    assert [fetched[i].provider_state for i in ("jq", "jr", "jp")] == ["Cancel", "Running", "Pause"]
    assert fetched["jq"].state is State.CANCELED and fetched["jq"].finished_at is not None
    assert fetched["jq"].started_at is None
    assert isinstance(fetched["jx"], ProviderError) and fetched["jx"].code == NOT_FOUND


def test_an_id_ci_could_not_hold_is_refused_without_sending(simulator):
    adapter = adapter_for(simulator)
    outcome = adapter.cancel(["ja,jb"])["ja,jb"]
    assert (outcome.accepted, outcome.code) == (False, NOT_FOUND)
    assert simulator.requests.get(CODE, 0) == 0
