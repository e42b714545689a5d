"""Tencent IVH video maker: signing vectors, normalization and failures over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs import http
from jobs.models import Job
from jobs.providers import tencent_ivh as ivh
from jobs.providers import wire
from jobs.providers.base import NOT_FOUND, JobStatus, ProviderError, Sentence, State, Word
from jobs.providers.tencent_ivh import (
    TencentIvh,
    interpret_response,
    parse_status,
    raise_for_header,
    sign,
    signed_query,
)
from jobs.services import job_track
from jobs.simulator.core import demo_sentences
from jobs.simulator.tencent_ivh import IvhSimulator
from tests.providers import strategies
from tests.providers.harness import fetch_error, fetch_one

CODE = "tencent_ivh"
APPKEY = IvhSimulator.demo_credentials["appkey"]
TOKEN = IvhSimulator.demo_credentials["access_token"]


@pytest.fixture
def adapter(simulator) -> TencentIvh:
    return TencentIvh(credentials=dict(IvhSimulator.demo_credentials), endpoint=simulator.url)


@pytest.fixture
def no_leaks(caplog):
    """Every failure test records its errors here; none may show the access token."""
    caplog.set_level(logging.DEBUG)
    errors: list[ProviderError] = []
    yield errors
    for error in errors:
        assert TOKEN not in str(error)
        assert TOKEN not in error.message
    assert TOKEN not in caplog.text


def leak_checked_error(adapter: TencentIvh, external_id: str, no_leaks: list) -> ProviderError:
    """The fetch's ProviderError, handed to `no_leaks` to be checked for the token."""
    error = fetch_error(adapter, external_id)
    no_leaks.append(error)
    return error


# --- Appendix B vectors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("appkey", "token", "timestamp", "signature", "encoded"),
    [
        (  # IVH-1
            "e38267c0e86411ebb02aed82acb0ed99",
            "f68f2d10ae9e4604b76fb05cf46bccec",
            1646636485,
            "BfWuaC9kmaicCggXc693uK+sZQ8qe88O4HVQNTdwZuo=",
            "BfWuaC9kmaicCggXc693uK%2BsZQ8qe88O4HVQNTdwZuo%3D",
        ),
        (  # IVH-2
            "example_appkey",
            "example_accesstoken",
            1717639699,
            "aCNWYzZdplxWVo+JsqzZc9+J9XrwWWITfX3eQpsLVno=",
            "aCNWYzZdplxWVo%2BJsqzZc9%2BJ9XrwWWITfX3eQpsLVno%3D",
        ),
    ],
)
def test_appendix_b_signatures(appkey, token, timestamp, signature, encoded):
    assert sign(appkey, token, timestamp) == signature
    assert sign(appkey, token, str(timestamp)) == signature
    assert signed_query(appkey, token, timestamp) == (
        f"appkey={appkey}&timestamp={timestamp}&signature={encoded}"
    )


def test_ivh2_final_url_exactly_as_published():
    url = "https://api.example.com/v2/ivh/example_uri?" + signed_query(
        "example_appkey", "example_accesstoken", 1717639699
    )
    assert url == (
        "https://api.example.com/v2/ivh/example_uri?appkey=example_appkey&timestamp=1717639699"
        "&signature=aCNWYzZdplxWVo%2BJsqzZc9%2BJ9XrwWWITfX3eQpsLVno%3D"
    )


def test_hmac_key_is_the_access_token_not_the_message():
    # The docs write HmacSha256(message, key); swapping them gives tpuyH5Rb…
    # (docs/PROVIDERS.md §1.2).
    plain = b"appkey=e38267c0e86411ebb02aed82acb0ed99&timestamp=1646636485"
    swapped = hmac.new(plain, b"f68f2d10ae9e4604b76fb05cf46bccec", hashlib.sha256).digest()
    assert base64.b64encode(swapped).decode().startswith("tpuyH5Rb")
    assert sign(
        "e38267c0e86411ebb02aed82acb0ed99", "f68f2d10ae9e4604b76fb05cf46bccec", 1646636485
    ) != (base64.b64encode(swapped).decode())


# --- schema and URLs -----------------------------------------------------------------


def test_schema_and_limits():
    fields = {f.name: f for f in TencentIvh.credential_fields}
    assert list(fields) == ["appkey", "access_token"]
    assert (fields["appkey"].label, fields["appkey"].secret) == ("AppKey", False)
    assert (fields["access_token"].label, fields["access_token"].secret) == ("AccessToken", True)
    assert TencentIvh.option_fields == ()
    assert TencentIvh.default_rate_limit == 10.0
    assert TencentIvh.batch_size == 1
    assert TencentIvh.retention == timedelta(days=7)
    assert TencentIvh.can_submit is False
    adapter = TencentIvh(credentials={"appkey": "k", "access_token": "t0ken-value"})
    assert adapter.secret_values() == ["t0ken-value"]


@pytest.mark.parametrize(
    ("region", "base"),
    [
        ("", "https://gw.tvs.qq.com"),
        ("ap-guangzhou", "https://gw-sg.tvs.qq.com"),
        ("ap-singapore", "https://gw-sg.tvs.qq.com"),
        ("intl", "https://gw-sg.tvs.qq.com"),
        ("cn", "https://gw.tvs.qq.com"),
    ],
)
def test_default_base_url_by_region(region, base):
    adapter = TencentIvh(credentials={"appkey": "k", "access_token": "t"}, region=region)
    assert adapter.default_base_url() == base
    assert adapter.base_url() == base
    assert adapter.host == base.removeprefix("https://")


def test_endpoint_override_sends_the_signed_url_as_built(simulator, adapter, monkeypatch):
    simulator.add_job(CODE, "task-override", pinned="running")
    now = int(time.time())
    adapter.clock = lambda: now
    sent = []
    real_request = http.request

    def recording(method, url, **kwargs):
        sent.append((method, url, kwargs))
        return real_request(method, url, **kwargs)

    monkeypatch.setattr(http, "request", recording)
    status = fetch_one(adapter, "task-override")

    assert status.state is State.RUNNING
    assert simulator.requests[CODE] == 1
    method, url, kwargs = sent[0]
    assert method == "POST"
    assert adapter.host == simulator.url.removeprefix("http://")
    assert url == f"{simulator.url}{ivh.GETPROGRESS_PATH}?{signed_query(APPKEY, TOKEN, now)}"
    assert kwargs["headers"] == {"Content-Type": "application/json;charset=utf-8"}
    assert json.loads(kwargs["body"]) == {"Header": {}, "Payload": {"TaskId": "task-override"}}
    assert TOKEN in kwargs["secrets"]


def test_simulator_refuses_an_unencoded_signature(simulator):
    # The docs: a signature that is not url-encoded fails authentication ('+' reads as ' ').
    now = int(time.time())
    timestamp = next(t for t in range(now, now + 200) if "+" in sign(APPKEY, TOKEN, t))
    query = f"appkey={APPKEY}&timestamp={timestamp}&signature={sign(APPKEY, TOKEN, timestamp)}"
    response = http.request(
        "POST",
        f"{simulator.url}{ivh.GETPROGRESS_PATH}?{query}",
        headers={"Content-Type": ivh.CONTENT_TYPE},
        body=ivh.request_body("sim-task"),
    )
    assert response.status == 200
    assert json.loads(response.body)["Header"]["Code"] == ivh.CODE_SIGNATURE_INVALID


# --- states ----------------------------------------------------------------------------


def test_commit_is_queued_with_array_count(simulator, adapter):
    simulator.add_job(CODE, "task-queued", pinned="queued", queue_ahead=4)
    status = fetch_one(adapter, "task-queued")
    assert (status.state, status.provider_state) == (State.QUEUED, "COMMIT")
    assert status.queue_position == 4
    assert status.progress == 0
    assert status.media_url == "" and status.words == ()
    assert status.kind == "videomaker"


def test_queue_position_falls_as_the_clock_moves(simulator, adapter):
    simulator.add_job(
        CODE, "task-moving", created=simulator.now() - 10, queue_seconds=100, queue_ahead=10
    )
    first = fetch_one(adapter, "task-moving").queue_position
    simulator.clock_offset = 60  # still inside the ±5 min signature window
    adapter.clock = lambda: time.time() + 60
    second = fetch_one(adapter, "task-moving").queue_position
    assert first == 9
    assert second == 3


def test_making_is_running_with_progress_hint(simulator, adapter):
    simulator.add_job(CODE, "task-making", pinned="running", pinned_progress=42)
    status = fetch_one(adapter, "task-making")
    assert (status.state, status.provider_state) == (State.RUNNING, "MAKING")
    assert status.progress == 42
    assert status.queue_position is None
    assert status.failure_code == ""


def test_reserved_progress_never_finishes_an_unfinished_job(simulator, adapter):
    simulator.add_job(CODE, "task-full", pinned="running", pinned_progress=100)
    status = fetch_one(adapter, "task-full")
    assert status.state is State.RUNNING
    assert status.progress == 99


def test_success_carries_media_subtitles_duration_and_words(simulator, adapter):
    job = simulator.add_job(CODE, "task-done", pinned="succeeded")
    sim = simulator.providers[CODE]
    status = fetch_one(adapter, "task-done")

    assert (status.state, status.provider_state) == (State.SUCCEEDED, "SUCCESS")
    assert status.progress == 100
    assert status.media_url == sim.media_url(job)
    assert status.subtitles_url == sim.subtitles_url(job)
    expected = tuple(
        Sentence(" ".join(w for w, _, _ in words), tuple(Word(*w) for w in words))
        for words in demo_sentences(job)
    )
    assert status.words == expected
    assert status.duration_ms == demo_sentences(job)[-1][-1][2] + 500
    assert status.kind == "videomaker"
    assert status.created_at is None and status.finished_at is None
    assert status.raw["Payload"]["Status"] == "SUCCESS"
    assert status.raw["Header"]["Code"] == 0
    assert TOKEN not in json.dumps(status.raw)


def test_fail_is_failed_with_fail_code_and_message(simulator, adapter):
    simulator.add_job(
        CODE,
        "task-fail",
        pinned="failed",
        failure_code="801005",
        failure_message="content review failed",
    )
    status = fetch_one(adapter, "task-fail")
    assert (status.state, status.provider_state) == (State.FAILED, "FAIL")
    assert status.failure_code == "801005"
    assert status.failure_message == "content review failed"
    assert status.progress is None  # Progress -1 means "failed", not a percentage
    assert status.media_url == ""
    assert status.raw["Payload"]["FailCode"] == 801005


def test_fail_without_explicit_code_uses_a_realistic_one(simulator, adapter):
    simulator.add_job(CODE, "task-fail-2", pinned="failed")
    status = fetch_one(adapter, "task-fail-2")
    codes = dict(IvhSimulator.failure_codes)
    assert status.failure_code in codes
    assert status.failure_message == codes[status.failure_code]


def test_unknown_raw_state_is_kept(simulator, adapter, caplog):
    simulator.add_job(CODE, "task-odd", pinned="running", raw_state="AUDITING")
    status = fetch_one(adapter, "task-odd")
    assert (status.state, status.provider_state) == (State.UNKNOWN, "AUDITING")
    assert "AUDITING" in caplog.text


def test_synthetic_ids_move_through_the_lifecycle(simulator, adapter):
    now = int(simulator.now())
    ok, fail = f"sim-{now - 100}-5-20-ok-a", f"sim-{now - 100}-5-20-fail-b"
    queued = f"sim-{now}-60-20-ok-c"
    results = adapter.fetch([ok, fail, queued])
    assert results[ok].state is State.SUCCEEDED
    assert results[fail].state is State.FAILED
    assert results[queued].state is State.QUEUED


# --- answers without Status (issue 11 item 27) ----------------------------------------

# The getprogress documentation's own response sample, verbatim: it has no Status field.
DOC_SAMPLE = Path(__file__).parent / "fixtures" / "ivh_getprogress_response_sample.json"


def _derived_logs(caplog, external_id: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if external_id in r.getMessage() and "no Status" in r.getMessage()
    ]


def test_the_doc_sample_without_status_keeps_every_field(caplog):
    document = json.loads(DOC_SAMPLE.read_text())
    assert "Status" not in document["Payload"]
    status = parse_status(document, external_id="doc-sample-1")
    assert status.state is State.SUCCEEDED and status.progress == 100
    assert status.provider_state == "SUCCESS (derived from Progress)"
    assert status.duration_ms == 11810
    assert status.media_url == "url"
    (sentence,) = status.words
    assert sentence.text == "How are you doing, virtual anchor?"
    assert sentence.words[0] == Word("how", 450, 610)
    assert sentence.words[-1] == Word("anchor", 1290, 1600)
    assert len(_derived_logs(caplog, "doc-sample-1")) == 1


@pytest.mark.parametrize(
    ("progress", "state", "raw_state", "shown"),
    [
        (100, State.SUCCEEDED, "SUCCESS", 100),
        (-1, State.FAILED, "FAIL", None),
        (0, State.RUNNING, "MAKING", 0),
        (57, State.RUNNING, "MAKING", 57),
        ("99", State.RUNNING, "MAKING", 99),
    ],
)
def test_state_is_derived_from_progress_when_status_is_absent(progress, state, raw_state, shown):
    document = {"Header": {"Code": 0}, "Payload": {"Progress": progress, "FailCode": 0}}
    status = parse_status(document, external_id=f"derived-{progress}")
    assert (status.state, status.progress) == (state, shown)
    assert status.provider_state == f"{raw_state} (derived from Progress)"


@pytest.mark.parametrize("progress", [None, "soon", 101, -2, [100]])
def test_no_status_and_no_usable_progress_is_malformed(progress):
    payload = {} if progress is None else {"Progress": progress}
    with pytest.raises(ProviderError) as info:
        parse_status({"Header": {}, "Payload": payload}, external_id="t")
    assert info.value.code == "MalformedResponse"


def test_status_less_answers_over_http_are_stored_and_logged_once(simulator, accounts, caplog):
    caplog.set_level(logging.WARNING, logger="jobs.providers.tencent_ivh")
    simulator.add_job(CODE, "ivh-nostatus", pinned="succeeded", extra={"omit_status": True})
    account = accounts[CODE]
    (result,) = job_track(account=account, external_ids=["ivh-nostatus"], verify=True)
    assert result.outcome == "tracked"
    job = Job.objects.get(account=account, external_id="ivh-nostatus")
    assert job.state == State.SUCCEEDED and job.progress == 100
    assert job.provider_state == "SUCCESS (derived from Progress)"
    assert job.duration_ms and job.media_url and job.words
    assert "Status" not in job.raw["Payload"]
    for _ in range(3):  # later polls say nothing new in the log
        assert account.adapter().fetch(["ivh-nostatus"])["ivh-nostatus"].state is State.SUCCEEDED
    assert len(_derived_logs(caplog, "ivh-nostatus")) == 1


# --- per-id and request-level failures ----------------------------------------------


@pytest.mark.parametrize("skew", [-600, 600])
def test_clock_skew_beyond_five_minutes_is_refused(simulator, adapter, skew, no_leaks):
    adapter.clock = lambda: time.time() + skew
    error = leak_checked_error(adapter, "task", no_leaks)
    assert error.code == str(ivh.CODE_TIMESTAMP_EXPIRED)
    assert error.permanent


def test_clock_skew_inside_tolerance_works(simulator, adapter):
    simulator.add_job(CODE, "task-skew", pinned="running")
    adapter.clock = lambda: time.time() - 240
    assert fetch_one(adapter, "task-skew").state is State.RUNNING


# --- pure interpretation of answers --------------------------------------------------


def _response(status: int, body: object = b"", **headers: str) -> http.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.Response(status=status, headers=headers, body=data)


def test_http_429_is_throttling_and_honours_retry_after():
    error = pytest.raises(
        ProviderError,
        interpret_response,
        _response(429, b"", **{"Retry-After": "7"}),
        external_id="x",
    ).value
    assert (error.code, error.permanent, error.retry_after, error.http_status) == (
        "HTTP429",
        False,
        7.0,
        429,
    )
    error = pytest.raises(
        ProviderError, interpret_response, _response(429, b"slow down"), external_id="x"
    ).value
    assert error.retry_after == wire.DEFAULT_RETRY_AFTER


def test_frequency_code_honours_retry_after_header():
    body = {"Header": {"Code": ivh.CODE_FREQUENCY_LIMIT, "Message": "too fast"}, "Payload": {}}
    error = pytest.raises(
        ProviderError,
        interpret_response,
        _response(200, body, **{"retry-after": "3"}),
        external_id="x",
    ).value
    assert (error.code, error.retry_after) == (str(ivh.CODE_FREQUENCY_LIMIT), 3.0)


@pytest.mark.parametrize(("status", "permanent"), [(401, True), (403, True), (404, False)])
def test_http_refusals_without_envelope(status, permanent):
    error = pytest.raises(
        ProviderError, interpret_response, _response(status, b"<html/>"), external_id="x"
    ).value
    assert (error.code, error.permanent, error.http_status) == (f"HTTP{status}", permanent, status)


def test_http_refusal_with_envelope_uses_header_code():
    body = {"Header": {"Code": ivh.CODE_SIGNATURE_INVALID, "Message": "bad sig"}}
    error = pytest.raises(
        ProviderError, interpret_response, _response(401, body), external_id="x"
    ).value
    assert (error.code, error.permanent, error.http_status) == (
        str(ivh.CODE_SIGNATURE_INVALID),
        True,
        401,
    )


@pytest.mark.parametrize(
    ("header", "code", "permanent", "throttled"),
    [
        # Undocumented numbers from a live gateway still land in the right bucket.
        ({"Code": 4242, "Message": "Task not exist"}, NOT_FOUND, True, False),
        ({"Code": 999, "Message": "invalid signature"}, "999", True, False),
        ({"Code": "777", "Message": "request frequency limited"}, "777", False, True),
        ({"Code": 31337, "Message": "something odd"}, "31337", False, False),
        ({"Code": ivh.CODE_INVALID_PARAMETER, "Message": "bad TaskId"}, "100004", True, False),
    ],
)
def test_header_code_classification(header, code, permanent, throttled):
    with pytest.raises(ProviderError) as info:
        raise_for_header(header)
    assert info.value.code == code
    assert info.value.permanent is permanent
    assert (info.value.retry_after is not None) is throttled


@pytest.mark.parametrize("header", [{}, {"Code": 0}, {"Code": "0"}, {"Code": None}, {"Code": ""}])
def test_header_ok_values(header):
    raise_for_header(header)


def test_parse_status_tolerates_odd_fields_and_scrubs_credentials():
    document = {
        "Header": {"Code": 0, "Message": "ok", "RequestID": "r1", "Authorization": "x"},
        "Payload": {
            "Status": "SUCCESS",
            "Progress": "not a number",
            "Duration": 11810,
            "MediaUrl": "https://example.invalid/v.mp4",
            "AccessToken": "leak",
            "TextTimestampResult": [
                {
                    "Sentence": "How are you",
                    "Words": [
                        {"Word": "how", "StartTimestamp": 4500000, "EndTimestamp": 6100000},
                        {"Word": "bad", "StartTimestamp": "x", "EndTimestamp": 1},
                        {"Word": "back", "StartTimestamp": 9, "EndTimestamp": 1},
                        "junk",
                    ],
                },
                "junk",
                {"Words": [{"Word": "you", "StartTimestamp": 8200000, "EndTimestamp": 9700000}]},
            ],
        },
    }
    status = parse_status(document, external_id="t")
    assert status.state is State.SUCCEEDED and status.progress == 100
    assert status.duration_ms == 11810
    assert status.words == (
        Sentence("How are you", (Word("how", 450, 610),)),
        Sentence("you", (Word("you", 820, 970),)),
    )
    assert "Authorization" not in status.raw["Header"]
    assert "AccessToken" not in status.raw["Payload"]


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        "text",
        {"Payload": {"Status": "SUCCESS"}},
        {"Header": {}, "Payload": []},
        {"Header": {}, "Payload": {"Status": 3}},
        {"Header": {}, "Payload": {"Status": ""}},
        {"Header": {"Code": [1]}, "Payload": {"Status": "MAKING"}},
    ],
)
def test_malformed_documents(document):
    with pytest.raises(ProviderError) as info:
        parse_status(document, external_id="t")
    assert info.value.code == "MalformedResponse"
    assert not info.value.permanent


# --- properties ----------------------------------------------------------------------

json_values = strategies.json_values()
payload_fields = st.fixed_dictionaries(
    {},
    optional={
        "Status": st.sampled_from(["COMMIT", "MAKING", "SUCCESS", "FAIL", "making", "??"])
        | json_values,
        "Progress": st.integers(-5, 200) | json_values,
        "ArrayCount": st.integers(-3, 50) | json_values,
        "FailCode": st.integers() | json_values,
        "FailMessage": json_values,
        "MediaUrl": json_values,
        "Duration": st.integers() | json_values,
        "TextTimestampResult": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "Sentence": json_values,
                    "Words": st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "Word": json_values,
                                "StartTimestamp": st.integers() | json_values,
                                "EndTimestamp": st.integers() | json_values,
                            },
                        )
                        | json_values,
                        max_size=3,
                    )
                    | json_values,
                },
            )
            | json_values,
            max_size=3,
        )
        | json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "Header": st.fixed_dictionaries(
            {},
            optional={
                "Code": st.sampled_from([0, 0, 100003, "x"]) | json_values,
                "Message": json_values,
            },
        )
        | json_values,
        "Payload": payload_fields | json_values,
    },
)


def _check(document) -> None:
    try:
        status = parse_status(document, external_id="p")
    except ProviderError:
        return
    assert isinstance(status, JobStatus)
    assert isinstance(status.state, State)
    assert status.progress is None or 0 <= status.progress <= 100
    json.dumps(status.raw)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_parse_status_never_crashes_on_arbitrary_json(document):
    _check(document)


@settings(max_examples=200, deadline=None)
@given(envelopes)
def test_parse_status_never_crashes_on_envelope_shapes(document):
    _check(document)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([200, 200, 401, 429, 500, 502]),
    st.binary(max_size=64) | envelopes.map(lambda d: json.dumps(d).encode()),
)
def test_interpret_response_never_crashes(status, body):
    try:
        result = interpret_response(_response(status, body), external_id="p")
    except ProviderError:
        return
    assert isinstance(result, JobStatus)
