"""Each adapter's catalogue of job-level failure codes: complete for what the simulator
emits, well-formed for the job list, and reached end to end through a real fetch."""

from __future__ import annotations

from importlib import import_module

import pytest

from jobs.providers import PROVIDERS, provider_class
from jobs.providers.aliyun_ice import AliyunIce
from jobs.providers.base import (
    UNKNOWN_FAILURE,
    Explanation,
    FailureCategory,
    JobStatus,
    Provider,
    State,
)
from jobs.providers.tencent_vod import TencentVod
from jobs.simulator.core import ProviderSimulator, Simulator

CODES = list(PROVIDERS)
RETRYABLE = {FailureCategory.TRANSIENT, FailureCategory.QUOTA, FailureCategory.INTERNAL}
# Entries whose retry_helps deliberately differs from "retryable category" would be listed
# here with the reason; there are none.
RETRY_EXCEPTIONS: dict[tuple[str, str], str] = {}


def simulator_class(code: str) -> type[ProviderSimulator]:
    return import_module(f"jobs.simulator.{code}").Simulator


def entries() -> list:
    return [
        pytest.param(code, failure_code, explanation, id=f"{code}-{failure_code}")
        for code in CODES
        for failure_code, explanation in provider_class(code).failure_catalogue.items()
    ]


# --- the catalogues as data ---------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_every_simulated_failure_code_has_an_entry(code: str) -> None:
    adapter = provider_class(code)
    for failure_code, message in simulator_class(code).failure_codes:
        assert failure_code in adapter.failure_catalogue, failure_code
        explanation = adapter.explain_failure(failure_code, message)
        assert explanation is not UNKNOWN_FAILURE, failure_code
        assert explanation.category is not FailureCategory.UNKNOWN, failure_code


@pytest.mark.parametrize("code", CODES)
def test_catalogues_are_focused(code: str) -> None:
    assert 4 <= len(provider_class(code).failure_catalogue) <= 20


@pytest.mark.parametrize(("code", "failure_code", "explanation"), entries())
def test_entry_is_well_formed(code: str, failure_code: str, explanation: Explanation) -> None:
    assert failure_code == failure_code.strip() and failure_code
    assert isinstance(explanation, Explanation)
    assert isinstance(explanation.category, FailureCategory)
    summary = explanation.summary
    assert summary and len(summary) <= 60, summary
    assert summary == summary.strip() and "\n" not in summary
    assert isinstance(explanation.retry_helps, bool)
    action = explanation.action
    assert len(action) >= 20 and action.endswith("."), action
    assert "\n" not in action


@pytest.mark.parametrize(("code", "failure_code", "explanation"), entries())
def test_retry_helps_exactly_for_retryable_categories(
    code: str, failure_code: str, explanation: Explanation
) -> None:
    expected = explanation.category in RETRYABLE
    if (code, failure_code) in RETRY_EXCEPTIONS:
        expected = not expected
    assert explanation.retry_helps is expected


@pytest.mark.parametrize("code", CODES)
def test_unknown_codes_are_unknown(code: str) -> None:
    adapter: type[Provider] = provider_class(code)
    assert adapter.explain_failure("Clapboard.NoSuchCode") is UNKNOWN_FAILURE
    assert adapter.explain_failure("987654321", "no such failure") is UNKNOWN_FAILURE
    assert adapter.explain_failure("") is UNKNOWN_FAILURE


# --- VOD: ErrCodeExt against the deprecated numeric ErrCode ---------------------------


def test_vod_errcodeext_is_looked_up_exactly() -> None:
    catalogue = TencentVod.failure_catalogue
    for ext in ("InvalidInput.DefinitionNotExist", "InvalidParameter.VoilationContent"):
        assert TencentVod.explain_failure(ext) is catalogue[ext]
    assert (
        TencentVod.explain_failure("ContentModerationFailed").category
        is FailureCategory.CONTENT_POLICY
    )
    assert TencentVod.explain_failure("RequestLimitExceeded").category is FailureCategory.QUOTA


def test_vod_errcodeext_falls_back_to_its_documented_parent() -> None:
    catalogue = TencentVod.failure_catalogue
    assert (
        TencentVod.explain_failure("SourceFileError.NoVideoMedia") is catalogue["SourceFileError"]
    )
    assert TencentVod.explain_failure("InvalidInput.TaskDuplicated") is catalogue["InvalidInput"]
    assert TencentVod.explain_failure("InternalError.Whatever") is catalogue["InternalError"]
    assert TencentVod.explain_failure("ResourceUnavailable.Anything") is UNKNOWN_FAILURE


def test_vod_errcodeext_ignores_the_message() -> None:
    explanation = TencentVod.explain_failure(
        "InternalError", "The content did not pass moderation."
    )
    assert explanation is TencentVod.failure_catalogue["InternalError"]
    assert explanation.retry_helps


def test_vod_numeric_errcode_gives_the_broad_class() -> None:
    catalogue = TencentVod.failure_catalogue
    assert TencentVod.explain_failure("40000", "Invalid parameter.") is catalogue["40000"]
    assert catalogue["40000"].category is FailureCategory.INPUT
    assert TencentVod.explain_failure("60000", "Source file error.") is catalogue["60000"]
    assert catalogue["60000"].category is FailureCategory.INPUT
    internal = TencentVod.explain_failure("70000", "Internal service error. Please try again.")
    assert internal is catalogue["70000"]
    assert internal.category is FailureCategory.INTERNAL and internal.retry_helps


def test_vod_numeric_errcode_is_refined_by_the_message() -> None:
    catalogue = TencentVod.failure_catalogue
    moderated = TencentVod.explain_failure("70000", "The content did not pass moderation.")
    assert moderated is catalogue["ContentModerationFailed"]
    assert not moderated.retry_helps
    assert (
        TencentVod.explain_failure("40000", "The prompt violates the content rules.")
        is catalogue["InvalidParameter.VoilationContent"]
    )
    assert (
        TencentVod.explain_failure("FAIL", "exceeds the frequency limit")
        is catalogue["RequestLimitExceeded"]
    )
    assert TencentVod.explain_failure("FAIL", "") is catalogue["FAIL"]
    assert TencentVod.explain_failure("10008", "something else") is UNKNOWN_FAILURE


# --- ICE: codes inside Result -------------------------------------------------------------


def test_ice_code_falls_back_to_its_family() -> None:
    catalogue = AliyunIce.failure_catalogue
    assert AliyunIce.explain_failure("InvalidInput.TooLong") is catalogue["InvalidInput"]
    assert AliyunIce.explain_failure("InvalidInput.Format") is catalogue["InvalidInput.Format"]


def test_ice_fail_without_code_uses_a_code_quoted_in_the_message() -> None:
    catalogue = AliyunIce.failure_catalogue
    assert (
        AliyunIce.explain_failure("Fail", "InvalidInput.NoAudioStream: no audio")
        is catalogue["InvalidInput.NoAudioStream"]
    )
    assert AliyunIce.explain_failure("Fail", "Fail to process") is catalogue["Fail"]
    assert AliyunIce.explain_failure("Fail") is catalogue["Fail"]


# --- end to end through the simulator ---------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    simulator = Simulator()
    simulator.start()
    simulator.add_demo_tenants()
    yield simulator
    simulator.stop()


def adapter_for(sim: Simulator, code: str) -> Provider:
    fake = sim.providers[code]
    return provider_class(code)(
        credentials=dict(fake.demo_credentials),
        options=dict(fake.demo_options),
        region=fake.demo_region,
        endpoint=sim.url,
    )


def fetch_failed(sim: Simulator, code: str, external_id: str) -> JobStatus:
    status = adapter_for(sim, code).fetch([external_id])[external_id]
    assert isinstance(status, JobStatus), status
    assert status.state is State.FAILED
    assert status.failure_code
    return status


@pytest.mark.parametrize("code", CODES)
def test_simulated_failed_job_is_explained(sim: Simulator, code: str) -> None:
    sim.add_job(code, "x-1", pinned="failed")
    status = fetch_failed(sim, code, "x-1")
    explanation = provider_class(code).explain_failure(status.failure_code, status.failure_message)
    assert explanation is not UNKNOWN_FAILURE, (status.failure_code, status.failure_message)


def every_simulated_failure() -> list:
    """(provider, kind, code, message) for each failure code and each kind of job, so VOD's
    ComposeMedia (numeric ErrCode only) is covered as well as the ErrCodeExt sub-tasks."""
    return [
        pytest.param(code, kind, failure_code, message, id=f"{code}-{kind}-{failure_code}")
        for code in CODES
        for kind in simulator_class(code).demo_kinds
        for failure_code, message in simulator_class(code).failure_codes
    ]


@pytest.mark.parametrize(("code", "kind", "failure_code", "message"), every_simulated_failure())
def test_every_simulated_failure_is_explained_after_a_fetch(
    sim: Simulator, code: str, kind: str, failure_code: str, message: str
) -> None:
    external_id = f"fc-{kind or 'job'}-{failure_code}".replace(".", "-")
    sim.add_job(
        code,
        external_id,
        pinned="failed",
        kind=kind,
        failure_code=failure_code,
        failure_message=message,
    )
    status = fetch_failed(sim, code, external_id)
    explanation = provider_class(code).explain_failure(status.failure_code, status.failure_message)
    assert explanation is not UNKNOWN_FAILURE, (status.failure_code, status.failure_message)
    assert explanation.category is not FailureCategory.UNKNOWN
    # The wire may coarsen the code (VOD's ComposeMedia sends only the numeric ErrCode),
    # but never into a different kind of failure than the simulated code itself.
    assert explanation.category is provider_class(code).explain_failure(failure_code).category
