"""What each fake cloud pushes when a job changes: the five notification formats.

These are one contract with Clapboard's receiver (docs/PROVIDERS.md Appendix E), so
they stand side by side here rather than spread over the provider modules: which changes a
cloud announces (`announces`), the body it POSTs (`render`) and how it signs the delivery
(`sign`). The machinery that notices changes and delivers them is notify.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from jobs.simulator.base import ProviderSimulator
from jobs.simulator.clock import Phase, SimJob, Snapshot
from jobs.simulator.tenants import Tenant
from jobs.simulator.tencent_ci import CiSimulator
from jobs.simulator.tencent_vod_tasks import VodTasks

TERMINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELED})
# VOD's own numeric ErrCode for an aborted task is undocumented for events: ours.
_VOD_ABORTED = (70000, "The task was aborted.")


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str = "application/json"


def announces(sim: ProviderSimulator, job: SimJob, phase: Phase) -> bool:
    """Whether `sim`'s cloud notifies `job` changing into `phase`. A VOD procedure
    (TasksNotifyMode Change) reports starting as well as finishing; the other VOD task
    types and the other clouds only the end."""
    if isinstance(sim, VodTasks) and sim._kind(job) == "Procedure":
        return phase is Phase.RUNNING or phase in TERMINAL
    return phase in TERMINAL


def _json(payload: Any) -> Body:
    return Body(json.dumps(payload, ensure_ascii=False).encode())


def render(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str = "xml"
) -> Body:
    """The body `sim`'s cloud POSTs for `job` as it stands in `snap`; `fmt` ("xml" or
    "json") matters to CI only. KeyError for a cloud that sends none."""
    return _RENDERERS[sim.code](sim, job, snap, tenant, fmt)


def _ivh(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str
) -> Body:
    failed = snap.phase is not Phase.SUCCEEDED
    return _json(
        {
            "Payload": {
                "TaskId": job.external_id,
                "Status": "FAIL" if failed else "SUCCESS",
                "Progress": 100,
                "MediaUrl": "" if failed else sim.media_url(job),
                "SubtitlesUrl": "" if failed else sim.subtitles_url(job),
                "FailMessage": sim.failure_for(job)[1] if failed else "",
            }
        }
    )


def _vod(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str
) -> Body:
    return _json(vod_event(sim, job, snap))


def _metastudio(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str
) -> Body:
    failed = snap.phase is not Phase.SUCCEEDED
    # The same asset id the show call reports for the finished video.
    asset = hashlib.md5(job.external_id.encode(), usedforsecurity=False).hexdigest()
    return _json(
        {
            "job_id": job.external_id,
            "result": "FAILED" if failed else "SUCCEED",
            "asset_id": "" if failed else asset,
        }
    )


def _ice(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str
) -> Body:
    failed = snap.phase is not Phase.SUCCEEDED
    body: dict[str, Any] = {"JobId": job.external_id, "Status": "Failed" if failed else "Success"}
    if not failed:
        body["MediaURL"] = sim.media_url(job)
    return _json(
        {
            "EventType": "ProduceMediaComplete",
            "UserId": _ice_user_id(tenant, job),
            "EventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sim.now())),
            "MessageBody": body,
        }
    )


def vod_event(sim: ProviderSimulator, job: SimJob, snap: Snapshot) -> dict[str, Any]:
    """One VOD EventContent (without EventHandle): ProcedureStateChanged for a procedure,
    `<TaskType>Complete` for the other task types."""
    assert isinstance(sim, VodTasks)
    kind = sim._kind(job)
    status = "FINISH" if snap.phase in TERMINAL else "PROCESSING"
    err_code, message = 0, "SUCCESS"
    if snap.phase is Phase.FAILED:
        errors = sim._errors(job, snap)
        err_code, message = errors["ErrCode"], errors["Message"]
    elif snap.phase is Phase.CANCELED:
        err_code, message = _VOD_ABORTED
    event: dict[str, Any] = {
        "TaskId": job.external_id,
        "Status": status,
        "ErrCode": err_code,
        "Message": message,
    }
    if kind == "Procedure":
        event["FileId"] = str(5285890780000000000 + job.seed % 10**9)
        return {"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": event}
    return {"EventType": f"{kind}Complete", f"{kind}CompleteEvent": event}


def _ci(
    sim: ProviderSimulator, job: SimJob, snap: Snapshot, tenant: Tenant | None, fmt: str
) -> Body:
    # CI sends the same JobsDetail its DescribeMediaJob answers with.
    assert isinstance(sim, CiSimulator)
    detail = sim.jobs_detail(job, tenant or _any_tenant(sim))
    if fmt == "json":
        return _json({"EventName": "TaskFinish", "JobsDetail": _xml_to_dict(detail)})
    root = ET.Element("Response")
    ET.SubElement(root, "EventName").text = "TaskFinish"
    root.append(detail)
    return Body(ET.tostring(root, encoding="utf-8"), "application/xml")


def _xml_to_dict(element: ET.Element) -> Any:
    if len(element) == 0:
        return element.text or ""
    return {child.tag: _xml_to_dict(child) for child in element}


def _any_tenant(sim: ProviderSimulator) -> Tenant:
    tenant = next((t for (code, _), t in list(sim.sim.tenants.items()) if code == sim.code), None)
    return tenant or Tenant(sim.code, dict(sim.demo_credentials), dict(sim.demo_options))


def _ice_user_id(tenant: Tenant | None, job: SimJob) -> int:
    # The Alibaba account's numeric UID: made up, stable per access key.
    key = (tenant.credentials.get("access_key_id", "") if tenant else "") or job.provider
    return 1_000_000_000_000_000 + int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % 10**15


def sign(code: str, url: str, options: Mapping[str, Any], now: float) -> tuple[str, dict[str, str]]:
    """The URL to POST to and the extra headers, signed as `code`'s cloud does (`options`:
    the target's `key` / `auth_key`); unsigned clouds and targets get `url` as it is."""
    signer = _SIGNERS.get(code)
    return signer(url, options, now) if signer else (url, {})


def _mss_a(url: str, options: Mapping[str, Any], now: float) -> tuple[str, dict[str, str]]:
    if not options.get("key"):
        return url, {}  # auth_type NONE
    # MSS_A: HMAC-SHA256(key, the callback URL's path + time_stamp), our reading of the
    # SDK's unverified description (docs/PROVIDERS.md Appendix E.4).
    stamp = format(int(now), "x")
    secret = hmac.new(
        str(options["key"]).encode(), (urlsplit(url).path + stamp).encode(), hashlib.sha256
    ).hexdigest()
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}{urlencode({'time_stamp': stamp, 'secret': secret})}", {}


def _ice_auth(url: str, options: Mapping[str, Any], now: float) -> tuple[str, dict[str, str]]:
    if not options.get("auth_key"):
        return url, {}  # AuthSwitch off
    stamp = str(int(now))
    text = f"{url}|{stamp}|{options['auth_key']}"
    signature = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return url, {"X-ICE-TIMESTAMP": stamp, "X-ICE-SIGNATURE": signature}


_Renderer = Callable[[ProviderSimulator, SimJob, Snapshot, "Tenant | None", str], Body]
_RENDERERS: dict[str, _Renderer] = {
    "tencent_ivh": _ivh,
    "tencent_vod": _vod,
    "tencent_ci": _ci,
    "huawei_metastudio": _metastudio,
    "aliyun_ice": _ice,
}
_SIGNERS: dict[str, Callable[[str, Mapping[str, Any], float], tuple[str, dict[str, str]]]] = {
    "huawei_metastudio": _mss_a,
    "aliyun_ice": _ice_auth,
}
