"""Fake Tencent VOD API 3.0: DescribeTaskDetail, DescribeTasks and the event queue
(PullEvents, ConfirmEvents, DescribeEventsState) behind TC3 signatures.

Requests are claimed by their `X-TC-Action` header, verified by recomputing the TC3
signature with the adapter's own signer, and answered in VOD's shapes: HTTP 200 always,
`Response.Error` for request-level failures, a top-level Status of WAITING / PROCESSING /
FINISH / ABORTED and the type-specific sub-task object (`ProcedureTask`, `EditMediaTask`,
`ComposeMediaTask`, `AigcVideoTask`...) carrying ErrCode / ErrCodeExt / Progress / Output.
That rendering lives in tencent_vod_tasks.py; this module is the API and its rules.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any, ClassVar

from jobs.providers import signing
from jobs.providers.base import parse_time
from jobs.providers.tencent_vod import (
    API_VERSION,
    CLOCK_TOLERANCE_SECONDS,
    SERVICE,
    parse_tc3_authorization,
    tc3_date,
    tc3_sign,
)
from jobs.simulator.base import Refusal, SimulatorWorld
from jobs.simulator.tenants import Tenant
from jobs.simulator.tencent_vod_events import NO_EVENT, PULL_LIMIT, VodEvents
from jobs.simulator.tencent_vod_tasks import TOP_LEVEL_STATUS, VodTasks, iso
from jobs.simulator.wire import SimRequest, SimResponse

_RETENTION_SECONDS = 72 * 3600
# Every refusal is HTTP 200 with `Response.Error`, as the API 3.0 gateway answers.
REFUSALS: dict[str, Refusal] = {
    "invalid": (
        200,
        "AuthFailure.InvalidAuthorization",
        "Authorization header is not in the TC3-HMAC-SHA256 format.",
    ),
    "expired": (
        200,
        "AuthFailure.SignatureExpire",
        "Signature expired. Timestamp and server time cannot differ by more than 5 minutes.",
    ),
    "unknown_key": (
        200,
        "AuthFailure.SecretIdNotFound",
        "The SecretId is not found, please ensure that your SecretId is correct.",
    ),
    "signature": (
        200,
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated. Please check your signature is correct.",
    ),
    "throttled": (
        200,
        "RequestLimitExceeded",
        "Your current request times exceeds the frequency limit `100` for a second. "
        "Please reduce the frequency of calls.",
    ),
    "internal": (200, "InternalError", "An internal error has occurred. Please retry later."),
}


def _error(code: str, message: str) -> SimResponse:
    return SimResponse.json(
        {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}}
    )


class TencentVodSimulator(VodTasks):
    code: ClassVar[str] = "tencent_vod"
    key_field: ClassVar[str] = "secret_id"
    demo_credentials: ClassVar[dict[str, str]] = {
        "secret_id": "AKIDsimvod7Qf3LZ0xW8nK2pR5tY9bE1",
        "secret_key": "simvodKey4Hq8Xz2Lm6Nc0Vb3Tg7Jd5Ws",
    }
    demo_options: ClassVar[dict[str, str]] = {"sub_app_id": "1500000001"}
    demo_region: ClassVar[str] = ""
    demo_kinds: ClassVar[tuple[str, ...]] = (
        "Procedure",
        "EditMedia",
        "ComposeMedia",
        "AigcVideoTask",
    )
    refusals: ClassVar[dict[str, Refusal]] = REFUSALS
    failure_codes: ClassVar[tuple[tuple[str, str], ...]] = (
        ("SourceFileError", "Source file error: the video data may be corrupted."),
        ("InvalidInput.DefinitionNotExist", "Invalid parameter: the template does not exist."),
        ("InternalError", "Internal service error. Please try again."),
        ("ContentModerationFailed", "The content did not pass moderation."),
    )

    def __init__(self, sim: SimulatorWorld) -> None:
        super().__init__(sim)
        # The reliable (PULL) event queues of the tenants that opted in.
        self.events = VodEvents(sim.now)

    # --- routing and authentication -------------------------------------------------

    def matches(self, request: SimRequest) -> bool:
        return bool(request.header("X-TC-Action"))

    def authenticate(self, request: SimRequest) -> Tenant:
        parsed = parse_tc3_authorization(request.header("Authorization"))
        if parsed is None:
            raise self.refuse("invalid")
        tenant = self.tenant(parsed.secret_id)
        try:
            timestamp = int(request.header("X-TC-Timestamp"))
        except ValueError:
            raise self.refuse("expired") from None
        if abs(self.now() - timestamp) > CLOCK_TOLERANCE_SECONDS:
            raise self.refuse("expired")
        # The real API requires content-type and host to be signed.
        if (
            parsed.service != SERVICE
            or parsed.date != tc3_date(timestamp)
            or not {"content-type", "host"} <= set(parsed.signed_headers)
        ):
            raise self.refuse("signature")
        headers = {name: request.header(name) for name in parsed.signed_headers if name != "host"}
        expected = tc3_sign(
            parsed.secret_id,
            tenant.credentials["secret_key"],
            SERVICE,
            request.header("Host"),
            request.method,
            request.query,
            headers,
            request.body,
            timestamp,
        )
        if not signing.same(expected.signature, parsed.signature):
            raise self.refuse("signature")
        return tenant

    # --- API ------------------------------------------------------------------------

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        if request.header("X-TC-Version") != API_VERSION:
            return _error("NoSuchVersion", "The requested API version does not exist.")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error("InvalidParameter", "The request body is not a JSON object.")
        wanted_app = tenant.options.get("sub_app_id")
        given_app = body.get("SubAppId")
        if given_app is not None and (
            not isinstance(given_app, int) or str(given_app) != str(wanted_app or given_app)
        ):
            return _error(
                "InvalidParameterValue.SubAppId", "Incorrect parameter value: subapplication ID."
            )
        action = request.header("X-TC-Action")
        if action == "DescribeTaskDetail":
            return self._describe_task_detail(body, tenant)
        if action == "DescribeTasks":
            return self._describe_tasks(body, tenant)
        if action in ("PullEvents", "ConfirmEvents", "DescribeEventsState"):
            return self._event_action(action, body, tenant)
        return _error("InvalidAction", f"The action {action} does not exist.")

    def _describe_task_detail(self, body: dict[str, Any], tenant: Tenant) -> SimResponse:
        task_id = body.get("TaskId")
        if not isinstance(task_id, str) or not task_id:
            return _error("MissingParameter", "The request is missing a required parameter TaskId.")
        job = self.job(task_id, tenant)
        if job is None:
            return _error("InvalidParameterValue.TaskId", "The task ID does not exist.")
        return SimResponse.json({"Response": self.render_detail(job)})

    def _describe_tasks(self, body: dict[str, Any], tenant: Tenant) -> SimResponse:
        limit = body.get("Limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            return _error("InvalidParameterValue.Limit", "Limit must be between 1 and 100.")
        status = body.get("Status") or ""
        if status not in ("", "WAITING", "PROCESSING", "FINISH"):
            return _error("InvalidParameterValue.Status", "Invalid task status filter.")
        offset = _decode_token(body.get("ScrollToken") or "")
        if offset is None:
            return _error("InvalidParameterValue.ScrollToken", "Invalid ScrollToken.")
        now = self.now()
        rows = []
        for job in self.jobs(tenant):
            snap = job.snapshot(now)
            if now - snap.created > _RETENTION_SECONDS:
                continue
            raw_status = job.raw_state or TOP_LEVEL_STATUS[snap.phase]
            if status and raw_status != status:
                continue
            if not _in_range(body.get("CreateTime"), snap.created):
                continue
            if body.get("FinishTime") is not None and (
                snap.finished is None or not _in_range(body["FinishTime"], snap.finished)
            ):
                continue
            rows.append((snap.created, job.external_id, job, snap, raw_status))
        rows.sort(key=lambda row: (-row[0], row[1]))
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return SimResponse.json(
            {
                "Response": {
                    "TaskSet": [
                        {
                            "TaskId": job.external_id,
                            "Status": raw_status,
                            "FileId": "",
                            "TaskType": self._kind(job),
                            "CreateTime": iso(snap.created),
                            "BeginProcessTime": iso(snap.started),
                            "FinishTime": iso(snap.finished),
                            "SessionId": "",
                            "SessionContext": "",
                        }
                        for _, _, job, snap, raw_status in page
                    ],
                    "ScrollToken": _encode_token(offset + limit) if more else "",
                    "RequestId": str(uuid.uuid4()),
                }
            }
        )

    def _event_action(self, action: str, body: dict[str, Any], tenant: Tenant) -> SimResponse:
        queue = self.events.queue(tenant.credentials[self.key_field])
        request_id = str(uuid.uuid4())
        if action == "PullEvents":
            events = queue.pull() if queue is not None else []
            if not events:
                return _error(*NO_EVENT)
            return SimResponse.json({"Response": {"EventSet": events, "RequestId": request_id}})
        if action == "DescribeEventsState":
            count = queue.count() if queue is not None else 0
            return SimResponse.json(
                {"Response": {"CountOfEventsToPull": count, "RequestId": request_id}}
            )
        handles = body.get("EventHandles")
        if (
            not isinstance(handles, list)
            or not 1 <= len(handles) <= PULL_LIMIT
            or not all(isinstance(h, str) for h in handles)
        ):
            return _error(
                "InvalidParameterValue.EventHandles", "EventHandles must list 1 to 16 handles."
            )
        if queue is not None:
            queue.confirm(handles)
        return SimResponse.json({"Response": {"RequestId": request_id}})

    # --- provider-shaped failures ------------------------------------------------------

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        return _error(str(code), message)

    def wrong_shape(self) -> SimResponse:
        return SimResponse.json(
            {"Response": {"TaskType": 7, "Status": {"nested": True}, "RequestId": "x"}}
        )


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"vod-scroll:{offset}".encode()).decode()


def _decode_token(token: Any) -> int | None:
    if token == "":
        return 0
    if not isinstance(token, str):
        return None
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "vod-scroll" and number.isdigit() else None


def _in_range(time_range: Any, moment: float) -> bool:
    """Whether `moment` lies in a TimeRange {After, Before} (ISO strings; missing = open)."""
    if not isinstance(time_range, dict):
        return True
    after, before = parse_time(time_range.get("After")), parse_time(time_range.get("Before"))
    if after is not None and moment < after.timestamp():
        return False
    return not (before is not None and moment > before.timestamp())


Simulator = TencentVodSimulator
