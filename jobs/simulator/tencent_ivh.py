"""Fake Tencent IVH video-maker gateway: `POST /v2/ivh/videomaker/broadcastservice/getprogress`.

Checks appkey, timestamp (±5 min) and the query signature the way the gateway does, and
answers in the `{"Header", "Payload"}` envelope. Request-level failures are HTTP 200 with
a non-zero `Header.Code`; the numbers are Clapboard's own (IVH does not publish them) and
live in the adapter module so both sides agree.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from jobs.providers import signing
from jobs.providers import tencent_ivh as ivh
from jobs.simulator.base import ProviderSimulator, Refusal
from jobs.simulator.clock import Phase, SimJob
from jobs.simulator.media import demo_sentences
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import SimRequest, SimResponse

# The gateway's own answers for each refusal: HTTP 200 with (Header.Code, Header.Message),
# but a 500 for its internal error.
REFUSALS: dict[str, Refusal] = {
    "signature": (200, ivh.CODE_SIGNATURE_INVALID, "signature verification failed"),
    "expired": (200, ivh.CODE_TIMESTAMP_EXPIRED, "timestamp expired, check the local clock"),
    "unknown_key": (200, ivh.CODE_APPKEY_UNKNOWN, "appkey does not exist"),
    "throttled": (200, ivh.CODE_FREQUENCY_LIMIT, "request frequency exceeds the limit"),
    "internal": (500, ivh.CODE_INTERNAL_ERROR, "internal server error"),
}
STATUS_BY_PHASE = {
    Phase.QUEUED: "COMMIT",
    Phase.RUNNING: "MAKING",
    # IVH has no pause and no cancel: a paused job still looks "in production", a
    # cancelled one looks failed.
    Phase.PAUSED: "MAKING",
    Phase.SUCCEEDED: "SUCCESS",
    Phase.FAILED: "FAIL",
    Phase.CANCELED: "FAIL",
}


def envelope(
    payload: dict[str, Any] | None = None, code: int = ivh.CODE_OK, message: str = ""
) -> dict[str, Any]:
    return {
        "Header": {
            "Code": code,
            "Message": message or ("" if code == ivh.CODE_OK else "error"),
            "RequestID": uuid.uuid4().hex,
        },
        "Payload": payload if payload is not None else {},
    }


class IvhSimulator(ProviderSimulator):
    can_cancel = False  # IVH documents no canceled status
    code = "tencent_ivh"
    key_field = "appkey"
    demo_credentials = {
        "appkey": "simivh0a1b2c3d4e5f60718293a4b5c6d7",
        "access_token": "simivhtoken9f8e7d6c5b4a39281706f5e4",
    }
    demo_region = ""
    demo_kinds = ("videomaker",)
    refusals = REFUSALS
    failure_codes = (
        ("801005", "content review failed: the text contains sensitive content"),
        ("802000", "content review failed: the image did not pass review"),
        ("600001", "text too long: at most 20000 characters per task"),
        ("700002", "virtualman key is invalid or the anchor is offline"),
        ("900001", "video rendering failed, please retry"),
    )

    def matches(self, request: SimRequest) -> bool:
        return request.path.startswith("/v2/ivh/")

    def authenticate(self, request: SimRequest) -> Tenant:
        # parse_qs decodes '+' as a space, as the gateway does: an un-encoded signature
        # is refused, which is the documented behaviour.
        params = {k: v[0] for k, v in request.params.items() if v}
        appkey, timestamp = params.get("appkey", ""), params.get("timestamp", "")
        if not appkey:
            raise self.refuse("unknown_key")
        tenant = self.tenant(appkey)
        if not timestamp.isdigit():
            raise self.refuse("signature")
        if abs(self.now() - int(timestamp)) > ivh.TIMESTAMP_TOLERANCE_SECONDS:
            raise self.refuse("expired")
        expected = ivh.sign(appkey, tenant.credentials["access_token"], timestamp)
        if not signing.same(expected, params.get("signature", "")):
            raise self.refuse("signature")
        return tenant

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        if request.method != "POST" or request.path != ivh.GETPROGRESS_PATH:
            return SimResponse.json(
                envelope(code=ivh.CODE_INVALID_PARAMETER, message="interface not found"), 404
            )
        if "application/json" not in request.header("Content-Type"):
            return self._invalid("Content-Type must be application/json")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return self._invalid("request body is not valid JSON")
        payload = body.get("Payload") if isinstance(body, dict) else None
        task_id = payload.get("TaskId") if isinstance(payload, dict) else None
        if not isinstance(task_id, str) or not task_id:
            return self._invalid("Payload.TaskId is required")
        job = self.job(task_id, tenant)
        if job is None:
            return SimResponse.json(
                envelope(code=ivh.CODE_TASK_NOT_FOUND, message="task not exist")
            )
        return SimResponse.json(envelope(self.progress_payload(job)))

    def progress_payload(self, job: SimJob) -> dict[str, Any]:
        snapshot = self.snapshot(job)
        status = STATUS_BY_PHASE[snapshot.phase]
        payload: dict[str, Any] = {
            "Progress": snapshot.progress,
            "MediaUrl": "",
            "SubtitlesUrl": "",
            "Status": job.raw_state or status,
            "ArrayCount": snapshot.queue_position if status == "COMMIT" else 0,
            "FailCode": 0,
            "FailMessage": "",
            "Duration": 0,
        }
        if status == "COMMIT":
            payload["Progress"] = 0
        elif status == "SUCCESS":
            sentences = demo_sentences(job)
            payload.update(
                Progress=100,
                MediaUrl=self.media_url(job),
                SubtitlesUrl=self.subtitles_url(job),
                Duration=sentences[-1][-1][2] + 500,
                TextTimestampResult=[
                    {
                        "Sentence": " ".join(word for word, _, _ in words),
                        "Words": [
                            {
                                "Word": word,
                                "StartTimestamp": start * ivh.TICKS_PER_MS,
                                "EndTimestamp": end * ivh.TICKS_PER_MS,
                            }
                            for word, start, end in words
                        ],
                    }
                    for words in sentences
                ],
            )
        elif status == "FAIL":
            code, message = self.failure_for(job)
            payload.update(
                Progress=-1,
                FailCode=int(code) if code.isdigit() else code,
                FailMessage=message,
            )
        if job.extra.get("omit_status"):
            # Answer like the getprogress doc's own sample, which has no Status field.
            del payload["Status"]
        return payload

    def _invalid(self, message: str) -> SimResponse:
        return SimResponse.json(envelope(code=ivh.CODE_INVALID_PARAMETER, message=message))

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        return SimResponse.json(envelope(code=int(code), message=message), status)

    def wrong_shape(self) -> SimResponse:
        # The envelope is there but Payload is not an object.
        body = envelope()
        body["Payload"] = [{"Status": {"nested": True}}]
        return SimResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


Simulator = IvhSimulator
