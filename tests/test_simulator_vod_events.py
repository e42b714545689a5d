"""The fake VOD's reliable event queue over real HTTP, signed with Clapboard's own TC3
signer: PullEvents long-polls, ConfirmEvents removes, an unconfirmed event comes back
after 30 s of the simulator's clock, DescribeEventsState counts."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from jobs.providers.tencent_vod import TencentVod
from jobs.simulator.core import Phase, Simulator
from jobs.simulator.tencent_vod import TencentVodSimulator
from tests.test_simulator_notify import wait_for


@pytest.fixture
def vod(simulator: Simulator) -> TencentVod:
    return TencentVod(
        credentials=dict(TencentVodSimulator.demo_credentials),
        options=dict(TencentVodSimulator.demo_options),
        endpoint=simulator.url,
        clock=simulator.now,
    )


def call(vod: TencentVod, action: str, params: dict | None = None) -> dict:
    url, headers, body = vod.signed_request(action, params or {})
    answer = requests.post(url, data=body, headers=headers, timeout=10)
    assert answer.status_code == 200
    return answer.json()["Response"]


def finished_job(simulator: Simulator, external_id: str, kind: str = "Procedure") -> None:
    """A procedure that starts now: its start is one event; pinning it done makes another."""
    job = simulator.add_job("tencent_vod", external_id, kind=kind, pinned="running")
    wait_for(
        lambda: any(c["external_id"] == external_id for c in simulator.notifier.changes_for(None))
    )
    job.pinned = Phase.SUCCEEDED


def count(vod: TencentVod) -> int:
    return call(vod, "DescribeEventsState")["CountOfEventsToPull"]


def test_pull_confirm_and_count(simulator, vod):
    simulator.vod_events()
    finished_job(simulator, "vod-q1")
    wait_for(lambda: count(vod) == 2)
    events = call(vod, "PullEvents")["EventSet"]
    assert [e["ProcedureStateChangeEvent"]["Status"] for e in events] == ["PROCESSING", "FINISH"]
    assert all(e["EventType"] == "ProcedureStateChanged" for e in events)
    assert {e["ProcedureStateChangeEvent"]["TaskId"] for e in events} == {"vod-q1"}
    assert len({e["EventHandle"] for e in events}) == 2
    assert count(vod) == 0  # out with us, not yet confirmed
    assert call(vod, "ConfirmEvents", {"EventHandles": [e["EventHandle"] for e in events]})
    simulator.clock_offset += 31
    assert count(vod) == 0  # confirmed events are gone for good


def test_unconfirmed_event_comes_back_after_30_seconds(simulator, vod):
    simulator.vod_events(hold=0.2)
    finished_job(simulator, "vod-q2")
    wait_for(lambda: count(vod) == 2)
    first = call(vod, "PullEvents")["EventSet"]
    call(vod, "ConfirmEvents", {"EventHandles": [first[0]["EventHandle"]]})
    assert call(vod, "PullEvents")["Error"]["Code"] == "ResourceNotFound.NoEvent"
    simulator.clock_offset += 29
    assert count(vod) == 0
    simulator.clock_offset += 2
    again = call(vod, "PullEvents")["EventSet"]
    assert [e["EventHandle"] for e in again] == [first[1]["EventHandle"]]


def test_long_poll_answers_as_soon_as_an_event_arrives(simulator, vod):
    simulator.vod_events(hold=5.0)
    answers: list[tuple[dict, float]] = []

    def pull() -> None:
        began = time.monotonic()
        answers.append((call(vod, "PullEvents"), time.monotonic() - began))

    poller = threading.Thread(target=pull)
    poller.start()
    time.sleep(0.3)  # the request is held by now
    assert answers == []
    simulator.add_job("tencent_vod", "vod-q3", kind="Procedure", pinned="running")
    poller.join(timeout=10)
    answer, waited = answers[0]
    assert answer["EventSet"][0]["ProcedureStateChangeEvent"]["TaskId"] == "vod-q3"
    assert waited < 4.0  # it did not sit out the 5 s hold


def test_no_event_after_the_hold(simulator, vod):
    simulator.vod_events(hold=0.2)
    error = call(vod, "PullEvents")["Error"]
    assert error["Code"] == "ResourceNotFound.NoEvent"
    assert error["Message"]


def test_other_task_types_queue_their_completion(simulator, vod):
    simulator.vod_events()
    finished_job(simulator, "vod-q4", kind="ComposeMedia")
    wait_for(lambda: count(vod) == 1)
    (event,) = call(vod, "PullEvents")["EventSet"]
    assert event["EventType"] == "ComposeMediaComplete"
    assert event["ComposeMediaCompleteEvent"]["Status"] == "FINISH"


def test_only_opted_in_tenants_get_a_queue(simulator, vod):
    other = simulator.add_tenant(
        "tencent_vod", {"secret_id": "AKIDotherTenant000000000000000000", "secret_key": "k" * 32}
    )
    simulator.vod_events(tenant=other.credentials["secret_id"], hold=0.2)
    finished_job(simulator, "vod-q5")
    time.sleep(0.3)
    assert count(vod) == 0
    assert call(vod, "PullEvents")["Error"]["Code"] == "ResourceNotFound.NoEvent"


def test_duplicate_queues_each_event_twice(simulator, vod):
    answer = requests.post(
        f"{simulator.url}/_sim/notify",
        json={"provider": "tencent_vod", "mode": "pull", "duplicate": 1.0},
        timeout=5,
    )
    assert answer.json() == {"ok": True}
    finished_job(simulator, "vod-q6")
    wait_for(lambda: count(vod) == 4)


def test_confirm_needs_handles(simulator, vod):
    simulator.vod_events()
    for bad in ({}, {"EventHandles": []}, {"EventHandles": [1]}, {"EventHandles": ["h"] * 17}):
        assert call(vod, "ConfirmEvents", bad)["Error"]["Code"] == (
            "InvalidParameterValue.EventHandles"
        )


def test_queue_calls_count_against_the_rate_limit(simulator, vod):
    simulator.add_tenant("tencent_vod", rate_limit=1)
    simulator.vod_events()
    codes = [call(vod, "DescribeEventsState").get("Error", {}).get("Code") for _ in range(3)]
    assert "RequestLimitExceeded" in codes


def test_unsigned_pull_is_refused(simulator, vod):
    simulator.vod_events()
    url, headers, body = vod.signed_request("PullEvents", {})
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"
    answer = requests.post(url, data=body, headers=headers, timeout=5).json()
    assert answer["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"
