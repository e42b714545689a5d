"""Huawei Cloud MetaStudio digital-human video jobs (docs/PROVIDERS.md §4).

Status comes from the list API `GET /v1/{project_id}/digital-human-videos?job_ids=<csv>`,
because MetaStudio has no type-agnostic "show one job" call. Cancelling is type-specific
(`POST …/2d-digital-human-videos/{job_id}/cancel` or `…/photo-digital-human-videos/…`), so
the list's `job_type` picks the path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from jobs import http
from jobs.providers.base import FetchResult, Provider, SchemaField
from jobs.providers.errors import NOT_FOUND, ProviderError
from jobs.providers.huawei_metastudio import notify
from jobs.providers.huawei_metastudio.catalogue import FAILURE_CATALOGUE
from jobs.providers.huawei_metastudio.parsing import (
    KIND_2D,
    KIND_PHOTO,
    UNAUTHORIZED_CODE,
    decode_json,
    error_from_response,
    io_fields,
    parse_list,
)
from jobs.providers.huawei_metastudio.signing import (
    QueryInput,
    canonical_query,
    sdk_date,
    sdk_hmac_sha256_authorization,
)
from jobs.providers.listing import ListingPass
from jobs.providers.notify import Notice
from jobs.providers.signing import SignedRequest
from jobs.providers.status import CancelOutcome, IOField, JobStatus, State
from jobs.providers.wire import as_int, iso_utc

CONTENT_TYPE = "application/json"
DEFAULT_REGION = "cn-north-4"
LIST_PATH = "/v1/{project_id}/digital-human-videos"
# Cancel2DDigitalHumanVideo / CancelPhotoDigitalHumanVideo, by the list's job_type.
CANCEL_PATHS = {
    KIND_2D: "/v1/{project_id}/2d-digital-human-videos/{job_id}/cancel",
    KIND_PHOTO: "/v1/{project_id}/photo-digital-human-videos/{job_id}/cancel",
}
# The list endpoint takes 1-100 per page; a batch of job_ids fits in one page.
PAGE_LIMIT = 100
# Without create_since the list shows "task records of the past month" (docs/PROVIDERS.md §4.2).
LIST_WINDOW = timedelta(days=30)

_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class HuaweiMetaStudio(Provider):
    """MetaStudio video jobs of one project, polled in batches through the list API."""

    code = "huawei_metastudio"
    label = "Huawei MetaStudio"
    notification_help = (
        "Pass it as callback_config.callback_url when creating a video job, auth_type NONE, "
        "or MSS_A with this account's callback key."
    )
    credential_fields = (
        SchemaField(
            "access_key",
            "Access Key (AK)",
            secret=False,
            aliases=("ak", "AK", "Access Key Id", "HUAWEICLOUD_SDK_AK"),
        ),
        SchemaField(
            "secret_key",
            "Secret Key (SK)",
            secret=True,
            aliases=("sk", "SK", "Secret Access Key", "HUAWEICLOUD_SDK_SK"),
        ),
        SchemaField(
            "callback_key",
            "Callback key (MSS_A)",
            required=False,
            help_text="callback_config.key of jobs created with auth_type MSS_A.",
        ),
    )
    option_fields = (
        SchemaField(
            "project_id",
            "Project ID",
            secret=False,
            required=True,
            help_text="My Credentials → API Credentials lists the project ID of each region.",
            aliases=("ProjectId", "HUAWEICLOUD_SDK_PROJECT_ID"),
        ),
    )
    credentials_help = (
        "In the Huawei Cloud console, open My Credentials → Access Keys "
        "(console.huaweicloud.com/iam/#/mine/accessKey); the SK is in the credentials.csv "
        "downloaded when the key was created."
    )
    # [UNCERTAIN] the throttle row for the list API is unpublished; query APIs are 10-20/s.
    default_rate_limit = 10.0
    batch_size = PAGE_LIMIT
    # The list only looks back one month unless create_since says otherwise.
    retention = timedelta(days=30)
    # [SDK-SRC] docs/PROVIDERS.md §4 output_asset_config: "The preview URL is valid 24 h."
    media_retention = timedelta(hours=24)
    media_note = "signs preview video links for 24 hours"
    can_submit = False
    can_discover = True
    can_cancel = True
    # The cancel path names one job (docs/PROVIDERS.md §4.7); 5/3/3 cancels a second per
    # tenant (Beijing-4 / Shanghai-1 / Singapore).
    cancel_batch_size = 1
    # "Cancel a waiting … video production task" (the API's own title): WAITING only.
    cancellable_states = frozenset({State.QUEUED})
    failure_catalogue = FAILURE_CATALOGUE

    def default_base_url(self) -> str:
        region = (self.region or DEFAULT_REGION).strip().lower()
        if not _REGION.match(region):
            raise ProviderError(
                f"{region!r} is not a Huawei Cloud region", "InvalidRegion", permanent=True
            )
        return f"https://metastudio.{region}.myhuaweicloud.com"

    @property
    def project_id(self) -> str:
        return str(self.options.get("project_id", "")).strip()

    def _list(self, query: QueryInput) -> Any:
        """One signed list call; returns the decoded JSON of a 2xx answer.

        Raises ProviderError for every other outcome (see error_from_response).
        """
        path = LIST_PATH.format(project_id=quote(self.project_id, safe=""))
        return self._call("GET", path, query, lambda response: decode_json(response.body))

    def _call(
        self, method: str, path: str, query: QueryInput, parse: Callable[[http.Response], Any]
    ) -> Any:
        """One SDK-HMAC-SHA256-signed call without a body; `parse` reads a 2xx answer."""
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-Project-Id": self.project_id,
            "X-Sdk-Date": sdk_date(self.clock()),
        }
        headers["Authorization"] = sdk_hmac_sha256_authorization(
            self.credentials.get("access_key", ""),
            self.credentials.get("secret_key", ""),
            SignedRequest(method, path, query, headers),
        )
        query_string = canonical_query(query)
        url = f"{self.base_url()}{path}" + (f"?{query_string}" if query_string else "")
        return self.exchange(method, url, headers=headers, parse=parse)

    def raise_for_response(self, response: http.Response) -> None:
        if not 200 <= response.status < 300:
            raise error_from_response(response, self.secret_values())

    def refuses_job(self, error: ProviderError) -> bool:
        # The service's own codes (MSS.*) refuse a job; APIG's refuse the request.
        return (
            super().refuses_job(error)
            and error.code.startswith("MSS.")
            and error.code != UNAUTHORIZED_CODE
        )

    @classmethod
    def io_fields(cls, raw: Mapping[str, Any], *, endpoint: str = "") -> list[IOField]:
        return io_fields(raw)

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        return notify.parse(body, content_type)

    def verify_notification(
        self, *, url: str, query: Mapping[str, str], headers: Mapping[str, str], now: float
    ) -> None:
        if key := self.credentials.get("callback_key"):
            notify.verify(key, url=url, query=query, now=now)

    def fetch(self, external_ids: Sequence[str]) -> FetchResult:
        wanted = list(dict.fromkeys(external_ids))
        # A comma would split the csv into other ids; no MetaStudio job id has one.
        askable = [job_id for job_id in wanted if job_id and "," not in job_id]
        found: dict[str, JobStatus] = {}
        for start in range(0, len(askable), PAGE_LIMIT):
            batch = askable[start : start + PAGE_LIMIT]
            query = [("job_ids", ",".join(batch)), ("limit", PAGE_LIMIT), ("offset", 0)]
            for status in parse_list(self._list(query)):
                found.setdefault(status.external_id, status)
        results: FetchResult = {}
        for job_id in wanted:
            results[job_id] = found.get(job_id) or ProviderError(
                f"MetaStudio lists no job {job_id} (jobs older than a month drop out)",
                NOT_FOUND,
                permanent=True,
            )
        return results

    def cancel_one(self, external_id: str) -> CancelOutcome:
        """List the job (for its type), then POST its type's cancel path: an empty 200 is
        accepted, MetaStudio's error for a job that is not waiting is the refusal. A job
        the list does not show is NOT_FOUND, and nothing is cancelled."""
        listed = self.fetch([external_id])[external_id]
        if isinstance(listed, ProviderError):
            return CancelOutcome(False, listed.code, listed.message)
        template = CANCEL_PATHS.get(listed.kind)
        if template is None:
            kind = listed.kind[:64]
            return CancelOutcome(False, "UnknownJobType", f"no cancel call for job type {kind!r}")
        path = template.format(
            project_id=quote(self.project_id, safe=""), job_id=quote(external_id, safe="")
        )
        try:
            self._call("POST", path, [], lambda _: None)
        except ProviderError as exc:
            return self.refusal(exc)
        return CancelOutcome(True)

    def check_credentials(self) -> None:
        parse_list(self._list([("limit", 1), ("offset", 0)]))

    def discover(
        self, *, cursor: Mapping[str, Any], limit: int
    ) -> tuple[list[JobStatus], dict[str, Any]]:
        """One page of the list, oldest first from the cursor's `create_since` (a month
        back at first, the list's own default window); paged with offset/limit. A job
        created during a pass can only push rows back (one is listed twice), never make
        one be skipped."""
        listing = ListingPass.resume(
            cursor,
            now=datetime.fromtimestamp(self.clock(), UTC),
            first_window=LIST_WINDOW,
            retention=self.retention,
        )
        offset = as_int(listing.page) or 0
        size = max(1, min(PAGE_LIMIT, limit))
        payload = self._list(
            [
                ("create_since", iso_utc(listing.since)),
                ("limit", size),
                ("offset", offset),
                ("sort_dir", "asc"),
                ("sort_key", "create_time"),
            ]
        )
        jobs = parse_list(payload)
        total = as_int(payload.get("count"))
        more = len(jobs) >= size and (total is None or offset + len(jobs) < total)
        return jobs, listing.after(jobs, offset + len(jobs) if more else None)
