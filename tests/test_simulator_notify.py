"""The simulator's push notifications, over real HTTP to a local receiver: one per finished
job in each cloud's format, signed as the cloud signs, with the target's faults applied."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from jobs.simulator.core import Phase, Simulator
from tests.receiver import Receiver

SETTLE = 0.35  # a few watcher scans: long enough for a wrong second notification to show


def wait_for(condition: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the simulator did not get there"
        time.sleep(0.02)


def finish(
    simulator: Simulator, provider: str, external_id: str, outcome: str = "ok", **fields
) -> None:
    """A job that is running now and finishes when the simulator's clock moves on."""
    simulator.add_job(
        provider,
        external_id,
        queue_seconds=0,
        run_seconds=60,
        outcome={"ok": "succeeded", "fail": "failed"}[outcome],
        **fields,
    )
    wait_for(lambda: any(c["state"] == "running" for c in changes(simulator, provider)))
    simulator.clock_offset += 61


def changes(simulator: Simulator, provider: str) -> list[dict]:
    answer = requests.get(f"{simulator.url}/_sim/changes", params={"provider": provider}, timeout=5)
    return answer.json()["changes"]


def one_request(receiver: Receiver):
    wait_for(lambda: receiver.requests)
    time.sleep(SETTLE)
    assert len(receiver.requests) == 1
    return receiver.requests[0]


def test_ivh_finished_job_notifies_once(simulator, receiver):
    target = simulator.notify_to("tencent_ivh", f"{receiver.url}/hooks/ivh/s1/")
    finish(simulator, "tencent_ivh", "ivh-n1")
    request = one_request(receiver)
    assert request.path == "/hooks/ivh/s1/"
    payload = request.json()["Payload"]
    assert payload["TaskId"] == "ivh-n1"
    assert payload["Status"] == "SUCCESS"
    assert payload["Progress"] == 100
    assert payload["MediaUrl"].endswith("/_sim/media/tencent_ivh/ivh-n1.wav")
    assert payload["SubtitlesUrl"].endswith(".srt")
    assert payload["FailMessage"] == ""
    assert (target.sent, target.dropped, target.duplicated) == (1, 0, 0)
    finished = [c for c in changes(simulator, "tencent_ivh") if c["state"] == "succeeded"]
    # The change time is the simulator's: when the job's run ended on its clock.
    truth = simulator.truth("tencent_ivh", "ivh-n1")
    assert [c["changed_at"] for c in finished] == [truth.finished]


def test_ivh_failure_says_why(simulator, receiver):
    simulator.notify_to("tencent_ivh", receiver.url)
    finish(simulator, "tencent_ivh", "ivh-n2", outcome="fail")
    payload = one_request(receiver).json()["Payload"]
    assert payload["Status"] == "FAIL"
    assert payload["MediaUrl"] == ""
    assert payload["FailMessage"]


def test_a_running_job_is_not_announced_by_terminal_only_clouds(simulator, receiver):
    simulator.notify_to("tencent_ivh", receiver.url)
    simulator.add_job("tencent_ivh", "ivh-run", queue_seconds=0, run_seconds=600)
    wait_for(lambda: changes(simulator, "tencent_ivh"))
    time.sleep(SETTLE)
    assert receiver.requests == []


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_ci_task_finish_in_either_format(simulator, receiver, fmt):
    simulator.notify_to("tencent_ci", receiver.url, format=fmt)
    finish(simulator, "tencent_ci", "jci-n1", outcome="fail")
    request = one_request(receiver)
    if fmt == "xml":
        assert request.headers["Content-Type"] == "application/xml"
        root = ET.fromstring(request.body)
        assert root.findtext("EventName") == "TaskFinish"
        detail = {child.tag: child.text or "" for child in root.find("JobsDetail")}
    else:
        assert request.headers["Content-Type"] == "application/json"
        body = request.json()
        assert body["EventName"] == "TaskFinish"
        detail = body["JobsDetail"]
    assert detail["JobId"] == "jci-n1"
    assert detail["State"] == "Failed"
    assert detail["Code"] not in ("", "Success")
    assert {"CreationTime", "StartTime", "EndTime", "QueueId", "Tag", "Message"} <= set(detail)


def test_metastudio_mss_a_secret_verifies(simulator, receiver):
    key = "ms-callback-key-1"
    url = f"{receiver.url}/hooks/ms/secret-part/"
    simulator.notify_to("huawei_metastudio", url, key=key)
    finish(simulator, "huawei_metastudio", "ms-n1")
    request = one_request(receiver)
    split = urlsplit(request.path)
    assert split.path == "/hooks/ms/secret-part/"
    query = {k: v[0] for k, v in parse_qs(split.query).items()}
    stamp = query["time_stamp"]
    assert abs(int(stamp, 16) - simulator.now()) < 60
    expected = hmac.new(key.encode(), (split.path + stamp).encode(), hashlib.sha256).hexdigest()
    assert query["secret"] == expected
    body = request.json()
    assert body == {
        "job_id": "ms-n1",
        "result": "SUCCEED",
        "asset_id": hashlib.md5(b"ms-n1").hexdigest(),
    }


def test_metastudio_without_key_adds_nothing(simulator, receiver):
    simulator.notify_to("huawei_metastudio", f"{receiver.url}/h/")
    finish(simulator, "huawei_metastudio", "ms-n2", outcome="fail")
    request = one_request(receiver)
    assert request.path == "/h/"
    assert request.json()["result"] == "FAILED"
    assert request.json()["asset_id"] == ""


def test_ice_signature_verifies(simulator, receiver):
    url = f"{receiver.url}/hooks/ice/s2/"
    simulator.notify_to("aliyun_ice", url, auth_key="IceAuthKey123abc")
    finish(simulator, "aliyun_ice", "ice-n1")
    request = one_request(receiver)
    stamp = request.headers["X-ICE-TIMESTAMP"]
    expected = hashlib.md5(f"{url}|{stamp}|IceAuthKey123abc".encode()).hexdigest()
    assert request.headers["X-ICE-SIGNATURE"] == expected
    body = request.json()
    assert body["EventType"] == "ProduceMediaComplete"
    assert isinstance(body["UserId"], int)
    assert body["EventTime"].endswith("Z")
    assert body["MessageBody"]["JobId"] == "ice-n1"
    assert body["MessageBody"]["Status"] == "Success"
    assert body["MessageBody"]["MediaURL"].startswith(simulator.url)


def test_ice_without_auth_key_sends_no_signature(simulator, receiver):
    simulator.notify_to("aliyun_ice", receiver.url)
    finish(simulator, "aliyun_ice", "ice-n2", outcome="fail")
    request = one_request(receiver)
    assert "X-ICE-SIGNATURE" not in request.headers
    assert request.json()["MessageBody"]["Status"] == "Failed"


def test_drop_sends_nothing_and_counts(simulator, receiver):
    target = simulator.notify_to("tencent_ivh", receiver.url, drop=1.0)
    finish(simulator, "tencent_ivh", "ivh-drop")
    wait_for(lambda: target.dropped == 1)
    time.sleep(SETTLE)
    assert receiver.requests == []
    assert target.sent == 0


def test_duplicate_sends_twice(simulator, receiver):
    target = simulator.notify_to("tencent_ivh", receiver.url, duplicate=1.0)
    finish(simulator, "tencent_ivh", "ivh-dup")
    # The sender counts a POST once its answer is back, after the receiver has it.
    wait_for(lambda: len(receiver.requests) == 2 and target.sent == 2)
    assert receiver.requests[0].body == receiver.requests[1].body
    assert (target.sent, target.duplicated) == (2, 1)


def test_delay_holds_the_notification(simulator, receiver):
    target = simulator.notify_to("tencent_ivh", receiver.url, delay=[1.5, 1.5])
    finish(simulator, "tencent_ivh", "ivh-late")
    wait_for(lambda: any(c["state"] == "succeeded" for c in changes(simulator, "tencent_ivh")))
    assert receiver.requests == []
    wait_for(lambda: target.sent == 1, timeout=5.0)
    assert receiver.requests[0].json()["Payload"]["TaskId"] == "ivh-late"


def test_reorder_sends_the_held_one_after_the_next(simulator, receiver):
    # Seed 1's first draw holds the first notification back.
    simulator.notify_to("tencent_ivh", receiver.url, reorder=True, seed=1)
    for external_id in ("ivh-first", "ivh-second"):
        simulator.add_job("tencent_ivh", external_id, queue_seconds=0, run_seconds=60)
    wait_for(lambda: len(changes(simulator, "tencent_ivh")) == 2)
    simulator.clock_offset += 61
    wait_for(lambda: len(receiver.requests) == 2)
    order = [r.json()["Payload"]["TaskId"] for r in receiver.requests]
    assert order == ["ivh-second", "ivh-first"]


def test_tenant_target_gets_only_its_tenants_jobs(simulator, receiver):
    own = simulator.add_tenant("tencent_ivh", {"appkey": "other-app", "access_token": "t"})
    simulator.notify_to("tencent_ivh", receiver.url, tenant=own.credentials["appkey"])
    simulator.add_job("tencent_ivh", "ivh-theirs", queue_seconds=0, run_seconds=60, owner="x")
    simulator.add_job("tencent_ivh", "ivh-ours", queue_seconds=0, run_seconds=60, owner="other-app")
    wait_for(lambda: len(changes(simulator, "tencent_ivh")) == 2)
    simulator.clock_offset += 61
    assert one_request(receiver).json()["Payload"]["TaskId"] == "ivh-ours"


def test_vod_procedure_notifies_each_change(simulator, receiver):
    simulator.notify_to("tencent_vod", receiver.url)
    job = simulator.add_job("tencent_vod", "vod-p1", kind="Procedure", pinned="running")
    wait_for(lambda: receiver.requests)
    started = receiver.requests[0].json()
    assert started["EventType"] == "ProcedureStateChanged"
    assert started["ProcedureStateChangeEvent"]["Status"] == "PROCESSING"
    job.pinned = Phase.SUCCEEDED
    wait_for(lambda: len(receiver.requests) == 2)
    event = receiver.requests[1].json()["ProcedureStateChangeEvent"]
    assert event["TaskId"] == "vod-p1"
    assert (event["Status"], event["ErrCode"], event["Message"]) == ("FINISH", 0, "SUCCESS")
    assert event["FileId"]


def test_vod_edit_media_notifies_its_completion(simulator, receiver):
    simulator.notify_to("tencent_vod", receiver.url)
    finish(simulator, "tencent_vod", "vod-e1", outcome="fail", kind="EditMedia")
    body = one_request(receiver).json()
    assert body["EventType"] == "EditMediaComplete"
    event = body["EditMediaCompleteEvent"]
    assert event["TaskId"] == "vod-e1"
    assert event["Status"] == "FINISH"
    assert event["ErrCode"] != 0
    assert event["Message"]


def test_control_endpoint(simulator, receiver):
    base = f"{simulator.url}/_sim/notify"
    for bad in (
        {"provider": "nope", "url": receiver.url},
        {"provider": "tencent_ivh", "url": "ftp://x"},
        {"provider": "tencent_ivh", "url": receiver.url, "drop": 2},
        {"provider": "tencent_ivh", "url": receiver.url, "delay": [3, 1]},
        {"provider": "tencent_ivh", "url": receiver.url, "colour": "red"},
        {"provider": "tencent_ci", "mode": "pull"},
        {"provider": "tencent_vod", "mode": "pull", "enabled": "no"},
        {"provider": "tencent_vod", "mode": "pull", "hold": 3600},
        {"provider": "tencent_ivh", "url": receiver.url, "tenant": 7},
        {"provider": "tencent_ivh", "watch": "sim-1"},
        [1, 2],
        {"provider": "tencent_ivh"},
    ):
        answer = requests.post(base, json=bad, timeout=5)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]
    assert requests.post(base, data=b"{", timeout=5).status_code == 400
    spec = {"provider": "aliyun_ice", "url": receiver.url, "auth_key": "K3yK3yK3y", "drop": 1.0}
    assert requests.post(base, json=spec, timeout=5).json() == {"ok": True}
    finish(simulator, "aliyun_ice", "ice-ctl")
    wait_for(lambda: requests.get(base, timeout=5).json()["targets"][0]["dropped"] == 1)
    listing = requests.get(base, timeout=5).text
    assert "K3yK3yK3y" not in listing  # the key is never echoed
    assert requests.delete(base, timeout=5).json() == {"ok": True}
    assert requests.get(base, timeout=5).json()["targets"] == []


def test_watch_covers_jobs_a_sim_id_describes(simulator, receiver):
    simulator.notify_to("tencent_ivh", receiver.url)
    # Born a second from now, so the watcher sees it start.
    created = int(simulator.now()) + 1
    external_id = f"sim-{created}-0-30-ok-w1"
    answer = requests.post(
        f"{simulator.url}/_sim/notify",
        json={"provider": "tencent_ivh", "watch": [external_id]},
        timeout=5,
    )
    assert answer.json() == {"ok": True}
    wait_for(lambda: changes(simulator, "tencent_ivh"))
    simulator.clock_offset += 31
    assert one_request(receiver).json()["Payload"]["TaskId"] == external_id


def test_reset_clears_targets(simulator, receiver):
    simulator.notify_to("tencent_ivh", receiver.url)
    simulator.reset()
    simulator.add_demo_tenants()
    finish_id = "ivh-after-reset"
    simulator.add_job("tencent_ivh", finish_id, queue_seconds=0, run_seconds=1)
    simulator.clock_offset += 5
    time.sleep(SETTLE)
    assert receiver.requests == []
    assert json.loads(requests.get(f"{simulator.url}/_sim/notify", timeout=5).text)["targets"] == []
