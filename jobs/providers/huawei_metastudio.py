"""Huawei Cloud MetaStudio digital-human video jobs (PROVIDERS.md §4).

Requests are signed with SDK-HMAC-SHA256 (§4.6): a canonical request over method, path
(signed with a trailing slash, sent without), the sorted query, the signed headers and
the body hash, keyed directly with the SK. Status comes from the list API
`GET /v1/{project_id}/digital-human-videos?job_ids=<csv>`, because MetaStudio has no
type-agnostic "show one job" call. Failures arrive as `{error_code, error_msg}` with
`MSS.*` codes from the service and `APIGW.*` (or `APIG.*`) codes from the gateway.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from jobs import http
from jobs.providers import signing, wire
from jobs.providers.base import (
    NOT_FOUND,
    Explanation,
    FailureCategory,
    FetchResult,
    JobStatus,
    ListingPass,
    Provider,
    ProviderError,
    SchemaField,
    State,
)
from jobs.providers.wire import as_int, iso_utc

logger = logging.getLogger(__name__)

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_TYPE = "application/json"
DEFAULT_REGION = "cn-north-4"
LIST_PATH = "/v1/{project_id}/digital-human-videos"
# The list endpoint takes 1-100 per page; a batch of job_ids fits in one page.
PAGE_LIMIT = 100
# Without create_since the list shows "task records of the past month" (§4.2).
LIST_WINDOW = timedelta(days=30)
# The gateway rejects an X-Sdk-Date more than 15 minutes from its own clock.
SDK_DATE_TOLERANCE_SECONDS = 15 * 60

QueryInput = Mapping[str, Any] | Sequence[tuple[str, Any]]

STATES = {
    "WAITING": State.QUEUED,
    "PROCESSING": State.RUNNING,
    "SUCCEED": State.SUCCEEDED,
    # The docs' own ShowPhotoDigitalHumanVideo example prints SUCCESS (§4.3).
    "SUCCESS": State.SUCCEEDED,
    "FAILED": State.FAILED,
    "CANCELED": State.CANCELED,
    # BLOCK means the job is frozen (e.g. the account is in arrears), not finished.
    "BLOCK": State.PAUSED,
}

KIND_2D = "2D_DIGITAL_HUMAN_VIDEO"
KIND_PHOTO = "PHOTO_DIGITAL_HUMAN_VIDEO"
# The list filter and web docs say PHOTO_DIGITAL_HUMAN_VIDEO, the SDK's response
# docstring DIGITAL_HUMAN_PHOTO_VIDEO; both are one kind to Clapboard.
KIND_ALIASES = {"DIGITAL_HUMAN_PHOTO_VIDEO": KIND_PHOTO}

# Gateway codes: 0301 is a failed AK/SK check (five in a row lock the AK for five
# minutes, so the engine must stop at once), 0308 is throttling.
SIGNATURE_CODES = frozenset({"APIGW.0301", "APIG.0301"})
THROTTLE_CODES = frozenset({"APIGW.0308", "APIG.0308"})
UNAUTHORIZED_CODE = "MSS.00000001"
INVALID_PARAMETER_CODE = "MSS.00000003"
INTERNAL_ERROR_CODE = "MSS.00000004"
# Gateway messages can echo a whole canonical request; keep stored messages short.
MAX_MESSAGE_CHARS = 500

_REGION = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --- signing ------------------------------------------------------------------------


def canonical_uri(path: str) -> str:
    """The path as signed: each segment re-encoded RFC 3986 style, with a trailing slash.

    The slash is a quirk of the Huawei signer; the request itself is sent without it.
    """
    uri = "/".join(signing.rfc3986(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _query_value(value: Any) -> str:
    # Matches the SDK: booleans are sent as "true"/"false", everything else via str().
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_query(query: QueryInput) -> str:
    """The query string as signed and as sent: pairs sorted by key then value, keys and
    values percent-encoded (so `a,b` becomes `a%2Cb`); list values are repeated."""
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((str(key), _query_value(v)) for v in values)
    pairs.sort()
    return "&".join(f"{signing.rfc3986(k)}={signing.rfc3986(v)}" for k, v in pairs)


def _signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    # The SDK signs every header it sends except names with "_", which gateways drop.
    return {name.lower(): str(value).strip() for name, value in headers.items() if "_" not in name}


def _sdk_date(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "x-sdk-date":
            return str(value).strip()
    raise ValueError("SDK-HMAC-SHA256 needs an X-Sdk-Date header")


def canonical_request(
    method: str,
    path: str,
    query: QueryInput,
    headers: Mapping[str, str],
    body: bytes = b"",
) -> str:
    """The SDK-HMAC-SHA256 canonical request for exactly these inputs.

    Every header given is signed (names lower-cased and sorted), so pass exactly the
    headers that will be sent and listed in SignedHeaders.
    """
    signed = _signed_headers(headers)
    names = sorted(signed)
    header_block = "".join(f"{name}:{signed[name]}\n" for name in names)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_block,
            ";".join(names),
            signing.sha256_hex(body),
        )
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{signing.sha256_hex(canonical)}"


def sdk_hmac_sha256_authorization(
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    query: QueryInput,
    headers: Mapping[str, str],
    body: bytes = b"",
) -> str:
    """The `Authorization` header value for a request.

    `headers` are the headers to sign and send, including `Host` and `X-Sdk-Date`
    (whose value is the signing time); raises ValueError without X-Sdk-Date. The SK
    keys the HMAC directly: SDK-HMAC-SHA256 has no key derivation.
    """
    canonical = canonical_request(method, path, query, headers, body)
    signature = signing.hmac_sha256(secret_key, string_to_sign(canonical, _sdk_date(headers))).hex()
    names = ";".join(sorted(_signed_headers(headers)))
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={names}, Signature={signature}"


def parse_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(access key, signed header names, signature) from an Authorization value, or
    None when it is not an SDK-HMAC-SHA256 authorization."""
    prefix = ALGORITHM + " "
    if not value.startswith(prefix):
        return None
    fields: dict[str, str] = {}
    for part in value[len(prefix) :].split(","):
        name, sep, field_value = part.strip().partition("=")
        if not sep:
            return None
        fields[name] = field_value
    access = fields.get("Access", "")
    names = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    if not (access and names and signature):
        return None
    return access, names.split(";"), signature


def sdk_date(timestamp: float) -> str:
    return time.strftime(SDK_DATE_FORMAT, time.gmtime(timestamp))


# --- parsing ------------------------------------------------------------------------


def _malformed(what: str) -> ProviderError:
    return wire.malformed("MetaStudio", what)


def _duration_ms(value: Any) -> int | None:
    # A duration of 0 is a job that has not rendered yet, not an empty video.
    return wire.seconds_to_ms(value) or None


def normalize_kind(job_type: Any) -> str:
    kind = wire.text(job_type).upper()
    return KIND_ALIASES.get(kind, kind)


def parse_status(payload: Any, external_id: str = "") -> JobStatus:
    """One `DigitalHumanVideo` object as a JobStatus.

    Raises ProviderError("MalformedResponse") when the object has no usable job id or
    state; other fields of the wrong type are treated as absent. An unknown state is
    State.UNKNOWN with the raw value kept.
    """
    if not isinstance(payload, Mapping):
        raise _malformed("a job that is not an object")
    job_id = payload.get("job_id", external_id)
    if not isinstance(job_id, str) or not job_id.strip():
        raise _malformed("a job without a job_id")
    raw_state = payload.get("state")
    if not isinstance(raw_state, str):
        raise _malformed(f"job {job_id} without a state")
    state = STATES.get(raw_state.strip().upper(), State.UNKNOWN)
    if state is State.UNKNOWN:
        logger.warning("MetaStudio job %s reports an unknown state %r", job_id, raw_state)

    output = payload.get("output_asset_config")
    output = output if isinstance(output, Mapping) else {}
    error = payload.get("error_info")
    error = error if isinstance(error, Mapping) else {}
    return JobStatus(
        external_id=job_id,
        state=state,
        provider_state=raw_state,
        # The list reports no progress or queue position; only "done" is certain.
        progress=100 if state is State.SUCCEEDED else None,
        failure_code=wire.text(error.get("error_code")),
        failure_message=wire.text(error.get("error_msg")),
        media_url=wire.text(output.get("preview_video_url")),
        cover_url=wire.text(output.get("cover_url")),
        duration_ms=_duration_ms(payload.get("duration")),
        created_at=wire.parse_time(payload.get("create_time")),
        started_at=wire.parse_time(payload.get("start_time")),
        finished_at=wire.parse_time(payload.get("end_time")),
        kind=normalize_kind(payload.get("job_type")),
        name=wire.text(output.get("asset_name")),
        raw=wire.scrub(payload),
    )


def parse_list(payload: Any) -> list[JobStatus]:
    """The jobs of a ListDigitalHumanVideo answer `{"count", "jobs": [...]}`.

    Raises ProviderError("MalformedResponse") for any other shape.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("jobs"), list):
        raise _malformed("a list answer without a jobs array")
    return [parse_status(job) for job in payload["jobs"]]


def decode_json(body: bytes) -> Any:
    """The JSON document in a response body; ProviderError("MalformedResponse") if none."""
    try:
        return wire.decode_json(body)
    except ValueError:  # includes JSONDecodeError, UnicodeDecodeError
        raise _malformed("a body that is not JSON") from None


def error_from_response(response: http.Response, secrets: Iterable[str] = ()) -> ProviderError:
    """The request-level ProviderError for a non-2xx MetaStudio answer.

    Signature and authorization failures are permanent (retrying a bad signature
    only hastens the five-strike lock); throttling carries retry_after; 5xx and
    unreadable gateway pages are transient; other 4xx are permanent for the request.
    """
    status = response.status
    code = message = ""
    try:
        body = wire.decode_json(response.body)
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        code = wire.text(body.get("error_code"))
        message = wire.text(body.get("error_msg"))
    code = code or f"HTTP{status}"
    message = http.redact(message or f"MetaStudio answered HTTP {status}", secrets)
    message = message[:MAX_MESSAGE_CHARS]

    def error(permanent: bool, retry_after: float | None = None) -> ProviderError:
        return ProviderError(
            message, code, permanent=permanent, retry_after=retry_after, http_status=status
        )

    if code in THROTTLE_CODES or status == 429:
        return error(False, wire.throttle_delay(response.headers))
    if code in SIGNATURE_CODES or code == UNAUTHORIZED_CODE or status in (401, 403):
        return error(True)
    if code == INTERNAL_ERROR_CODE or status >= 500 or status == 408:
        return error(False)
    return error(True)


# --- the adapter --------------------------------------------------------------------


# --- job failure codes ------------------------------------------------------------

# What a FAILED job's `error_info.error_code` means. Huawei documents no job-level list;
# the first three codes are in MetaStudio's error-code table (as request errors) and are
# assumed to appear in error_info too. Other entries are marked where they come from.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    "MSS.00000003": Explanation(
        FailureCategory.INPUT,
        "Invalid parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct the job and submit again.",
    ),
    "MSS.00000004": Explanation(
        FailureCategory.INTERNAL,
        "MetaStudio internal error",
        retry_helps=True,
        action="Submit the job again; if it keeps failing, open a Huawei Cloud ticket "
        "with the job ID.",
    ),
    "MSS.10001001": Explanation(
        FailureCategory.INPUT,
        "Asset not found",
        retry_helps=False,
        action="Check that the model, voice and media asset IDs of the job exist in this "
        "project and region, then submit again.",
    ),
    # Inference: the Web SDK error table lists 20010056 "2d digital human video
    # insufficient resource quota" (too many running jobs); the MSS. form is assumed.
    "MSS.20010056": Explanation(
        FailureCategory.QUOTA,
        "Too many video jobs running (likely quota)",
        retry_helps=True,
        action="Submit again once running jobs finish; if it keeps happening, stagger "
        "submissions or ask Huawei to raise the concurrency quota.",
    ),
    # Simulator inventions (jobs/simulator/huawei_metastudio.py); not Huawei's codes.
    "MSS.00000005": Explanation(
        FailureCategory.INTERNAL,
        "Video rendering failed",
        retry_helps=True,
        action="Submit the job again; if it keeps failing, open a Huawei Cloud ticket "
        "with the job ID.",
    ),
    "MSS.00000006": Explanation(
        FailureCategory.INPUT,
        "Speech synthesis failed for the script",
        retry_helps=False,
        action="Check the script text and voice (language matches, no unsupported "
        "characters or tags), fix it and submit again.",
    ),
    "MSS.00000007": Explanation(
        FailureCategory.INPUT,
        "Avatar model asset unavailable",
        retry_helps=False,
        action="Check that model_asset_id names an active, unfrozen model in this "
        "project, then submit again.",
    ),
}


class HuaweiMetaStudio(Provider):
    """MetaStudio video jobs of one project, polled in batches through the list API."""

    code = "huawei_metastudio"
    label = "Huawei MetaStudio"
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
    # [SDK-SRC] PROVIDERS.md §4 output_asset_config: "The preview URL is valid 24 h."
    media_retention = timedelta(hours=24)
    media_note = "signs preview video links for 24 hours"
    can_submit = False
    can_discover = True
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
        headers = {
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-Project-Id": self.project_id,
            "X-Sdk-Date": sdk_date(self.clock()),
        }
        headers["Authorization"] = sdk_hmac_sha256_authorization(
            self.credentials.get("access_key", ""),
            self.credentials.get("secret_key", ""),
            "GET",
            path,
            query,
            headers,
        )
        query_string = canonical_query(query)
        url = f"{self.base_url()}{path}" + (f"?{query_string}" if query_string else "")
        return self.exchange(
            "GET", url, headers=headers, parse=lambda response: decode_json(response.body)
        )

    def raise_for_response(self, response: http.Response) -> None:
        if not 200 <= response.status < 300:
            raise error_from_response(response, self.secret_values())

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
