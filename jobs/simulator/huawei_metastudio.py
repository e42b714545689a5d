"""Fake Huawei MetaStudio: the digital-human video list (and show) API behind APIG.

The gateway half verifies SDK-HMAC-SHA256 with the adapter's own signer, enforces the
±15 minute X-Sdk-Date window and X-Project-Id, and locks an AK for five minutes after
five consecutive failed checks, as the real gateway does. The service half answers
`GET /v1/{project_id}/digital-human-videos` with its filters and pagination, the
type-specific show calls, and their `POST …/{job_id}/cancel` for waiting jobs.
"""

from __future__ import annotations

import calendar
import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from jobs.providers import huawei_metastudio as wire
from jobs.providers import signing
from jobs.simulator.base import ProviderSimulator, Refusal
from jobs.simulator.clock import Phase, SimJob
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import Reject, SimRequest, SimResponse

if TYPE_CHECKING:
    from jobs.simulator.server import Simulator as SimulatorCore

# APIG's published lockout: five failed AK/SK checks in a row lock the AK for 5 minutes.
LOCKOUT_FAILURES = 5
LOCKOUT_SECONDS = 5 * 60
# The list's documented default window: "task records of the past month".
DEFAULT_WINDOW_SECONDS = 30 * 24 * 3600
MAX_OFFSET = 2_147_483_647

STATE_BY_PHASE = {
    Phase.QUEUED: "WAITING",
    Phase.RUNNING: "PROCESSING",
    Phase.PAUSED: "BLOCK",
    Phase.SUCCEEDED: "SUCCEED",
    Phase.FAILED: "FAILED",
    Phase.CANCELED: "CANCELED",
}
SUCCESS_SPELLINGS = frozenset({"SUCCEED", "SUCCESS"})
SHOW_PATHS = {
    "2d-digital-human-videos": wire.KIND_2D,
    "photo-digital-human-videos": wire.KIND_PHOTO,
}

# Gateway messages as Huawei's APIG FAQ and live captures print them.
SIGNATURE_MESSAGE = "Incorrect IAM authentication information: verify aksk signature fail"
LOCKED_MESSAGE = (
    "Incorrect IAM authentication information: AK access failed to reach the limit,forbidden."
)
NO_API_MESSAGE = "The API does not exist or has not been published in the environment"
# The gateway's refusals; a skewed X-Sdk-Date fails the same check with the same words on
# the real gateway. The live gateway names the AK (not a secret) in the unknown-key message.
REFUSALS: dict[str, Refusal] = {
    "signature": (401, "APIGW.0301", SIGNATURE_MESSAGE),
    "expired": (401, "APIGW.0301", SIGNATURE_MESSAGE),
    "unknown_key": (
        401,
        "APIGW.0301",
        "Incorrect IAM authentication information: Get secretKey failed,err:ak not exist",
    ),
    "locked": (401, "APIGW.0301", LOCKED_MESSAGE),
    "throttled": (
        429,
        "APIGW.0308",
        "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 second",
    ),
}


@dataclass
class _Strikes:
    """Consecutive failed AK/SK checks of one AK, for the lockout."""

    tenant: Tenant  # the tenant object they belong to; a reset world starts afresh
    failures: int = 0
    locked_until: float = 0.0


def _rfc3339(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def _parse_rfc3339(text: str) -> float | None:
    value = text.strip()
    if "T" not in value:
        return None
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _request_id(seed: str) -> str:
    return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()


class MetaStudioSimulator(ProviderSimulator):
    code = "huawei_metastudio"
    key_field = "access_key"
    demo_credentials = {
        "access_key": "SIMMETASTUDIOAK0DEMO1",
        "secret_key": "simMetaStudioSK0demo0NotARealKey0000000000",
    }
    demo_options = {"project_id": "5e1f0c9a7b3d4e2f8a6c0b1d2e3f4a5b"}
    demo_region = "cn-north-4"
    demo_kinds = (wire.KIND_2D, wire.KIND_PHOTO)
    refusals = REFUSALS
    # Simulator inventions: MetaStudio does not publish its job-level error codes.
    failure_codes = (
        ("MSS.00000005", "video rendering failed"),
        ("MSS.00000006", "speech synthesis failed for the script"),
        ("MSS.00000007", "the model asset is unavailable"),
    )

    def __init__(self, sim: SimulatorCore) -> None:
        super().__init__(sim)
        self._strikes: dict[str, _Strikes] = {}
        self._strikes_lock = threading.Lock()

    def matches(self, request: SimRequest) -> bool:
        return request.path.startswith("/v1/") and "digital-human-videos" in request.path

    # --- the gateway ------------------------------------------------------------

    def authenticate(self, request: SimRequest) -> Tenant:
        parsed = wire.parse_authorization(request.header("Authorization"))
        if parsed is None:
            raise self.refuse("signature")
        access_key, signed_names, signature = parsed
        tenant = self.tenant(access_key)
        now = self.now()
        with self._strikes_lock:
            strikes = self._strikes.get(access_key)
            if strikes is None or strikes.tenant is not tenant:
                strikes = self._strikes[access_key] = _Strikes(tenant)
            if strikes.locked_until > now:
                raise self.refuse("locked")
            if strikes.locked_until:  # the lock ran out: a fresh start
                strikes.failures, strikes.locked_until = 0, 0.0
        reason, canonical = self._verify(request, tenant, signed_names, signature, now)
        with self._strikes_lock:
            if reason is None:
                strikes.failures = 0
                return tenant
            strikes.failures += 1
            if strikes.failures >= LOCKOUT_FAILURES:
                strikes.locked_until = now + LOCKOUT_SECONDS
        raise Reject(self.auth_error(reason, canonical))

    def _verify(
        self,
        request: SimRequest,
        tenant: Tenant,
        signed_names: list[str],
        signature: str,
        now: float,
    ) -> tuple[str | None, str]:
        """(failure reason or None, the canonical request the gateway computed)."""
        date = request.header("X-Sdk-Date")
        try:
            signed_at = calendar.timegm(time.strptime(date, wire.SDK_DATE_FORMAT))
        except ValueError:
            return "signature", ""
        names = [name.lower() for name in signed_names]
        if not {"host", "x-sdk-date"} <= set(names):
            return "signature", ""
        headers: dict[str, str] = {}
        for name in names:
            value = request.headers.get(name)
            if value is None:
                return "signature", ""
            headers[name] = value
        # Split the query as sent (not parse_qs: "+" is not a space to this signer).
        query = []
        for pair in filter(None, request.query.split("&")):
            name, _, value = pair.partition("=")
            query.append((unquote(name), unquote(value)))
        canonical = wire.canonical_request(
            request.method, request.path, query, headers, request.body
        )
        expected = signing.hmac_sha256(
            tenant.credentials["secret_key"], wire.string_to_sign(canonical, date)
        ).hex()
        if not signing.same(expected, signature):
            return "signature", canonical
        if abs(now - signed_at) > wire.SDK_DATE_TOLERANCE_SECONDS:
            return "expired", canonical
        if request.header("X-Project-Id") != tenant.options.get("project_id"):
            return "signature", canonical
        return None, canonical

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        """APIG's envelope (the gateway refused the call before the service saw it)."""
        request_id = _request_id(f"{code}{message}{time.monotonic_ns()}")
        return SimResponse.json(
            {"error_msg": message, "error_code": code, "request_id": request_id},
            status,
            **{"X-Request-Id": request_id},
        )

    def auth_error(self, reason: str, canonical: str = "") -> SimResponse:
        status, code, message = self.refusals.get(reason, self.refusals["signature"])
        if canonical:
            # The gateway appends its canonical request with "|" for newlines; it holds
            # method, path, query, signed header values and the body hash, never the SK.
            message += ", " + canonical.replace("\n", "|")
        return self.error(status, code, message)

    def wrong_shape(self) -> SimResponse:
        # Valid JSON in MetaStudio's envelope, but a job whose fields have the wrong types.
        return SimResponse.json({"count": "1", "jobs": [{"job_id": 42, "state": ["SUCCEED"]}]})

    def internal_error(self) -> SimResponse:
        return self._service_error(500, "MSS.00000004", "Internal Error")

    def _service_error(self, status: int, code: str, message: str) -> SimResponse:
        return SimResponse.json(
            {"error_code": code, "error_msg": message},
            status,
            **{"X-Request-Id": _request_id(f"{code}{time.monotonic_ns()}")},
        )

    def _invalid(self, name: str) -> Reject:
        # The ": <name>" suffix is a simulator invention; the docs print "Invalid parameter".
        return Reject(self._service_error(400, "MSS.00000003", f"Invalid parameter: {name}"))

    # --- the service ------------------------------------------------------------

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        parts = request.path.strip("/").split("/")
        cancel = request.method == "POST" and len(parts) == 5 and parts[4] == "cancel"
        if (request.method != "GET" and not cancel) or len(parts) < 3:
            return self.error(404, "APIGW.0101", NO_API_MESSAGE)
        if parts[1] != tenant.options.get("project_id"):
            return self._service_error(401, "MSS.00000001", "Unauthorized")
        if cancel:
            if parts[2] not in SHOW_PATHS:
                return self.error(404, "APIGW.0101", NO_API_MESSAGE)
            return self._cancel(unquote(parts[3]), SHOW_PATHS[parts[2]], tenant)
        if len(parts) == 3 and parts[2] == "digital-human-videos":
            return self._list(request, tenant)
        if len(parts) == 4 and parts[2] in SHOW_PATHS:
            return self._show(parts[3], SHOW_PATHS[parts[2]], tenant)
        return self.error(404, "APIGW.0101", NO_API_MESSAGE)

    def _show(self, job_id: str, kind: str, tenant: Tenant) -> SimResponse:
        job = self.job(job_id, tenant)
        if job is None or wire.normalize_kind(self._kind(job)) != kind:
            return self._service_error(404, "MSS.00000002", "Not Found")
        return SimResponse.json(self.render(job, self.now()))

    def _cancel(self, job_id: str, kind: str, tenant: Tenant) -> SimResponse:
        job = self.job(job_id, tenant)
        if job is None or wire.normalize_kind(self._kind(job)) != kind:
            # The cancel doc lists 400/401/500 only; a job of the other type, or none, is
            # answered like the show call's unknown job [UNCERTAIN].
            return self._service_error(404, "MSS.00000002", "Not Found")
        if not self.cancel_waiting(job):
            # The doc's 400 example; the ": <reason>" suffix is the simulator's invention.
            return self._service_error(
                400, "MSS.00000003", "Invalid parameter: only a WAITING job can be canceled"
            )
        # 200, no body, the request id in X-Request-Id (Cancel2DDigitalHumanVideoResponse).
        return SimResponse(
            200, b"", {"X-Request-Id": _request_id(f"cancel{job_id}{time.monotonic_ns()}")}
        )

    def _list(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        params = {name: values[0] for name, values in request.params.items()}
        offset = self._int_param(params, "offset", 0, 0, MAX_OFFSET)
        limit = self._int_param(params, "limit", 10, 1, 100)
        sort_dir = params.get("sort_dir", "asc")
        if sort_dir not in ("asc", "desc"):
            raise self._invalid("sort_dir")
        sort_key = params.get("sort_key", "create_time")
        if sort_key not in ("create_time", "update_time", "asset_order"):
            raise self._invalid("sort_key")
        now = self.now()
        since = self._time_param(params, "create_since")
        if since is None:
            since = now - DEFAULT_WINDOW_SECONDS
        until = self._time_param(params, "create_until")
        states = {s for s in params.get("state", "").split(",") if s}
        if states & SUCCESS_SPELLINGS:
            states |= SUCCESS_SPELLINGS
        job_type = wire.normalize_kind(params.get("job_type", ""))

        ids = [i for i in params.get("job_ids", "").split(",") if i]
        if params.get("job_id"):
            ids.append(params["job_id"])
        if ids:
            candidates = [self.job(i, tenant) for i in dict.fromkeys(ids)]
            jobs = [j for j in candidates if j is not None]
        else:
            jobs = self.jobs(tenant)

        rendered = []
        for job in jobs:
            if job.created < since or (until is not None and job.created > until):
                continue
            item = self.render(job, now)
            if states and item["state"] not in states:
                continue
            if job_type and wire.normalize_kind(item["job_type"]) != job_type:
                continue
            rendered.append((job, item))
        time_field = "lastupdate_time" if sort_key == "update_time" else "create_time"
        rendered.sort(key=lambda pair: (pair[1][time_field], pair[0].external_id))
        if sort_dir == "desc":
            rendered.reverse()
        page = [item for _, item in rendered[offset : offset + limit]]
        return SimResponse.json(
            {"count": len(rendered), "jobs": page},
            200,
            **{"X-Request-Id": _request_id(f"list{time.monotonic_ns()}")},
        )

    def _int_param(
        self, params: dict[str, str], name: str, default: int, low: int, high: int
    ) -> int:
        if name not in params:
            return default
        try:
            value = int(params[name])
        except ValueError:
            raise self._invalid(name) from None
        if not low <= value <= high:
            raise self._invalid(name)
        return value

    def _time_param(self, params: dict[str, str], name: str) -> float | None:
        if name not in params:
            return None
        value = _parse_rfc3339(params[name])
        if value is None:
            raise self._invalid(name)
        return value

    # --- rendering --------------------------------------------------------------

    def _kind(self, job: SimJob) -> str:
        return job.kind or self.demo_kinds[job.seed % len(self.demo_kinds)]

    def _state(self, job: SimJob, phase: Phase) -> str:
        if job.raw_state:
            return job.raw_state
        if phase is Phase.SUCCEEDED and job.extra.get("success_spelling") == "SUCCESS":
            return "SUCCESS"  # what the docs' own photo-video example prints
        return STATE_BY_PHASE[phase]

    def render(self, job: SimJob, now: float) -> dict[str, Any]:
        """One `DigitalHumanVideo` object as the list and show calls return it."""
        snap = job.snapshot(now)
        succeeded = snap.phase is Phase.SUCCEEDED
        output: dict[str, Any] = {
            "asset_id": None,
            "asset_name": job.name or f"Evening news {job.seed % 1000:03}",
            "cover_url": None,
            "preview_video_url": None,
        }
        if succeeded:
            output.update(
                asset_id=hashlib.md5(job.external_id.encode(), usedforsecurity=False).hexdigest(),
                cover_url=self.cover_url(job),
                preview_video_url=self.media_url(job),
            )
        error_info = None
        if snap.phase is Phase.FAILED:
            code, message = self.failure_for(job)
            error_info = {"error_code": code, "error_msg": message}
        updated = max(t for t in (snap.created, snap.started, snap.finished) if t is not None)
        return {
            "job_id": job.external_id,
            "state": self._state(job, snap.phase),
            "job_type": self._kind(job),
            "start_time": _rfc3339(snap.started),
            "end_time": _rfc3339(snap.finished),
            # Seconds of video; the served demo media is a 12 s clip.
            "duration": float(job.extra.get("duration", 12.0)) if succeeded else None,
            "output_asset_config": output,
            "error_info": error_info,
            "create_time": _rfc3339(snap.created),
            "lastupdate_time": _rfc3339(updated),
        }


Simulator = MetaStudioSimulator
