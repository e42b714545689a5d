"""Huawei MetaStudio: signer vectors, status normalisation and failures over real HTTP."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs import http
from jobs.providers import signing
from jobs.providers.base import NOT_FOUND, JobStatus, ProviderError, State
from jobs.providers.huawei_metastudio import (
    STATES,
    HuaweiMetaStudio,
    canonical_query,
    canonical_request,
    decode_json,
    error_from_response,
    parse_authorization,
    parse_list,
    parse_status,
    sdk_hmac_sha256_authorization,
    string_to_sign,
)
from jobs.providers.signing import SignedRequest
from jobs.simulator.core import Simulator
from tests.providers import strategies
from tests.providers.harness import fetch_error, fetch_one

CODE = "huawei_metastudio"
DAY = 24 * 3600


# --- helpers ------------------------------------------------------------------------


def demo(simulator: Simulator) -> tuple[dict[str, str], dict[str, str]]:
    sim = simulator.providers[CODE]
    return dict(sim.demo_credentials), dict(sim.demo_options)


def make_adapter(simulator: Simulator, **credentials: str) -> HuaweiMetaStudio:
    creds, options = demo(simulator)
    creds.update(credentials)
    return HuaweiMetaStudio(
        credentials=creds,
        options=options,
        region=simulator.providers[CODE].demo_region,
        endpoint=simulator.url,
    )


@pytest.fixture
def leak_check(simulator: Simulator, caplog: pytest.LogCaptureFixture):
    """Collects ProviderErrors; afterwards asserts no secret reached a message or log."""
    caplog.set_level(logging.DEBUG)
    errors: list[ProviderError] = []
    yield errors
    creds, _ = demo(simulator)
    secrets = [creds["secret_key"], "wrong-secret-key-0000000000"]
    assert errors
    for exc in errors:
        for secret in secrets:
            assert secret not in str(exc)
            assert secret not in exc.message
    for secret in secrets:
        assert secret not in caplog.text


@pytest.fixture
def seen(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> list:
    """The requests the MetaStudio simulator handled (after authentication)."""
    provider = simulator.providers[CODE]
    original = provider.handle
    requests = []

    def spy(request, tenant):
        requests.append(request)
        return original(request, tenant)

    monkeypatch.setattr(provider, "handle", spy)
    return requests


# --- Appendix B vectors -------------------------------------------------------------

HW_DOC_HEADERS = {
    "Content-Type": "application/json",
    "Host": "service.region.example.com",
    "X-Sdk-Date": "20191115T033655Z",
}
HW_DOC_PATH = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
HW_DOC_QUERY = {"limit": 2, "marker": "13551d6b-755d-4757-b956-536f674975c0"}

MS_AK = "EXAMPLEAK1234567890"
MS_SK = "EXAMPLESK1234567890abcdefghijklmnopqrstu"
MS_PROJECT = "0f1a2b3c4d5e6f708192a3b4c5d6e7f8"
MS_HEADERS = {
    "Content-Type": "application/json",
    "Host": "metastudio.cn-north-4.myhuaweicloud.com",
    "X-Sdk-Date": "20240101T000000Z",
    "X-Project-Id": MS_PROJECT,
}
MS_1_QUERY = {
    "offset": 0,
    "limit": 100,
    "state": "WAITING,PROCESSING",
    "sort_key": "create_time",
    "sort_dir": "desc",
}


def test_hw_doc_vector_canonical_request_and_hash():
    canonical = canonical_request("GET", HW_DOC_PATH, HW_DOC_QUERY, HW_DOC_HEADERS)
    assert canonical == (
        "GET\n"
        "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
        "content-type:application/json\n"
        "host:service.region.example.com\n"
        "x-sdk-date:20191115T033655Z\n"
        "\n"
        "content-type;host;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    digest = "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    assert signing.sha256_hex(canonical) == digest
    assert string_to_sign(canonical, "20191115T033655Z") == (
        f"SDK-HMAC-SHA256\n20191115T033655Z\n{digest}"
    )


def test_hw_doc_vector_authorization():
    authorization = sdk_hmac_sha256_authorization(
        "QTWAOYTTINDUT2QVKYUC",
        "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        SignedRequest("GET", HW_DOC_PATH, HW_DOC_QUERY, HW_DOC_HEADERS),
    )
    assert authorization == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
        "SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def test_ms_1_vector_list():
    path = f"/v1/{MS_PROJECT}/digital-human-videos"
    assert canonical_query(MS_1_QUERY) == (
        "limit=100&offset=0&sort_dir=desc&sort_key=create_time&state=WAITING%2CPROCESSING"
    )
    canonical = canonical_request("GET", path, MS_1_QUERY, MS_HEADERS)
    assert canonical == (
        "GET\n"
        f"/v1/{MS_PROJECT}/digital-human-videos/\n"
        "limit=100&offset=0&sort_dir=desc&sort_key=create_time&state=WAITING%2CPROCESSING\n"
        "content-type:application/json\n"
        "host:metastudio.cn-north-4.myhuaweicloud.com\n"
        f"x-project-id:{MS_PROJECT}\n"
        "x-sdk-date:20240101T000000Z\n"
        "\n"
        "content-type;host;x-project-id;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert (
        signing.sha256_hex(canonical)
        == "94275a9345aaacb43e844903f484666b65c7bae27edb8ddb5f4778d8d4222ba7"
    )
    # The same query as a list of pairs signs identically.
    pairs = list(MS_1_QUERY.items())[::-1]
    for query in (MS_1_QUERY, pairs):
        assert sdk_hmac_sha256_authorization(
            MS_AK, MS_SK, SignedRequest("GET", path, query, MS_HEADERS)
        ) == (
            "SDK-HMAC-SHA256 Access=EXAMPLEAK1234567890, "
            "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
            "Signature=24e834008fe9ded96c4a27c75c38a27b9547164e6cb0be47414adb9b76f72b68"
        )


def test_ms_2_vector_show():
    authorization = sdk_hmac_sha256_authorization(
        MS_AK,
        MS_SK,
        SignedRequest("GET", f"/v1/{MS_PROJECT}/digital-human-videos/a1b2c3d4-job", {}, MS_HEADERS),
    )
    assert authorization == (
        "SDK-HMAC-SHA256 Access=EXAMPLEAK1234567890, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=9967dfca96e40f279d3d7d9f0b2d9ff89ddc963ac8d1211c258dd526324f8d19"
    )
    assert parse_authorization(authorization) == (
        MS_AK,
        ["content-type", "host", "x-project-id", "x-sdk-date"],
        "9967dfca96e40f279d3d7d9f0b2d9ff89ddc963ac8d1211c258dd526324f8d19",
    )


# MS-CANCEL-2D / MS-CANCEL-PHOTO (docs/PROVIDERS.md §4.7), computed with the vendor's own
# signer: huaweicloud-sdk-python-v3 at commit 343a486b5c8ab656611159f314df6e575d0f6398
# (2026-08-20), `huaweicloudsdkcore/signer/signer.py` Signer.sign, run in a scratch
# directory on the SdkRequest that MetaStudioClient._cancel2_d_digital_human_video_http_info
# (and _cancel_photo_…) and Client.build_future_request build: POST, no query, body None,
# Content-Type application/json, X-Project-Id and the X-Sdk-Date below; MS-1's AK/SK and
# project. The same script reproduces MS-2 above.
MS_CANCEL_VECTORS = {
    "2d-digital-human-videos": "36a0e6441ea71216d9eb33d3ff44331a08c782fa7ad0911d71cbe1a0b6426ff2",
    "photo-digital-human-videos": "09a3feb6bd21d60d91cd36b20e86a848bf871e938950d86f926e9a4e55acd855",
}


@pytest.mark.parametrize("kind_path", sorted(MS_CANCEL_VECTORS))
def test_ms_cancel_vectors(kind_path):
    path = f"/v1/{MS_PROJECT}/{kind_path}/a1b2c3d4-job/cancel"
    authorization = sdk_hmac_sha256_authorization(
        MS_AK, MS_SK, SignedRequest("POST", path, [], MS_HEADERS, b"")
    )
    assert authorization == (
        "SDK-HMAC-SHA256 Access=EXAMPLEAK1234567890, "
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        f"Signature={MS_CANCEL_VECTORS[kind_path]}"
    )


def test_canonical_query_encodes_lists_and_booleans():
    assert canonical_query([("b", ["z", "a"]), ("a", True), ("c", "x y*~")]) == (
        "a=true&b=a&b=z&c=x%20y%2A~"
    )


# --- the wire -----------------------------------------------------------------------


def test_request_is_signed_with_the_host_actually_sent(simulator, seen):
    simulator.add_job(CODE, "job-1", pinned="running")
    adapter = make_adapter(simulator)
    assert adapter.base_url() == simulator.url
    assert fetch_one(adapter, "job-1").state is State.RUNNING

    (request,) = seen
    creds, options = demo(simulator)
    assert request.header("Host") == urlsplit(simulator.url).netloc
    # Signed with a trailing slash, sent without one; the query as signed.
    assert request.path == f"/v1/{options['project_id']}/digital-human-videos"
    assert request.query == "job_ids=job-1&limit=100&offset=0"
    assert request.header("X-Project-Id") == options["project_id"]
    headers = {
        name: request.header(name)
        for name in ("Content-Type", "Host", "X-Project-Id", "X-Sdk-Date")
    }
    assert request.header("Authorization") == sdk_hmac_sha256_authorization(
        creds["access_key"],
        creds["secret_key"],
        SignedRequest(
            "GET", request.path, [("job_ids", "job-1"), ("limit", "100"), ("offset", "0")], headers
        ),
    )
    assert simulator.requests[CODE] == 1


@pytest.mark.parametrize(
    ("region", "url"),
    [
        ("", "https://metastudio.cn-north-4.myhuaweicloud.com"),
        ("cn-east-3", "https://metastudio.cn-east-3.myhuaweicloud.com"),
        ("ap-southeast-3", "https://metastudio.ap-southeast-3.myhuaweicloud.com"),
    ],
)
def test_default_base_url_by_region(region, url):
    adapter = HuaweiMetaStudio(
        credentials={"access_key": "AK", "secret_key": "SK"},
        options={"project_id": "p"},
        region=region,
    )
    assert adapter.default_base_url() == url
    assert adapter.base_url() == url
    assert adapter.host == urlsplit(url).netloc


def test_bad_region_is_refused_permanently():
    adapter = HuaweiMetaStudio(
        credentials={"access_key": "AK", "secret_key": "SK"},
        options={"project_id": "p"},
        region="evil.example.com/x",
    )
    with pytest.raises(ProviderError) as caught:
        adapter.default_base_url()
    assert caught.value.permanent


def test_schema():
    assert HuaweiMetaStudio.code == CODE
    assert [(f.name, f.secret, f.label) for f in HuaweiMetaStudio.credential_fields] == [
        ("access_key", False, "Access Key (AK)"),
        ("secret_key", True, "Secret Key (SK)"),
        ("callback_key", True, "Callback key (MSS_A)"),
    ]
    assert not HuaweiMetaStudio.credential_fields[2].required
    assert [(f.name, f.secret, f.required, f.label) for f in HuaweiMetaStudio.option_fields] == [
        ("project_id", False, True, "Project ID")
    ]
    assert HuaweiMetaStudio.default_rate_limit == 10.0
    assert HuaweiMetaStudio.batch_size == 100
    assert HuaweiMetaStudio.retention == timedelta(days=30)
    assert HuaweiMetaStudio.can_submit is False
    with pytest.raises(ValueError, match="project_id"):
        HuaweiMetaStudio.validate_settings({"access_key": "a", "secret_key": "b"}, {})


# --- states and fields --------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "raw", "state"),
    [
        ("queued", "WAITING", State.QUEUED),
        ("running", "PROCESSING", State.RUNNING),
        ("paused", "BLOCK", State.PAUSED),
        ("succeeded", "SUCCEED", State.SUCCEEDED),
        ("failed", "FAILED", State.FAILED),
        ("canceled", "CANCELED", State.CANCELED),
    ],
)
def test_every_state_normalises(simulator, phase, raw, state):
    simulator.add_job(CODE, "job-1", pinned=phase)
    status = fetch_one(make_adapter(simulator), "job-1")
    assert (status.state, status.provider_state) == (state, raw)
    assert status.raw["state"] == raw


def test_success_spelling_from_the_docs_example(simulator):
    simulator.add_job(CODE, "job-1", pinned="succeeded", extra={"success_spelling": "SUCCESS"})
    simulator.add_job(CODE, "job-2", pinned="running", raw_state="SUCCESS")
    results = make_adapter(simulator).fetch(["job-1", "job-2"])
    for job_id in ("job-1", "job-2"):
        assert results[job_id].state is State.SUCCEEDED
        assert results[job_id].provider_state == "SUCCESS"


def test_unknown_raw_state_is_kept(simulator, caplog):
    simulator.add_job(CODE, "job-1", raw_state="ARCHIVING")
    status = fetch_one(make_adapter(simulator), "job-1")
    assert status.state is State.UNKNOWN
    assert status.provider_state == "ARCHIVING"
    assert "ARCHIVING" in caplog.text


def test_succeeded_job_fields(simulator):
    created = float(int(simulator.now()) - 3600)
    simulator.add_job(
        CODE,
        "job-1",
        created=created,
        queue_seconds=5,
        run_seconds=20,
        pinned="succeeded",
        kind="2D_DIGITAL_HUMAN_VIDEO",
        name="Morning brief",
        extra={"duration": 61.25},
    )
    status = fetch_one(make_adapter(simulator), "job-1")
    sim = simulator.providers[CODE]
    job = simulator.jobs[(CODE, "job-1")]
    assert status.state is State.SUCCEEDED
    assert status.progress == 100
    assert status.media_url == sim.media_url(job)
    assert status.cover_url == sim.cover_url(job)
    assert status.subtitles_url == ""
    assert status.duration_ms == 61250
    assert status.kind == "2D_DIGITAL_HUMAN_VIDEO"
    assert status.name == "Morning brief"
    assert status.created_at == datetime.fromtimestamp(created, UTC)
    assert status.started_at == datetime.fromtimestamp(created + 5, UTC)
    assert status.finished_at == datetime.fromtimestamp(created + 25, UTC)
    assert status.failure_code == ""
    assert status.queue_position is None


def test_failed_job_carries_error_info(simulator):
    simulator.add_job(
        CODE,
        "job-1",
        pinned="failed",
        failure_code="MSS.00000005",
        failure_message="video rendering failed",
    )
    simulator.add_job(CODE, "job-2", pinned="failed")
    results = make_adapter(simulator).fetch(["job-1", "job-2"])
    assert results["job-1"].state is State.FAILED
    assert (results["job-1"].failure_code, results["job-1"].failure_message) == (
        "MSS.00000005",
        "video rendering failed",
    )
    assert results["job-1"].media_url == ""
    codes = dict(simulator.providers[CODE].failure_codes)
    assert results["job-2"].failure_code in codes
    assert results["job-2"].failure_message == codes[results["job-2"].failure_code]


@pytest.mark.parametrize("job_type", ["PHOTO_DIGITAL_HUMAN_VIDEO", "DIGITAL_HUMAN_PHOTO_VIDEO"])
def test_both_photo_spellings_are_one_kind(simulator, job_type):
    simulator.add_job(CODE, "job-1", kind=job_type, pinned="running")
    status = fetch_one(make_adapter(simulator), "job-1")
    assert status.kind == "PHOTO_DIGITAL_HUMAN_VIDEO"
    assert status.raw["job_type"] == job_type


def test_job_moves_with_the_clock(simulator):
    simulator.add_job(CODE, "job-1", queue_seconds=60, run_seconds=60, outcome="succeeded")
    adapter = make_adapter(simulator)
    first = fetch_one(adapter, "job-1")
    assert (first.state, first.started_at) == (State.QUEUED, None)
    simulator.clock_offset = 90
    second = fetch_one(adapter, "job-1")
    assert second.state is State.RUNNING
    assert second.started_at is not None and second.finished_at is None
    simulator.clock_offset = 130
    assert fetch_one(adapter, "job-1").state is State.SUCCEEDED


def test_synthetic_ids_are_answered(simulator):
    created = int(simulator.now()) - 100
    job_id = f"sim-{created}-10-20-cancel-abc"
    status = fetch_one(make_adapter(simulator), job_id)
    assert status.state is State.CANCELED


# --- batches and not-found ----------------------------------------------------------


def test_batch_with_found_and_unknown_ids(simulator, seen):
    simulator.add_job(CODE, "job-1", pinned="succeeded")
    simulator.add_job(CODE, "job-2", pinned="queued")
    simulator.add_job(CODE, "theirs", pinned="running", owner="SOMEONE-ELSES-AK")
    results = make_adapter(simulator).fetch(["job-1", "missing", "job-2", "theirs", "a,b"])
    assert list(results) == ["job-1", "missing", "job-2", "theirs", "a,b"]
    assert results["job-1"].state is State.SUCCEEDED
    assert results["job-2"].state is State.QUEUED
    for job_id in ("missing", "theirs", "a,b"):
        error = results[job_id]
        assert isinstance(error, ProviderError)
        assert error.code == NOT_FOUND and error.permanent and error.is_not_found
    assert len(seen) == 1
    assert seen[0].params["job_ids"] == ["job-1,missing,job-2,theirs"]


def test_more_than_one_page_of_ids(simulator, seen):
    ids = [f"job-{n:03}" for n in range(150)]
    for job_id in ids[::7]:
        simulator.add_job(CODE, job_id, pinned="running")
    results = make_adapter(simulator).fetch(ids)
    assert len(seen) == 2
    assert all(int(r.params["limit"][0]) == 100 for r in seen)
    assert sum(isinstance(r, JobStatus) for r in results.values()) == len(ids[::7])
    assert sum(isinstance(r, ProviderError) for r in results.values()) == 150 - len(ids[::7])


def test_jobs_older_than_a_month_drop_out(simulator):
    now = simulator.now()
    simulator.add_job(CODE, "old", created=now - 31 * DAY, pinned="succeeded")
    simulator.add_job(CODE, "recent", created=now - 29 * DAY, pinned="succeeded")
    adapter = make_adapter(simulator)
    results = adapter.fetch(["old", "recent"])
    assert results["old"].code == NOT_FOUND
    assert results["recent"].state is State.SUCCEEDED
    # An explicit create_since reaches further back.
    since = (datetime.fromtimestamp(now, UTC) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = adapter._list([("job_ids", "old"), ("create_since", since)])
    assert [job["job_id"] for job in payload["jobs"]] == ["old"]


def test_empty_fetch_sends_nothing(simulator, seen):
    assert make_adapter(simulator).fetch([]) == {}
    assert seen == []


# --- the simulator's list filters ---------------------------------------------------


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_list_filters_and_pagination(simulator):
    now = int(simulator.now())
    for n, phase in enumerate(["queued", "running", "succeeded", "failed", "queued"]):
        simulator.add_job(
            CODE,
            f"job-{n}",
            created=float(now - 1000 + n * 10),
            pinned=phase,
            kind="2D_DIGITAL_HUMAN_VIDEO" if n % 2 else "DIGITAL_HUMAN_PHOTO_VIDEO",
        )
    adapter = make_adapter(simulator)

    everything = adapter._list([("limit", 100)])
    assert everything["count"] == 5
    assert [j["job_id"] for j in everything["jobs"]] == [f"job-{n}" for n in range(5)]
    assert adapter._list([])["count"] == 5  # default limit 10

    page = adapter._list([("limit", 2), ("offset", 1), ("sort_dir", "desc")])
    assert page["count"] == 5
    assert [j["job_id"] for j in page["jobs"]] == ["job-3", "job-2"]

    waiting = adapter._list(MS_1_QUERY)
    assert [j["job_id"] for j in waiting["jobs"]] == ["job-4", "job-1", "job-0"]
    assert {j["state"] for j in waiting["jobs"]} == {"WAITING", "PROCESSING"}

    assert adapter._list([("state", "SUCCESS")])["jobs"][0]["job_id"] == "job-2"
    assert adapter._list([("job_id", "job-3")])["jobs"][0]["state"] == "FAILED"
    photos = adapter._list([("job_type", "PHOTO_DIGITAL_HUMAN_VIDEO")])
    assert [j["job_id"] for j in photos["jobs"]] == ["job-0", "job-2", "job-4"]

    window = adapter._list([("create_since", stamp(now - 985)), ("create_until", stamp(now - 965))])
    assert [j["job_id"] for j in window["jobs"]] == ["job-2", "job-3"]


@pytest.mark.parametrize(
    "query",
    [
        [("limit", 0)],
        [("limit", 101)],
        [("limit", "ten")],
        [("offset", -1)],
        [("sort_dir", "sideways")],
        [("create_since", "yesterday")],
    ],
)
def test_list_rejects_bad_parameters(simulator, query, leak_check):
    with pytest.raises(ProviderError) as caught:
        make_adapter(simulator)._list(query)
    leak_check.append(caught.value)
    assert caught.value.code == "MSS.00000003"
    assert caught.value.http_status == 400
    assert caught.value.permanent


def signed_call(simulator: Simulator, method: str, tail: str) -> http.Response:
    """One request the adapter has no method for, signed as it signs: `tail` is the path
    after the demo project's `/v1/{project_id}/`."""
    creds, options = demo(simulator)
    path = f"/v1/{options['project_id']}/{tail}"
    headers = {
        "Content-Type": "application/json",
        "Host": make_adapter(simulator).host,
        "X-Project-Id": options["project_id"],
        "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
    }
    headers["Authorization"] = sdk_hmac_sha256_authorization(
        creds["access_key"], creds["secret_key"], SignedRequest(method, path, {}, headers)
    )
    return http.request(method, simulator.url + path, headers=headers)


def test_show_calls_answer_by_job_type(simulator):
    simulator.add_job(CODE, "job-2d", kind="2D_DIGITAL_HUMAN_VIDEO", pinned="succeeded")

    def show(kind_path: str) -> http.Response:
        return signed_call(simulator, "GET", f"{kind_path}/job-2d")

    found = show("2d-digital-human-videos")
    assert found.status == 200
    assert parse_status(json.loads(found.body)).state is State.SUCCEEDED
    wrong_type = show("photo-digital-human-videos")
    assert wrong_type.status == 404
    assert json.loads(wrong_type.body)["error_code"] == "MSS.00000002"


# --- request-level failures ---------------------------------------------------------


def test_wrong_project_header_fails_the_gateway(simulator, leak_check):
    creds, _ = demo(simulator)
    adapter = HuaweiMetaStudio(
        credentials=creds, options={"project_id": "0" * 32}, endpoint=simulator.url
    )
    error = fetch_error(adapter, "job-1")
    leak_check.append(error)
    assert (error.code, error.permanent) == ("APIGW.0301", True)


def test_injected_clock_skew(simulator, leak_check):
    simulator.inject("clock_skew", CODE)
    error = fetch_error(make_adapter(simulator), "job-1")
    leak_check.append(error)
    assert (error.code, error.permanent, error.http_status) == ("APIGW.0301", True, 401)


@pytest.mark.parametrize(("offset", "accepted"), [(14 * 60, True), (-16 * 60, False)])
def test_sdk_date_tolerance_is_fifteen_minutes(simulator, offset, accepted):
    simulator.add_job(CODE, "job-1", pinned="running")
    adapter = make_adapter(simulator)
    adapter.clock = lambda: simulator.now() + offset
    if accepted:
        assert fetch_one(adapter, "job-1").state is State.RUNNING
    else:
        assert fetch_error(adapter, "job-1").code == "APIGW.0301"


# --- the five-strike lockout --------------------------------------------------------

LOCKED = "AK access failed to reach the limit"


def test_five_bad_signatures_lock_the_key_for_five_minutes(simulator, leak_check):
    simulator.add_job(CODE, "job-1", pinned="running")
    good = make_adapter(simulator)
    bad = make_adapter(simulator, secret_key="wrong-secret-key-0000000000")
    for _ in range(5):
        error = fetch_error(bad, "job-1")
        leak_check.append(error)
        assert "verify aksk signature fail" in error.message
    # Now even correctly signed requests are refused, and still permanently.
    locked = fetch_error(good, "job-1")
    leak_check.append(locked)
    assert (locked.code, locked.permanent) == ("APIGW.0301", True)
    assert LOCKED in locked.message
    simulator.clock_offset = 4 * 60
    assert LOCKED in fetch_error(good, "job-1").message
    simulator.clock_offset = 5 * 60 + 1
    assert fetch_one(good, "job-1").state is State.RUNNING
    # The count starts again after the lock ran out.
    assert "verify aksk" in fetch_error(bad, "job-1").message
    assert fetch_one(good, "job-1").state is State.RUNNING


def test_a_good_request_resets_the_strike_count(simulator, leak_check):
    simulator.add_job(CODE, "job-1", pinned="running")
    good = make_adapter(simulator)
    bad = make_adapter(simulator, secret_key="wrong-secret-key-0000000000")
    for _ in range(4):
        leak_check.append(fetch_error(bad, "job-1"))
    fetch_one(good, "job-1")
    for _ in range(4):
        leak_check.append(fetch_error(bad, "job-1"))
    assert fetch_one(good, "job-1").state is State.RUNNING


def test_lockout_does_not_survive_a_simulator_reset(simulator):
    bad = make_adapter(simulator, secret_key="wrong-secret-key-0000000000")
    for _ in range(5):
        fetch_error(bad, "job-1")
    simulator.reset()
    simulator.add_demo_tenants()
    simulator.add_job(CODE, "job-1", pinned="queued")
    assert fetch_one(make_adapter(simulator), "job-1").state is State.QUEUED


# --- error mapping (pure) -----------------------------------------------------------


def error_for(status: int, body: object, **headers: str) -> ProviderError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return error_from_response(http.Response(status, headers, raw), ["TOPSECRETSK"])


def test_retry_after_header_wins():
    error = error_for(429, {"error_code": "APIGW.0308", "error_msg": "x"}, **{"retry-after": "7"})
    assert (error.retry_after, error.permanent) == (7.0, False)
    assert error_for(429, b"slow down").retry_after == 1.0


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (401, "APIG.0301", True),
        (401, "APIGW.0301", True),
        (401, "MSS.00000001", True),
        (400, "MSS.00000003", True),
        (404, "MSS.00000002", True),
        (500, "MSS.00000004", False),
        (503, "", False),
    ],
)
def test_error_codes(status, code, permanent):
    error = error_for(status, {"error_code": code, "error_msg": "why TOPSECRETSK"})
    assert error.code == (code or f"HTTP{status}")
    assert error.permanent is permanent
    assert error.http_status == status
    assert "TOPSECRETSK" not in str(error)


# --- parsers ------------------------------------------------------------------------


def test_parse_status_strips_credential_like_keys():
    status = parse_status(
        {
            "job_id": "j",
            "state": "SUCCEED",
            "Authorization": "SDK-HMAC-SHA256 x",
            "output_asset_config": {"secret_key": "s", "cover_url": "https://c/x.png"},
            "X-Security-Token": "t",
            "duration": float("nan"),
        }
    )
    assert status.raw == {
        "job_id": "j",
        "state": "SUCCEED",
        "output_asset_config": {"cover_url": "https://c/x.png"},
        "duration": None,
    }
    assert status.cover_url == "https://c/x.png"
    assert status.duration_ms is None


def test_the_docs_list_example_parses():
    # The response example of ListDigitalHumanVideo (docs/PROVIDERS.md §4.3, reference/).
    body = (
        b'{ "count" : 1, "jobs" : [ { "job_id" : "26f06524-4f75-4b3a-a853-b649a21aaf66",'
        b' "state" : "SUCCEED", "start_time" : "2022-01-18T16:29:36Z",'
        b' "end_time" : "2022-01-18T16:30:36Z", "duration" : 60, "output_asset_config" :'
        b' { "asset_id" : "942e65a5fd219a2e01fb08d881cfadb9", "asset_name" : "One Day",'
        b' "cover_url" : "https://example/cover.png" }, "error_info" : null,'
        b' "create_time" : "2022-11-30T06:59:56Z", "lastupdate_time" : "2022-11-30T07:00:09Z" } ] }'
    )
    (status,) = parse_list(decode_json(body))
    assert status.state is State.SUCCEEDED
    assert status.duration_ms == 60_000
    assert status.name == "One Day"
    assert status.started_at == datetime(2022, 1, 18, 16, 29, 36, tzinfo=UTC)
    assert status.created_at == datetime(2022, 11, 30, 6, 59, 56, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"NaN", b'{"jobs": [Infinity]}', b"[" * 100_000, b"\xff"])
def test_decode_json_refuses_non_json(body):
    with pytest.raises(ProviderError) as caught:
        decode_json(body)
    assert caught.value.code == "MalformedResponse"
    assert not caught.value.permanent


json_values = strategies.json_values(text_size=30, key_size=12, max_leaves=25)
time_like = (
    st.sampled_from(
        ["2022-01-18T16:29:36Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:00", ""]
    )
    | json_values
)
job_like = st.fixed_dictionaries(
    {},
    optional={
        "job_id": st.text(max_size=10) | json_values,
        "state": st.sampled_from([*STATES, "ARCHIVED"]) | json_values,
        "job_type": st.sampled_from(["2D_DIGITAL_HUMAN_VIDEO", "DIGITAL_HUMAN_PHOTO_VIDEO"])
        | json_values,
        "start_time": time_like,
        "end_time": time_like,
        "create_time": time_like,
        "duration": st.floats() | st.integers() | st.text(max_size=8) | json_values,
        "output_asset_config": st.fixed_dictionaries(
            {},
            optional={
                k: json_values
                for k in ("asset_name", "cover_url", "preview_video_url", "secret_key")
            },
        )
        | json_values,
        "error_info": st.fixed_dictionaries(
            {}, optional={"error_code": json_values, "error_msg": json_values}
        )
        | json_values,
    },
)


def assert_plain_status(status: JobStatus) -> None:
    assert isinstance(status, JobStatus)
    assert isinstance(status.state, State)
    json.dumps(status.raw, allow_nan=False)  # storable as plain JSON


@settings(max_examples=200, deadline=None)
@given(payload=job_like | json_values)
def test_parse_status_never_crashes(payload):
    try:
        status = parse_status(payload, external_id="fallback")
    except ProviderError as exc:
        assert exc.code == "MalformedResponse"
        return
    assert_plain_status(status)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.fixed_dictionaries(
        {"count": json_values, "jobs": st.lists(job_like | json_values, max_size=4)}
    )
    | json_values
)
def test_parse_list_never_crashes(payload):
    try:
        statuses = parse_list(payload)
    except ProviderError as exc:
        assert exc.code == "MalformedResponse"
        return
    for status in statuses:
        assert_plain_status(status)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=200), status=st.integers(min_value=300, max_value=599))
def test_decoders_never_crash_on_bytes(body, status):
    try:
        parse_list(decode_json(body))
    except ProviderError as exc:
        assert exc.code == "MalformedResponse"
    error = error_from_response(http.Response(status, {}, body))
    assert isinstance(error, ProviderError) and error.http_status == status


# --- cancel -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_type", "kind_path"),
    [
        ("2D_DIGITAL_HUMAN_VIDEO", "2d-digital-human-videos"),
        ("PHOTO_DIGITAL_HUMAN_VIDEO", "photo-digital-human-videos"),
        ("DIGITAL_HUMAN_PHOTO_VIDEO", "photo-digital-human-videos"),
    ],
)
def test_cancel_lists_the_job_then_posts_its_types_path(simulator, seen, job_type, kind_path):
    simulator.add_job(CODE, "job-w", kind=job_type, pinned="queued")
    adapter = make_adapter(simulator)
    assert adapter.cancel(["job-w"])["job-w"].accepted
    listing, cancel = seen
    assert (listing.method, urlsplit(listing.path).path) == (
        "GET",
        f"/v1/{adapter.project_id}/digital-human-videos",
    )
    assert (cancel.method, cancel.path, cancel.query, cancel.body) == (
        "POST",
        f"/v1/{adapter.project_id}/{kind_path}/job-w/cancel",
        "",
        b"",
    )
    _, names, _ = parse_authorization(cancel.header("Authorization"))
    assert names == ["content-type", "host", "x-project-id", "x-sdk-date"]
    status = fetch_one(adapter, "job-w")
    assert (status.state, status.provider_state) == (State.CANCELED, "CANCELED")


def test_a_job_the_list_does_not_show_is_not_found_and_nothing_is_posted(simulator, seen):
    simulator.add_job(CODE, "job-old", pinned="queued", created=time.time() - 40 * DAY)
    outcome = make_adapter(simulator).cancel(["job-old"])["job-old"]
    assert (outcome.accepted, outcome.code) == (False, NOT_FOUND)
    assert [request.method for request in seen] == ["GET"]
    assert simulator.truth(CODE, "job-old").phase.value == "queued"


def test_a_job_type_without_a_cancel_call_is_refused_without_posting(simulator, seen):
    simulator.add_job(CODE, "job-3d", kind="3D_DIGITAL_HUMAN_VIDEO", pinned="queued")
    outcome = make_adapter(simulator).cancel(["job-3d"])["job-3d"]
    assert (outcome.accepted, outcome.code) == (False, "UnknownJobType")
    assert "3D_DIGITAL_HUMAN_VIDEO" in outcome.message
    assert [request.method for request in seen] == ["GET"]


def test_the_simulators_cancel_answers_by_type_and_state(simulator):
    simulator.add_job(CODE, "job-2d", kind="2D_DIGITAL_HUMAN_VIDEO", pinned="queued")
    simulator.add_job(CODE, "job-run", kind="2D_DIGITAL_HUMAN_VIDEO", pinned="running")

    def cancel(kind_path: str, job_id: str) -> http.Response:
        return signed_call(simulator, "POST", f"{kind_path}/{job_id}/cancel")

    wrong_type = cancel("photo-digital-human-videos", "job-2d")
    assert (wrong_type.status, json.loads(wrong_type.body)["error_code"]) == (404, "MSS.00000002")
    running = cancel("2d-digital-human-videos", "job-run")
    assert (running.status, json.loads(running.body)["error_code"]) == (400, "MSS.00000003")
    accepted = cancel("2d-digital-human-videos", "job-2d")
    assert (accepted.status, accepted.body) == (200, b"")
    assert accepted.headers["X-Request-Id"]
    again = cancel("2d-digital-human-videos", "job-2d")
    assert again.status == 400  # canceled is not waiting
