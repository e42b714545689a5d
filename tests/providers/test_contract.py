"""The provider contract, for every adapter in the registry, over real HTTP to the simulator.

What each provider says differs (its codes and statuses are in WIRE and CANCEL); what
the adapter does with it does not: unknown jobs are per-id NOT_FOUND, refused credentials
are permanent, throttling carries `retry_after`, broken answers and transport failures are
transient and one-off, a cancel is one outcome per job or a ProviderError for the whole
request, and no error or log line shows a secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pytest

from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import (
    MALFORMED,
    NOT_FOUND,
    CancelOutcome,
    Provider,
    ProviderError,
    State,
)
from jobs.providers.status import MAX_CANCEL_MESSAGE_CHARS
from jobs.simulator.core import Phase, Simulator
from tests.providers.harness import fetch_error, fetch_one

WRONG_SECRET = "wrong-secret-value-0000000000000"
UNKNOWN_KEY = "unknownkey000000000000000000"


# Broken answers every provider turns into the same codes: (fault, code, HTTP status).
COMMON_FAULTS: tuple[tuple[str, str, int | None], ...] = (
    ("http_502_html", "HTTP502", 502),
    ("reset", "ConnectionError", None),
    ("truncated", MALFORMED, 200),
    ("not_json", MALFORMED, 200),
    ("wrong_shape", MALFORMED, 200),
    ("huge", "ResponseTooLarge", None),
)


@dataclass(frozen=True)
class Wire:
    """What one provider answers in each situation: (code, HTTP status or None)."""

    http_500: tuple[str, int]
    throttle: tuple[str, int]
    bad_signature: str
    clock_skew: tuple[str, bool]
    wrong_secret: tuple[str, int | None]
    unknown_key: tuple[str, int | None]
    # Text the provider's own answer puts in the message of that situation.
    says: dict[str, str] = field(default_factory=dict)
    # The HTTP status on the error for a well-formed answer of the wrong shape: None
    # where the adapter finds the fault after the exchange, while reading the jobs.
    wrong_shape_status: int | None = 200
    # (fault, code, HTTP status or None) for everything else that can break.
    faults: tuple[tuple[str, str, int | None], ...] = ()


WIRE = {
    "tencent_ivh": Wire(
        http_500=("100500", 500),
        throttle=("100005", 200),
        bad_signature="100003",
        clock_skew=("100002", True),
        wrong_secret=("100003", None),
        unknown_key=("100001", None),
        says={"not_found": "110001"},
    ),
    "tencent_vod": Wire(
        # API 3.0 answers every error with HTTP 200 and a Response.Error.
        http_500=("InternalError", 200),
        throttle=("RequestLimitExceeded", 200),
        bad_signature="AuthFailure.SignatureFailure",
        clock_skew=("AuthFailure.SignatureExpire", True),
        wrong_secret=("AuthFailure.SignatureFailure", None),
        unknown_key=("AuthFailure.SecretIdNotFound", None),
        says={"not_found": "InvalidParameterValue.TaskId"},
        wrong_shape_status=None,
    ),
    "tencent_ci": Wire(
        http_500=("InternalError", 500),
        throttle=("SlowDown", 429),
        bad_signature="AccessDenied",
        clock_skew=("SignatureExpired", True),
        wrong_secret=("AccessDenied", 403),
        unknown_key=("SecretidNotExist", 401),
        wrong_shape_status=None,
        # A gateway's HTML page is no COS error document.
        faults=(("http_502_html", MALFORMED, 502), *COMMON_FAULTS[1:]),
    ),
    "huawei_metastudio": Wire(
        http_500=("MSS.00000004", 500),
        throttle=("APIGW.0308", 429),
        bad_signature="APIGW.0301",
        clock_skew=("APIGW.0301", True),
        wrong_secret=("APIGW.0301", 401),
        unknown_key=("APIGW.0301", None),
        says={"wrong_secret": "verify aksk signature fail", "unknown_key": "ak not exist"},
        wrong_shape_status=None,
    ),
    "aliyun_ice": Wire(
        http_500=("InternalError", 500),
        throttle=("Throttling.User", 400),
        bad_signature="SignatureDoesNotMatch",
        # Not the credentials' fault: this host's clock is off, and the message says so.
        clock_skew=("InvalidTimeStamp.Expired", False),
        wrong_secret=("SignatureDoesNotMatch", 400),
        unknown_key=("InvalidAccessKeyId.NotFound", 404),
        says={"not_found": "ResourceNotFound", "clock_skew": "clock"},
    ),
}

CODES = list(PROVIDERS)


def test_every_registered_provider_has_a_contract_row():
    assert set(WIRE) == set(PROVIDERS)


def make_adapter(simulator: Simulator, code: str, **credentials: str) -> Provider:
    sim = simulator.providers[code]
    return provider_class(code)(
        credentials={**sim.demo_credentials, **credentials},
        options=dict(sim.demo_options),
        region=sim.demo_region,
        endpoint=simulator.url,
    )


def secret_fields(code: str) -> list[str]:
    return [f.name for f in provider_class(code).credential_fields if f.secret]


@pytest.fixture
def leaks(simulator, caplog):
    """Errors a test records here, and every log line, must show no secret value."""
    caplog.set_level(logging.DEBUG)
    recorded: list[tuple[ProviderError, list[str]]] = []
    yield recorded
    for error, secrets in recorded:
        for secret in secrets:
            assert secret not in str(error) and secret not in error.message
            assert secret not in caplog.text


def request_error(adapter: Provider, leaks: list, external_id: str = "job-1") -> ProviderError:
    """The fetch's ProviderError, handed to `leaks` with the secrets it must not show."""
    error = fetch_error(adapter, external_id)
    leaks.append((error, [*adapter.secret_values(), WRONG_SECRET]))
    return error


# --- jobs the provider does not know -------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_an_unknown_job_is_a_per_id_not_found(simulator, leaks, code):
    adapter = make_adapter(simulator, code)
    error = adapter.fetch(["no-such-job"])["no-such-job"]
    assert isinstance(error, ProviderError)
    leaks.append((error, adapter.secret_values()))
    assert error.code == NOT_FOUND and error.is_not_found and error.permanent
    assert WIRE[code].says.get("not_found", "") in str(error)


@pytest.mark.parametrize("code", CODES)
def test_found_unknown_and_other_tenants_jobs_mix_in_one_fetch(simulator, code):
    simulator.add_job(code, "job-a", pinned="succeeded")
    simulator.add_job(code, "job-b", pinned="queued")
    simulator.add_job(code, "job-theirs", pinned="running", owner="someone-else")
    adapter = make_adapter(simulator, code)
    results = adapter.fetch(["job-a", "gone", "job-b", "job-theirs"])
    assert list(results) == ["job-a", "gone", "job-b", "job-theirs"]
    assert results["job-a"].state is State.SUCCEEDED
    assert results["job-b"].state is State.QUEUED
    for job_id in ("gone", "job-theirs"):
        error = results[job_id]
        assert isinstance(error, ProviderError)
        assert error.code == NOT_FOUND and error.permanent
    assert adapter.fetch([]) == {}


# --- credentials and signatures ------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_a_working_account_passes_the_credentials_check_with_one_request(simulator, code):
    make_adapter(simulator, code).check_credentials()
    assert simulator.requests[code] == 1


@pytest.mark.parametrize("code", CODES)
def test_a_wrong_secret_is_permanent_and_never_shown(simulator, leaks, code):
    adapter = make_adapter(simulator, code, **dict.fromkeys(secret_fields(code), WRONG_SECRET))
    simulator.add_job(code, "job-1", pinned="running")
    error = request_error(adapter, leaks)
    expected_code, http_status = WIRE[code].wrong_secret
    assert (error.code, error.permanent, error.retry_after) == (expected_code, True, None)
    if http_status is not None:
        assert error.http_status == http_status
    assert WIRE[code].says.get("wrong_secret", "") in error.message
    with pytest.raises(ProviderError) as again:
        adapter.check_credentials()
    assert (again.value.code, again.value.permanent) == (expected_code, True)
    leaks.append((again.value, [WRONG_SECRET]))


@pytest.mark.parametrize("code", CODES)
def test_an_unknown_key_is_permanent(simulator, leaks, code):
    key_field = simulator.providers[code].key_field
    adapter = make_adapter(simulator, code, **{key_field: UNKNOWN_KEY})
    with pytest.raises(ProviderError) as info:
        adapter.check_credentials()
    leaks.append((info.value, adapter.secret_values()))
    expected_code, http_status = WIRE[code].unknown_key
    assert (info.value.code, info.value.permanent) == (expected_code, True)
    if http_status is not None:
        assert info.value.http_status == http_status
    assert WIRE[code].says.get("unknown_key", "") in info.value.message


@pytest.mark.parametrize("code", CODES)
def test_a_bad_signature_is_permanent(simulator, leaks, code):
    simulator.inject("bad_signature", code, count=1)
    error = request_error(make_adapter(simulator, code), leaks)
    assert (error.code, error.permanent) == (WIRE[code].bad_signature, True)


@pytest.mark.parametrize("code", CODES)
def test_a_skewed_clock_is_refused(simulator, leaks, code):
    simulator.inject("clock_skew", code, count=1)
    error = request_error(make_adapter(simulator, code), leaks)
    assert (error.code, error.permanent) == WIRE[code].clock_skew
    assert WIRE[code].says.get("clock_skew", "") in str(error)


# --- throttling ----------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_throttling_is_transient_with_retry_after_and_one_off(simulator, leaks, code):
    simulator.add_job(code, "job-1", pinned="running")
    simulator.inject("throttle", code, count=1)
    adapter = make_adapter(simulator, code)
    error = request_error(adapter, leaks)
    assert (error.code, error.http_status) == WIRE[code].throttle
    assert not error.permanent and error.retry_after == 1.0
    assert fetch_one(adapter, "job-1").state is State.RUNNING


@pytest.mark.parametrize("code", CODES)
def test_a_tenants_rate_limit_throttles(simulator, leaks, code):
    simulator.add_tenant(code, rate_limit=1.0)
    simulator.add_job(code, "job-1", pinned="running")
    adapter = make_adapter(simulator, code)
    assert fetch_one(adapter, "job-1").state is State.RUNNING
    error = request_error(adapter, leaks)
    assert error.code == WIRE[code].throttle[0]
    assert not error.permanent and error.retry_after == 1.0


# --- broken answers and transport failures --------------------------------------------


def _faults(code: str) -> list[tuple[str, str, int | None]]:
    wire = WIRE[code]
    faults = [("http_500", *wire.http_500), *(wire.faults or COMMON_FAULTS)]
    return [
        (fault, code, wire.wrong_shape_status if fault == "wrong_shape" else status)
        for fault, code, status in faults
    ]


@pytest.mark.parametrize(
    ("code", "fault", "expected_code", "http_status"),
    [(code, *fault) for code in CODES for fault in _faults(code)],
)
def test_a_broken_answer_is_transient_and_one_off(
    simulator, leaks, code, fault, expected_code, http_status
):
    simulator.add_job(code, "job-1", pinned="running")
    simulator.inject(fault, code, count=1)
    adapter = make_adapter(simulator, code)
    error = request_error(adapter, leaks)
    assert (error.code, error.permanent, error.retry_after) == (expected_code, False, None)
    assert error.http_status == http_status
    assert fetch_one(adapter, "job-1").state is State.RUNNING


@pytest.mark.parametrize("code", CODES)
def test_a_timeout_is_transient_and_quick(simulator, leaks, monkeypatch, code):
    # The answer would come after 3 s; a 0.3 s read timeout gives up long before. The
    # margin is wide so that a loaded machine cannot turn a quick give-up into a failure.
    monkeypatch.setattr(simulator, "fault_delay", 3.0)
    simulator.inject("timeout", code, count=1)
    adapter = make_adapter(simulator, code)
    adapter.request_timeout = (1.0, 0.3)
    started = time.monotonic()
    error = request_error(adapter, leaks)
    assert time.monotonic() - started < 2.0
    assert (error.code, error.permanent) == ("Timeout", False)


# --- cancel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cancel:
    """What a provider answers a cancel with: the refusal of a job that has started and of
    a job it does not know ((code, text in the message) each), and how many requests one
    cancel costs (MetaStudio lists the job first, for its type)."""

    started: tuple[str, str]
    unknown: tuple[str, str]
    requests: int = 1


CANCEL = {
    "tencent_ci": Cancel(
        started=("InvalidArgument", "can not be modified"),
        unknown=("InvalidArgument", "does not exist"),
    ),
    "huawei_metastudio": Cancel(
        started=("MSS.00000003", "Invalid parameter"),
        unknown=(NOT_FOUND, "lists no job"),
        requests=2,
    ),
    "aliyun_ice": Cancel(
        started=("IncorrectJobStatus", "Queuing"),
        unknown=("ResourceNotFound", "not found"),
    ),
}
CANCELLERS = [code for code in CODES if provider_class(code).can_cancel]


@pytest.mark.parametrize("code", CODES)
def test_every_adapter_says_whether_and_how_it_cancels(code):
    adapter = provider_class(code)
    assert isinstance(adapter.can_cancel, bool)
    assert (code in CANCEL) is adapter.can_cancel
    if adapter.can_cancel:
        assert adapter.cancel_batch_size >= 1
        assert adapter.cancellable_states
        assert not any(state.is_terminal for state in adapter.cancellable_states)
    else:
        reason = adapter.cancel_unsupported_reason
        # The tooltip: one sentence naming the provider, not the base class's fallback.
        assert reason.endswith(".") and reason.count(". ") == 0
        assert adapter.label.split()[0] in reason


@pytest.mark.parametrize("code", sorted(set(CODES) - set(CANCELLERS)))
def test_an_adapter_without_a_cancel_api_sends_nothing(simulator, code):
    with pytest.raises(NotImplementedError):
        make_adapter(simulator, code).cancel(["job-1"])
    assert simulator.requests.get(code, 0) == 0


@pytest.mark.parametrize("code", CANCELLERS)
def test_a_waiting_job_is_cancelled_and_then_fetched_canceled(simulator, code):
    simulator.add_job(code, "job-q", pinned="queued")
    adapter = make_adapter(simulator, code)
    assert adapter.cancel(["job-q"]) == {"job-q": CancelOutcome(accepted=True)}
    assert simulator.requests[code] == CANCEL[code].requests
    assert fetch_one(adapter, "job-q").state is State.CANCELED
    assert simulator.truth(code, "job-q").phase is Phase.CANCELED


@pytest.mark.parametrize("code", CANCELLERS)
def test_a_synthetic_waiting_job_stays_canceled(simulator, code):
    # A `sim-…` id describes its own job; the cancel must outlive the request.
    job_id = f"sim-{int(time.time())}-600-60-ok-c1"
    adapter = make_adapter(simulator, code)
    assert adapter.cancel([job_id])[job_id].accepted
    assert fetch_one(adapter, job_id).state is State.CANCELED


@pytest.mark.parametrize("code", CANCELLERS)
@pytest.mark.parametrize("pinned", ["running", "succeeded"])
def test_a_started_job_is_refused_with_the_providers_reason(simulator, leaks, code, pinned):
    simulator.add_job(code, "job-r", pinned=pinned)
    adapter = make_adapter(simulator, code)
    outcome = adapter.cancel(["job-r"])["job-r"]
    expected_code, says = CANCEL[code].started
    assert (outcome.accepted, outcome.code) == (False, expected_code)
    assert says in outcome.message and len(outcome.message) <= MAX_CANCEL_MESSAGE_CHARS
    for secret in adapter.secret_values():
        assert secret not in outcome.message
    assert simulator.truth(code, "job-r").phase is Phase(pinned)


@pytest.mark.parametrize("code", CANCELLERS)
def test_an_unknown_or_other_tenants_job_is_refused_as_unknown(simulator, code):
    simulator.add_job(code, "job-theirs", pinned="queued", owner="someone-else")
    adapter = make_adapter(simulator, code)
    expected_code, says = CANCEL[code].unknown
    for job_id in ("no-such-job", "job-theirs"):
        outcome = adapter.cancel([job_id])[job_id]
        assert (outcome.accepted, outcome.code) == (False, expected_code)
        assert says in outcome.message
    assert simulator.truth(code, "job-theirs").phase is Phase.QUEUED


@pytest.mark.parametrize("code", CANCELLERS)
def test_a_cancel_with_a_wrong_secret_fails_whole_and_permanently(simulator, leaks, code):
    simulator.add_job(code, "job-q", pinned="queued")
    adapter = make_adapter(simulator, code, **dict.fromkeys(secret_fields(code), WRONG_SECRET))
    with pytest.raises(ProviderError) as caught:
        adapter.cancel(["job-q"])
    leaks.append((caught.value, [*adapter.secret_values(), WRONG_SECRET]))
    assert (caught.value.code, caught.value.permanent) == (WIRE[code].wrong_secret[0], True)
    assert simulator.truth(code, "job-q").phase is Phase.QUEUED


@pytest.mark.parametrize("code", CANCELLERS)
@pytest.mark.parametrize("fault", ["throttle", "http_500", "reset"])
def test_a_cancel_the_provider_could_not_answer_is_transient(simulator, leaks, code, fault):
    simulator.add_job(code, "job-q", pinned="queued")
    adapter = make_adapter(simulator, code)
    if CANCEL[code].requests == 1:
        simulator.inject(fault, code, count=1)
    else:
        # The fault hits the cancel itself, after MetaStudio's listing went through.
        listing = adapter.fetch

        def list_then_fault(ids: list[str]) -> dict:
            answer = listing(ids)
            adapter.fetch = listing  # type: ignore[method-assign]
            simulator.inject(fault, code, count=1)
            return answer

        adapter.fetch = list_then_fault  # type: ignore[method-assign]
    with pytest.raises(ProviderError) as caught:
        adapter.cancel(["job-q"])
    leaks.append((caught.value, adapter.secret_values()))
    assert not caught.value.permanent
    if fault == "throttle":
        assert caught.value.retry_after == 1.0
    assert simulator.truth(code, "job-q").phase is Phase.QUEUED
    assert adapter.cancel(["job-q"])["job-q"].accepted


@pytest.mark.parametrize("code", CANCELLERS)
def test_a_tenants_rate_limit_counts_cancels(simulator, code):
    simulator.add_tenant(code, rate_limit=1.0)
    simulator.add_job(code, "job-q", pinned="queued")
    adapter = make_adapter(simulator, code)
    fetch_one(adapter, "job-q")
    with pytest.raises(ProviderError) as caught:
        adapter.cancel(["job-q"])
    assert caught.value.code == WIRE[code].throttle[0] and not caught.value.permanent


@pytest.mark.parametrize("code", CANCELLERS)
def test_more_ids_than_one_request_takes_are_refused_before_sending(simulator, code):
    adapter = make_adapter(simulator, code)
    ids = [f"job-{n}" for n in range(adapter.cancel_batch_size + 1)]
    with pytest.raises(ValueError):
        adapter.cancel(ids)
    assert simulator.requests.get(code, 0) == 0
    # Duplicates are one id, asked once.
    simulator.add_job(code, "job-q", pinned="queued")
    assert adapter.cancel(["job-q"] * (adapter.cancel_batch_size + 1)) == {
        "job-q": CancelOutcome(accepted=True)
    }
