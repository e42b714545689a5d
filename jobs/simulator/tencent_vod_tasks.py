"""How the fake Tencent VOD renders a task: DescribeTaskDetail's type-specific sub-tasks.

A task answer lists every sub-task key, all null but the one its TaskType names
(`ProcedureTask`, `EditMediaTask`, `ComposeMediaTask`, `AigcVideoTask`...), each with
its own ErrCode / ErrCodeExt / Progress / Output. The API half is tencent_vod.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from jobs.simulator.base import ProviderSimulator
from jobs.simulator.clock import Phase, SimJob, Snapshot

TOP_LEVEL_STATUS = {
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
_MEDIA_SECONDS = 12.0  # the length of the WAV the simulator serves


def iso(moment: float | None) -> str:
    # Unset times are empty strings in VOD answers.
    if moment is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _legacy_code(code: str) -> int:
    if code.isdigit():
        return int(code)
    return next((number for prefix, number in _LEGACY_CODES if code.startswith(prefix)), 70000)


class VodTasks(ProviderSimulator):
    """The rendering half of the VOD simulator."""

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
            "Status": job.raw_state or TOP_LEVEL_STATUS[snap.phase],
            "CreateTime": iso(snap.created),
            "BeginProcessTime": iso(snap.started),
            "FinishTime": iso(snap.finished),
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
                        "BeginProcessTime": iso(snap.started),
                        "FinishTime": iso(snap.finished),
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
                    "ExpireTime": iso(snap.finished + 7 * 86400 if snap.finished else None),
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
