"""Tencent Cloud VOD (API 3.0, version 2018-07-17): DescribeTaskDetail and DescribeTasks,
and the reliable events (PullEvents, ConfirmEvents, DescribeEventsState).

Wire facts: docs/PROVIDERS.md §2. Every call is `POST /` with a JSON body, signed with
TC3-HMAC-SHA256 over `content-type;host`; every answer is a `Response` object, and a
request-level failure is `Response.Error`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from jobs import http
from jobs.providers import wire
from jobs.providers.base import Provider, SchemaField, status_error
from jobs.providers.errors import MALFORMED, UNKNOWN_FAILURE, Explanation, ProviderError
from jobs.providers.listing import ListingPass
from jobs.providers.notify import Notice
from jobs.providers.status import JobStatus
from jobs.providers.tencent_vod import notify
from jobs.providers.tencent_vod.catalogue import _MESSAGE_HINTS, FAILURE_CATALOGUE
from jobs.providers.tencent_vod.parsing import (
    TaskSummary,
    _summary_status,
    parse_status,
    parse_task_list,
    response_object,
)
from jobs.providers.tencent_vod.signing import SERVICE, tc3_sign
from jobs.providers.wire import as_int, iso_utc

API_VERSION = "2018-07-17"
# The official SDK signs and sends exactly this; what is signed must be what is sent.
CONTENT_TYPE = "application/json"
MAX_LIST_LIMIT = 100
LISTABLE_STATUSES = frozenset({"WAITING", "PROCESSING", "FINISH"})


def _payload(response: http.Response) -> dict[str, Any] | None:
    """The decoded body when it is `{"Response": {...}}`; None for anything else."""
    try:
        payload = wire.decode_json(response.body)
    except ValueError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("Response"), dict):
        return payload
    return None


# --- the adapter ---------------------------------------------------------------------------


class TencentVod(Provider):
    code: ClassVar[str] = "tencent_vod"
    label: ClassVar[str] = "Tencent VOD"
    notification_help: ClassVar[str] = (
        "VOD console → Callback settings: normal (push) callbacks to this URL, with the task "
        "events (ProcedureStateChanged, EditMediaComplete…) ticked."
    )
    credential_fields: ClassVar[tuple[SchemaField, ...]] = (
        SchemaField(
            "secret_id", "SecretId", secret=False, aliases=("SecretId", "TENCENTCLOUD_SECRET_ID")
        ),
        SchemaField(
            "secret_key", "SecretKey", secret=True, aliases=("SecretKey", "TENCENTCLOUD_SECRET_KEY")
        ),
    )
    credentials_help: ClassVar[str] = (
        "SecretId and SecretKey are on the CAM console's API Keys page "
        "(console.cloud.tencent.com/cam/capi; international: console.tencentcloud.com/cam/capi); "
        "the SecretKey is shown only when the key is created."
    )
    option_fields: ClassVar[tuple[SchemaField, ...]] = (
        SchemaField(
            "sub_app_id",
            "SubAppId",
            secret=False,
            required=False,
            help_text="VOD application ID; required for accounts opened on or after 2023-12-25.",
        ),
        SchemaField(
            "events",
            "Event mode",
            secret=False,
            required=False,
            help_text="pull: read VOD's reliable events (PullEvents), set to PULL in the "
            "VOD console's callback settings; empty: polling only (or push callbacks).",
        ),
    )
    default_rate_limit: ClassVar[float] = 100.0
    batch_size: ClassVar[int] = 1  # DescribeTaskDetail answers one TaskId per call
    retention: ClassVar[timedelta | None] = timedelta(days=3)
    # docs/PROVIDERS.md §2 documents how long task records stay queryable (3 days), not how long
    # an output's URL works: no media expiry is claimed.
    media_retention: ClassVar[timedelta | None] = None
    media_note: ClassVar[str] = "documents no expiry for its media links"
    lists_states: ClassVar[bool] = True  # DescribeTasks shows which tasks changed
    can_discover: ClassVar[bool] = True  # DescribeTasks lists them, 72 hours back
    can_submit: ClassVar[bool] = False
    # docs/PROVIDERS.md §2.6: VOD's API 3.0 has no call that cancels a task.
    can_cancel: ClassVar[bool] = False
    cancel_unsupported_reason: ClassVar[str] = (
        "Tencent VOD's API has no call to cancel a media-processing task once submitted."
    )
    failure_catalogue: ClassVar[Mapping[str, Explanation]] = FAILURE_CATALOGUE

    @classmethod
    def explain_failure(cls, code: str, message: str = "") -> Explanation:
        """An ErrCodeExt is looked up exactly, then by its nearest dotted parent
        (SourceFileError.NoVideoMedia -> SourceFileError), ignoring the message. A bare
        numeric ErrCode (40000/60000/70000) or "FAIL" only gives the broad class, so the
        message's hints are tried first."""
        catalogue = cls.failure_catalogue
        code = code.strip()
        if not code:
            return UNKNOWN_FAILURE
        if code == "FAIL" or code.lstrip("-").isdigit():
            lowered = message.lower()
            for word, ext_code in _MESSAGE_HINTS:
                if word in lowered and ext_code in catalogue:
                    return catalogue[ext_code]
            return catalogue.get(code, UNKNOWN_FAILURE)
        return wire.lookup_dotted(catalogue, code)

    def default_base_url(self) -> str:
        if self.region == "intl":
            return "https://vod.intl.tencentcloudapi.com"
        return "https://vod.tencentcloudapi.com"

    # --- transport ---------------------------------------------------------------

    def _sub_app_id(self) -> int | None:
        value = str(self.options.get("sub_app_id") or "").strip()
        if not value:
            return None
        number = as_int(value)
        if number is None or number <= 0:
            raise ProviderError(
                "the SubAppId option must be a positive integer",
                "InvalidParameterValue.SubAppId",
                permanent=True,
            )
        return number

    def signed_request(
        self, action: str, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, str], bytes]:
        """Build (url, headers, body) for one API call, signed over the bytes sent."""
        body_params = dict(params)
        sub_app_id = self._sub_app_id()
        if sub_app_id is not None:
            body_params["SubAppId"] = sub_app_id
        body = json.dumps(body_params, separators=(",", ":")).encode()
        timestamp = int(self.clock())
        host = self.host
        authorization = tc3_sign(
            self.credentials.get("secret_id", ""),
            self.credentials.get("secret_key", ""),
            SERVICE,
            host,
            "POST",
            "",
            {"Content-Type": CONTENT_TYPE},
            body,
            timestamp,
        ).authorization
        headers = {
            "Authorization": authorization,
            "Content-Type": CONTENT_TYPE,
            # Sent explicitly so the Host on the wire is byte-identical to the one signed.
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Language": "en-US",
        }
        return f"{self.base_url()}/", headers, body

    def call(self, action: str, params: Mapping[str, Any]) -> Any:
        """Send one signed call and return the decoded payload whose Response has no Error.

        Raises ProviderError: the classified `Response.Error`, MalformedResponse for a
        body that is not API 3.0 JSON, `HTTP<status>` (transient) for a gateway error
        page, and whatever `Provider.send` raises for transport failures.
        """
        url, headers, body = self.signed_request(action, params)
        return self.exchange("POST", url, headers=headers, body=body, parse=_payload)

    def raise_for_response(self, response: http.Response) -> None:
        """`Response.Error` classified (whatever the HTTP status), else a non-200 status
        (a gateway's page) by `status_error`, else a body that is not API 3.0 JSON."""
        payload = _payload(response)
        if payload is not None:
            response_object(
                payload,
                http_status=response.status,
                retry_after=wire.retry_after(response.headers),
                secrets=self.secret_values(),
            )
        if response.status != 200:
            raise status_error(response, f"Tencent VOD answered HTTP {response.status}")
        if payload is None:
            raise ProviderError(
                "Tencent VOD answered with a body that is not an API 3.0 response",
                MALFORMED,
                http_status=response.status,
            )

    # --- the contract --------------------------------------------------------------

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        return notify.parse(body, content_type)

    @classmethod
    def validate_settings(
        cls, credentials: Mapping[str, Any], options: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        cleaned = super().validate_settings(credentials, options)
        if cleaned[1].get("events", "pull") != "pull":
            raise ValueError("option 'events' must be 'pull' or empty")
        return cleaned

    @property
    def pulls_events(self) -> bool:
        return self.options.get("events") == "pull"

    def pull_events(self) -> list[tuple[str, Notice]]:
        """PullEvents: up to 16 events as (EventHandle, what it names); [] when none came
        within VOD's long poll (up to 5 s). Each must be confirmed within 30 s."""
        try:
            events = self.call("PullEvents", {})["Response"].get("EventSet") or []
        except ProviderError as error:
            if notify.NO_EVENT in (error.code, error.message.partition(":")[0]):
                return []  # classified as NotFound, the provider's code first in the message
            raise
        return notify.pulled(events if isinstance(events, list) else [])

    def confirm_events(self, handles: Sequence[str]) -> None:
        """ConfirmEvents: these events are handled (at most 16 per call)."""
        self.call("ConfirmEvents", {"EventHandles": list(handles)[:16]})

    def events_backlog(self) -> int:
        """DescribeEventsState: how many events VOD holds that a pull would hand out now
        (VOD counts with about 5 s of lag). Raises the MALFORMED ProviderError for a count
        that is not a non-negative integer."""
        count = self.call("DescribeEventsState", {})["Response"].get("CountOfEventsToPull")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise wire.malformed("Tencent VOD", "CountOfEventsToPull is not a count")
        return count

    def fetch_one(self, external_id: str) -> JobStatus:
        """DescribeTaskDetail; an unknown or expired TaskId is NOT_FOUND (see Provider.fetch)."""
        payload = self.call("DescribeTaskDetail", {"TaskId": external_id})
        return parse_status(payload, external_id=external_id)

    def check_credentials(self) -> None:
        """One DescribeTasks with Limit 1: proves the keys, the signature and the SubAppId."""
        self.describe_tasks(limit=1)

    def list_states(self, *, since: datetime, page_token: str = "") -> tuple[dict[str, str], str]:
        # DescribeTasks has the top-level Status only, which is what a stored job's
        # provider_state holds: a difference means DescribeTaskDetail is worth a request.
        tasks, token = self.describe_tasks(created_after=since, scroll_token=page_token)
        return {task.task_id: task.status for task in tasks}, token

    def discover(
        self, *, cursor: Mapping[str, Any], limit: int
    ) -> tuple[list[JobStatus], dict[str, Any]]:
        """One page of DescribeTasks, newest first, for tasks created since the cursor's
        time (never more than 72 hours back); paged with ScrollToken.

        A summary has no sub-tasks, so FINISH (succeeded or failed?) and ABORTED (why?)
        come back UNKNOWN, and every summary with an empty provider_state: the refresh
        engine asks DescribeTaskDetail only when a listing differs from the stored
        provider_state, so this makes it fetch each imported task's detail once.
        """
        listing = ListingPass.resume(
            cursor,
            now=datetime.fromtimestamp(self.clock(), UTC),
            first_window=self.retention or timedelta(days=3),
            retention=self.retention,
        )
        try:
            tasks, token = self.describe_tasks(
                created_after=listing.since, scroll_token=str(listing.page or ""), limit=limit
            )
        except ProviderError as exc:
            if listing.page and exc.code.startswith("InvalidParameterValue.ScrollToken"):
                return [], listing.restart()  # an expired token: list this pass again
            raise
        jobs = [_summary_status(task) for task in tasks]
        return jobs, listing.after(jobs, token)

    def describe_tasks(
        self,
        *,
        status: str | None = None,
        created_after: datetime | None = None,
        finished_after: datetime | None = None,
        scroll_token: str = "",
        limit: int = MAX_LIST_LIMIT,
    ) -> tuple[list[TaskSummary], str]:
        """One page of the account's tasks from the last 72 hours.

        `status` filters on the raw value (WAITING, PROCESSING or FINISH; ABORTED rows
        come back unfiltered); `limit` is clamped to 1..100. Returns (summaries, next
        ScrollToken), "" when there are no more pages. Raises ProviderError.
        """
        if status is not None and status not in LISTABLE_STATUSES:
            raise ValueError(f"status must be one of {sorted(LISTABLE_STATUSES)}")
        params: dict[str, Any] = {"Limit": max(1, min(MAX_LIST_LIMIT, int(limit)))}
        if status:
            params["Status"] = status
        if created_after is not None:
            params["CreateTime"] = {"After": iso_utc(created_after)}
        if finished_after is not None:
            params["FinishTime"] = {"After": iso_utc(finished_after)}
        if scroll_token:
            params["ScrollToken"] = scroll_token
        return parse_task_list(self.call("DescribeTasks", params))
