"""Fake Tencent VOD API 3.0: DescribeTaskDetail and DescribeTasks behind TC3 signatures.

Requests are claimed by their `X-TC-Action` header, verified by recomputing the TC3
signature with the adapter's own signer, and answered in VOD's shapes: HTTP 200 always,
`Response.Error` for request-level failures, a top-level Status of WAITING / PROCESSING /
FINISH / ABORTED and the type-specific sub-task object (`ProcedureTask`, `EditMediaTask`,
`ComposeMediaTask`, `AigcVideoTask`...) carrying ErrCode / ErrCodeExt / Progress / Output.
"""

from __future__ import annotations

import base64
import binascii
import time
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
from jobs.simulator.base import ProviderSimulator, Refusal
from jobs.simulator.clock import Phase, SimJob, Snapshot
from jobs.simulator.wire import SimRequest, SimResponse
from jobs.simulator.world import Tenant

_TOP_LEVEL_STATUS = {
    Phase.QUEUED: "WAITING",
    Phase.RUNNING: "PROCESSING",
    Phase.PAUSED: "PROCESSING",  # VOD has no paused state
    Phase.SUCCEEDED: "FINISH",
    Phase.FAILED: "FINISH",  # failure shows only in the sub-task
    Phase.CANCELED: "ABORTED",
}
# DescribeTaskDetail lists every sub-task key, all null but the one that matches TaskType.
_SUBTASK_KEYS = (
    "ProcedureTask",
    "EditMediaTask",
    "WechatPublishTask",
    "ComposeMediaTask",
    "SplitMediaTask",
    "WechatMiniProgramPublishTask",
    "PullUploadTask",
    "TranscodeTask",
    "ConcatTask",
    "ClipTask",
    "CreateImageSpriteTask",
    "SnapshotByTimeOffsetTask",
    "RemoveWatermarkTask",
    "RebuildMediaTask",
    "ExtractTraceWatermarkTask",
    "ExtractCopyRightWatermarkTask",
    "ReviewAudioVideoTask",
    "ReduceMediaBitrateTask",
    "DescribeFileAttributesTask",
    "QualityInspectTask",
    "QualityEnhanceTask",
    "ComplexAdaptiveDynamicStreamingTask",
    "ProcessMediaByMPSTask",
    "AigcImageTask",
    "AigcVideoTask",
)
# The deprecated numeric ErrCode that accompanies an ErrCodeExt (EditMediaTask docs):
# 40000 bad input, 60000 source file error, 70000 internal error.
_LEGACY_CODES = (
    ("InvalidInput", 40000),
    ("InvalidParameter", 40000),
    ("Content", 40000),
    ("SourceFileError", 60000),
)
_RETENTION_SECONDS = 72 * 3600
_MEDIA_SECONDS = 12.0  # the length of the WAV the simulator serves


def _iso(moment: float | None) -> str:
    # Unset times are empty strings in VOD answers.
    if moment is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _legacy_code(code: str) -> int:
    if code.isdigit():
        return int(code)
    return next((number for prefix, number in _LEGACY_CODES if code.startswith(prefix)), 70000)


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


class TencentVodSimulator(ProviderSimulator):
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
            raw_status = job.raw_state or _TOP_LEVEL_STATUS[snap.phase]
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
                            "CreateTime": _iso(snap.created),
                            "BeginProcessTime": _iso(snap.started),
                            "FinishTime": _iso(snap.finished),
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

    # --- rendering -------------------------------------------------------------------

    def _kind(self, job: SimJob) -> str:
        return job.kind or self.demo_kinds[job.seed % len(self.demo_kinds)]

    def render_detail(self, job: SimJob) -> dict[str, Any]:
        """The DescribeTaskDetail `Response` object for a job at the simulator's now."""
        snap = self.snapshot(job)
        kind = self._kind(job)
        key = kind if kind.endswith("Task") else f"{kind}Task"
        response: dict[str, Any] = {
            "TaskType": kind,
            "Status": job.raw_state or _TOP_LEVEL_STATUS[snap.phase],
            "CreateTime": _iso(snap.created),
            "BeginProcessTime": _iso(snap.started),
            "FinishTime": _iso(snap.finished),
        }
        response.update(dict.fromkeys(_SUBTASK_KEYS))
        builder = {
            "Procedure": self._procedure_task,
            "EditMedia": self._edit_media_task,
            "ComposeMedia": self._compose_media_task,
            "AigcVideoTask": self._aigc_video_task,
        }.get(kind, self._generic_task)
        response[key] = builder(job, snap)
        response["RequestId"] = str(uuid.uuid4())
        return response

    def _name(self, job: SimJob) -> str:
        return job.name or f"clip-{job.seed % 10000:04d}"

    def _errors(self, job: SimJob, snap: Snapshot, *, with_ext: bool = True) -> dict[str, Any]:
        """ErrCode / ErrCodeExt / Message for a sub-task in this snapshot."""
        fields: dict[str, Any] = {"ErrCode": 0, "Message": ""}
        if with_ext:
            fields["ErrCodeExt"] = ""
        if snap.phase is Phase.FAILED:
            code, message = self.failure_for(job)
            fields["ErrCode"] = _legacy_code(code)
            fields["Message"] = message
            if with_ext and not code.isdigit():
                fields["ErrCodeExt"] = code
        return fields

    def _file_output(self, job: SimJob, snap: Snapshot) -> dict[str, Any] | None:
        if snap.phase is not Phase.SUCCEEDED:
            return None
        return {
            "FileType": "wav",
            "FileUrl": self.media_url(job),
            "FileId": str(5285890780000000000 + job.seed % 10**9),
            "MediaName": self._name(job),
            "ClassId": 0,
            "ExpireTime": "9999-12-31T23:59:59Z",
        }

    def _meta(self, snap: Snapshot) -> dict[str, Any] | None:
        if snap.phase is not Phase.SUCCEEDED:
            return None
        return {"Duration": _MEDIA_SECONDS, "Container": "wav", "Size": 96044, "Bitrate": 64000}

    @staticmethod
    def _subtask_status(snap: Snapshot) -> str:
        return "FINISH" if snap.finished is not None else "PROCESSING"

    def _procedure_task(self, job: SimJob, snap: Snapshot) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        if snap.phase is not Phase.QUEUED:
            transcode_status = {
                Phase.SUCCEEDED: "SUCCESS",
                Phase.FAILED: "FAIL",
            }.get(snap.phase, "PROCESSING")
            output = None
            if snap.phase is Phase.SUCCEEDED:
                output = {
                    "Url": self.media_url(job),
                    "Definition": 100010,
                    "Bitrate": 64000,
                    "Height": 0,
                    "Width": 0,
                    "Size": 96044,
                    "Duration": _MEDIA_SECONDS,
                    "Md5": "",
                    "Container": "wav",
                    "VideoStreamSet": [],
                    "AudioStreamSet": [{"Bitrate": 64000, "SamplingRate": 8000, "Codec": "pcm"}],
                }
            results.append(
                {
                    "Type": "Transcode",
                    "TranscodeTask": {
                        "Status": transcode_status,
                        **self._errors(job, snap),
                        "Input": {"Definition": 100010},
                        "Output": output,
                        "Progress": snap.progress,
                        "BeginProcessTime": _iso(snap.started),
                        "FinishTime": _iso(snap.finished),
                    },
                    "AnimatedGraphicTask": None,
                    "SnapshotByTimeOffsetTask": None,
                    "SampleSnapshotTask": None,
                    "ImageSpriteTask": None,
                    "CoverBySnapshotTask": None,
                    "AdaptiveDynamicStreamingTask": None,
                }
            )
        if snap.phase is Phase.SUCCEEDED:
            results.append(
                {
                    "Type": "CoverBySnapshot",
                    "TranscodeTask": None,
                    "CoverBySnapshotTask": {
                        "Status": "SUCCESS",
                        "ErrCodeExt": "",
                        "ErrCode": 0,
                        "Message": "",
                        "Input": {"Definition": 10, "PositionType": "Time", "PositionValue": 0},
                        "Output": {"CoverUrl": self.cover_url(job)},
                        "Progress": 100,
                    },
                }
            )
        return {
            "TaskId": job.external_id,
            "Status": self._subtask_status(snap),
            # Deprecated at this level: the real API reports the failure per sub-task.
            "ErrCode": 0,
            "Message": "",
            "FileId": str(5285890780000000000 + job.seed % 10**9),
            "FileName": self._name(job),
            "FileUrl": self.media_url(job),
            "MetaData": {"Duration": _MEDIA_SECONDS, "Container": "wav", "Size": 96044},
            "MediaProcessResultSet": results,
            "AiContentReviewResultSet": [],
            "AiAnalysisResultSet": [],
            "AiRecognitionResultSet": [],
            "TasksPriority": 0,
            "TasksNotifyMode": "Finish",
            "SessionContext": "",
            "SessionId": "",
            "Operator": "",
            "OperationType": "",
        }

    def _edit_media_task(self, job: SimJob, snap: Snapshot) -> dict[str, Any]:
        return {
            "TaskId": job.external_id,
            "Status": self._subtask_status(snap),
            **self._errors(job, snap),
            "Progress": snap.progress,
            "Input": {
                "InputType": "File",
                "FileInfoSet": [
                    {"FileId": "4565514956192708397", "StartTimeOffset": 0, "EndTimeOffset": 12}
                ],
                "StreamInfoSet": [],
            },
            "Output": self._file_output(job, snap),
            "MetaData": self._meta(snap),
            "ProcedureTaskId": "",
            "ReviewAudioVideoTaskId": "",
            "SessionId": "",
            "SessionContext": "",
        }

    def _compose_media_task(self, job: SimJob, snap: Snapshot) -> dict[str, Any]:
        # ComposeMediaTask has only the numeric ErrCode, no ErrCodeExt.
        return {
            "TaskId": job.external_id,
            "Status": self._subtask_status(snap),
            **self._errors(job, snap, with_ext=False),
            "Progress": snap.progress,
            "Input": {"Tracks": [], "Canvas": None, "Output": None},
            "Output": self._file_output(job, snap),
            "MetaData": self._meta(snap),
            "SessionId": "",
            "SessionContext": "",
        }

    def _aigc_video_task(self, job: SimJob, snap: Snapshot) -> dict[str, Any]:
        errors = self._errors(job, snap)
        if snap.phase is Phase.CANCELED:
            errors.update(ErrCodeExt="OperationCanceled", Message="The operation was canceled.")
        output: dict[str, Any] = {"FileInfos": [], "ProcedureTaskIds": []}
        if snap.phase is Phase.SUCCEEDED:
            output["FileInfos"] = [
                {
                    "StorageMode": "Temporary",
                    "MediaName": self._name(job),
                    "ClassId": 0,
                    "ExpireTime": _iso(snap.finished + 7 * 86400 if snap.finished else None),
                    "FileType": "wav",
                    "FileUrl": self.media_url(job),
                    "FileId": "",
                    "MetaData": self._meta(snap),
                }
            ]
        return {
            "TaskId": job.external_id,
            "Status": self._subtask_status(snap),
            **errors,
            "Progress": snap.progress,
            "Input": {
                "ModelName": "Hunyuan",
                "ModelVersion": "1.0",
                "FileInfos": [],
                "Prompt": "an evening news anchor reads the headlines",
            },
            "Output": output,
            "SessionId": "",
            "SessionContext": "",
        }

    def _generic_task(self, job: SimJob, snap: Snapshot) -> dict[str, Any]:
        return {
            "TaskId": job.external_id,
            "Status": self._subtask_status(snap),
            **self._errors(job, snap),
            "Progress": snap.progress,
            "Output": self._file_output(job, snap),
        }

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
