"""Alibaba Cloud ICE (Intelligent Media Services) `QueryIProductionJob`, API 2020-11-09.

RPC-style call (`POST /?JobId=...`, empty body) signed with ACS3-HMAC-SHA256, the
signature V3 the official SDK uses by default (PROVIDERS.md §5.6). There is no list or
batch API, so every job costs one request. The legacy RPC HMAC-SHA1 signature (§5.7) is
kept here only so its published vectors stay reproducible; it is never sent.
"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from jobs import http
from jobs.providers import signing, wire
from jobs.providers.base import (
    NOT_FOUND,
    Explanation,
    FailureCategory,
    JobStatus,
    Provider,
    ProviderError,
    SchemaField,
    State,
)
from jobs.providers.errors import MALFORMED

logger = logging.getLogger(__name__)

ALGORITHM = "ACS3-HMAC-SHA256"
ACTION = "QueryIProductionJob"
API_VERSION = "2020-11-09"
DEFAULT_REGION = "cn-shanghai"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The gateway refuses requests whose x-acs-date is further than this from its clock.
CLOCK_TOLERANCE_SECONDS = 15 * 60
# Provider messages are shown to operators; a runaway one must not fill the page.
MAX_MESSAGE_CHARS = 300

STATES: Mapping[str, State] = {
    "Queuing": State.QUEUED,
    "Analyzing": State.RUNNING,
    "Success": State.SUCCEEDED,
    "Fail": State.FAILED,
}

# --- signature V3 (ACS3-HMAC-SHA256) ------------------------------------------------------


def canonical_query(query: Mapping[str, str]) -> str:
    """Sorted `key=value` pairs, both RFC 3986 encoded (`*` → %2A, space → %20).

    This is also the query string sent on the wire, so what is signed is what is sent.
    """
    return "&".join(
        f"{signing.rfc3986(key)}={signing.rfc3986(query[key])}" for key in sorted(query)
    )


def _header_lines(headers: Mapping[str, str]) -> tuple[str, str]:
    values = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = sorted(values)
    return "".join(f"{name}:{values[name]}\n" for name in names), ";".join(names)


def acs3_canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The V3 canonical request. Every header in `headers` is signed, so pass exactly the
    ones to sign (host, every x-acs-*, content-type when there is a body)."""
    canonical_headers, signed_headers = _header_lines(headers)
    return "\n".join(
        (
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers,
            signed_headers,
            signing.sha256_hex(body),
        )
    )


def acs3_hashed_canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """hex(SHA256(canonical request)): the second line of the string to sign."""
    return signing.sha256_hex(acs3_canonical_request(method, path, query, headers, body))


def acs3_authorization(
    access_key_id: str,
    access_key_secret: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> str:
    """The `Authorization` header value for one request.

    `headers` are the headers to sign, lower-case names, including `host` and every
    `x-acs-*` header that is sent. The secret is the HMAC key as is (no derivation).
    """
    _, signed_headers = _header_lines(headers)
    string_to_sign = (
        f"{ALGORITHM}\n{acs3_hashed_canonical_request(method, path, query, headers, body)}"
    )
    signature = signing.hmac_sha256(access_key_secret, string_to_sign).hex()
    # Alibaba joins the parts with bare commas, unlike Tencent and Huawei.
    return (
        f"{ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={signed_headers},Signature={signature}"
    )


_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} Credential=([^,\s]+),SignedHeaders=([a-z0-9;\-]+),Signature=([0-9a-f]{{64}})$"
)


def parse_acs3_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(access key id, signed header names, signature) from an Authorization value, or
    None when it is not a well-formed V3 authorization."""
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        return None
    key_id, signed, signature = match.groups()
    return key_id, signed.split(";"), signature


def acs3_date(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime(DATE_FORMAT)


# --- legacy RPC signature (HMAC-SHA1), not sent -------------------------------------------


def rpc_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonicalized = "&".join(
        f"{signing.rfc3986(key)}={signing.rfc3986(params[key])}"
        for key in sorted(params)
        if key != "Signature"
    )
    return f"{method.upper()}&{signing.rfc3986('/', safe='')}&{signing.rfc3986(canonicalized)}"


def rpc_signature(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """The RPC v1 `Signature` parameter (before URL encoding); the HMAC key is secret + "&"."""
    digest = signing.hmac_sha1(f"{access_key_secret}&", rpc_string_to_sign(method, params))
    return base64.b64encode(digest).decode("ascii")


# --- payload parsing ---------------------------------------------------------------------


def _decode_json_string(value: Any) -> Any:
    """ICE nests JSON documents as strings (`Result`, `JobParams`); decode one if it
    decodes, else return it unchanged (a bad one must not lose the rest of the job)."""
    if not isinstance(value, str) or not value.strip():
        return value
    try:
        return wire.decode_json(value)
    except ValueError:
        return value


def _failure(result: Any) -> tuple[str, str]:
    """Failure code and message from a failed job's decoded `Result`.

    The schema is undocumented (PROVIDERS.md §5.3); MPS's sibling API puts `Code` and
    `Message` at the top or inside `Data` (itself possibly a JSON string).
    """
    inner = _decode_json_string(result.get("Data")) if isinstance(result, Mapping) else None
    code = ""
    for candidate in (
        wire.first_text(result, "Code", "code"),
        wire.first_text(inner, "Code", "code"),
    ):
        if candidate and candidate.lower() != "success":
            code = candidate
            break
    message = wire.first_text(result, "Message", "message") or wire.first_text(
        inner, "Message", "message"
    )
    return code or "Fail", message


def _web_url(value: Any) -> str:
    # Only http(s) links are usable (and safe) in the dashboard; oss:// paths stay in raw.
    if isinstance(value, str) and value.strip().lower().startswith(("https://", "http://")):
        return value.strip()
    return ""


def _media_url(payload: Mapping[str, Any]) -> str:
    urls = payload.get("OutputUrls")
    if isinstance(urls, list):
        for url in urls:
            if _web_url(url):
                return _web_url(url)
    output = payload.get("Output")
    if isinstance(output, Mapping):
        return _web_url(output.get("OutputUrl"))
    return ""


def parse_status(payload: Any, *, external_id: str) -> JobStatus:
    """Normalize one QueryIProductionJob answer (HTTP 200 body, already JSON-decoded).

    Raises ProviderError("MalformedResponse", transient) when the payload is not a job
    object: not a mapping, `Status` missing or not a string, or another job's `JobId`.
    Unknown `Status` values become State.UNKNOWN with the raw value kept.
    """
    if not isinstance(payload, Mapping):
        raise _malformed("the answer is not a JSON object")
    provider_state = payload.get("Status")
    if not isinstance(provider_state, str):
        raise _malformed("the answer has no Status string")
    job_id = payload.get("JobId")
    if isinstance(job_id, str) and job_id and job_id != external_id:
        raise _malformed("the answer is about another JobId")

    state = STATES.get(provider_state, State.UNKNOWN)
    result = _decode_json_string(payload.get("Result"))
    failure_code = failure_message = ""
    if state is State.FAILED:
        failure_code, failure_message = _failure(result)
    raw = dict(payload)
    for nested in ("Result", "JobParams"):
        if nested in raw:
            raw[nested] = _decode_json_string(raw[nested])
    return JobStatus(
        external_id=external_id,
        state=state,
        provider_state=provider_state,
        # ICE reports no percentage; only a finished job's is known.
        progress=100 if state is State.SUCCEEDED else None,
        failure_code=failure_code,
        failure_message=failure_message,
        media_url=_media_url(payload) if state is State.SUCCEEDED else "",
        created_at=wire.parse_time(payload.get("CreateTime")),
        finished_at=wire.parse_time(payload.get("FinishTime")),
        kind=wire.first_text(payload, "FunctionName"),
        name=wire.first_text(payload, "Name"),
        raw=wire.scrub(raw),
    )


def _malformed(reason: str, http_status: int | None = None) -> ProviderError:
    return wire.malformed("ICE", reason, http_status=http_status)


# --- request-level errors ---------------------------------------------------------------

_AUTH_CODES = ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId")
_DENIED_CODES = ("Forbidden", "OperationDenied", "InvalidSecurityToken")
_THROTTLE_CODES = ("Throttling", "RequestsTooFrequent", "ServiceUnavailable.Throttling")
_NOT_FOUND_CODES = ("ResourceNotFound", "InvalidJobId", "JobNotFound", "InvalidParameter.JobId")


def _starts(code: str, prefixes: tuple[str, ...]) -> bool:
    # Alibaba refines codes with dotted suffixes (InvalidAccessKeyId.NotFound, .Inactive).
    return code.startswith(prefixes)


def is_job_not_found(code: str, message: str) -> bool:
    """ICE's ways of saying "no such JobId": ResourceNotFound, or an InvalidParameter
    that names the JobId (the only parameter we send)."""
    if _starts(code, _NOT_FOUND_CODES):
        return True
    return code.startswith("InvalidParameter") and "jobid" in message.lower()


def error_from_response(response: http.Response, secrets: Sequence[str] = ()) -> ProviderError:
    """The ProviderError for an HTTP ≥ 400 answer (`{RequestId, HostId, Code, Message,
    Recommend}`), classified as permanent, throttled or transient.

    A not-found answer gets the provider's code here; `fetch` turns it into a per-id
    NOT_FOUND. `secrets` are redacted from the message.
    """
    status = response.status
    try:
        body = wire.decode_json(response.body)
    except ValueError:
        body = None
    code = wire.first_text(body, "Code", "code")
    if not code:
        # A proxy's or load balancer's page, not the API gateway: transient.
        return ProviderError(
            f"HTTP {status} without an ICE error body",
            MALFORMED if status < 500 else f"HTTP{status}",
            http_status=status,
        )
    message = wire.first_text(body, "Message", "message") or "no message"
    request_id = wire.first_text(body, "RequestId", "requestId")
    text = http.redact(message, secrets)[:MAX_MESSAGE_CHARS]
    if request_id:
        text += f" (RequestId {request_id[:64]})"

    def error(
        note: str = "", *, permanent: bool = False, retry_after: float | None = None
    ) -> ProviderError:
        return ProviderError(
            f"{note}{text}",
            code,
            permanent=permanent,
            retry_after=retry_after,
            http_status=status,
        )

    if code == "InvalidTimeStamp.Expired":
        # Not the credentials' fault and not permanent: this host's clock is off.
        return error(
            "the request time is more than 15 minutes from Alibaba Cloud's clock; "
            "check this server's clock (NTP). "
        )
    if _starts(code, _THROTTLE_CODES):
        return error(retry_after=wire.throttle_delay(response.headers))
    if code == "SignatureNonceUsed":
        return error("a retry with a fresh nonce will do. ")
    if _starts(code, _AUTH_CODES) or _starts(code, _DENIED_CODES):
        return error(permanent=True)
    if status >= 500 or code in ("InternalError", "ServiceUnavailable"):
        return error()
    if is_job_not_found(code, message) or status == 404:
        return error(permanent=True)
    if code.startswith(("InvalidParameter", "MissingParameter", "Missing", "InvalidTimeStamp")):
        # Our request is wrong; sending it again cannot help.
        return error(permanent=True)
    return error()


# --- the adapter --------------------------------------------------------------------------


# --- job failure codes ------------------------------------------------------------

# What a Fail job's code means: the `Code` inside its JSON `Result`, or "Fail" when there
# is none (see `_failure`). Alibaba documents neither the Result schema nor job-level
# codes for this API (PROVIDERS.md §5.3), so every entry is marked with where it comes from.
FAILURE_CATALOGUE: dict[str, Explanation] = {
    # Simulator inventions (jobs/simulator/aliyun_ice.py), meanings from their messages.
    "InvalidInput": Explanation(
        FailureCategory.INPUT,
        "Input media unusable",
        retry_helps=False,
        action="Check the input media against the function's requirements (format, "
        "streams, size); replace it and submit again.",
    ),
    "InvalidInput.NotExist": Explanation(
        FailureCategory.INPUT,
        "Input media missing or unreadable",
        retry_helps=False,
        action="Check that the OSS object in Input exists and that ICE may read its "
        "bucket, then submit again.",
    ),
    "InvalidInput.Format": Explanation(
        FailureCategory.INPUT,
        "Input format not supported by this function",
        retry_helps=False,
        action="Convert the input to a format the function supports and submit again.",
    ),
    "InvalidInput.NoAudioStream": Explanation(
        FailureCategory.INPUT,
        "Input media has no audio stream",
        retry_helps=False,
        action="Use an input with an audio track (this function processes audio) and submit again.",
    ),
    "AlgorithmProcessError": Explanation(
        FailureCategory.INTERNAL,
        "The algorithm failed on this media",
        retry_helps=True,
        action="Submit the job again; if the same media fails twice it is likely "
        "unsuitable, so check it or ask Alibaba support with the JobId.",
    ),
    # IMS common error codes (IMS error-code table); that they appear in Result is assumed.
    "InternalError": Explanation(
        FailureCategory.INTERNAL,
        "Alibaba internal error",
        retry_helps=True,
        action="Submit the job again later; if it keeps failing, ask Alibaba support with "
        "the JobId.",
    ),
    "InvalidParameter": Explanation(
        FailureCategory.INPUT,
        "Invalid job parameter",
        retry_helps=False,
        action="Read the message for the parameter at fault, correct JobParams or the "
        "input and submit again.",
    ),
    # Clapboard's own code for a failed job whose Result names no code.
    "Fail": Explanation(
        FailureCategory.UNKNOWN,
        "ICE gave no reason for the failure",
        retry_helps=False,
        action="Open the job detail and read Result and JobParams; if nothing explains "
        "it, ask Alibaba support with the JobId.",
    ),
}

# A catalogue code quoted in a message ("InvalidInput.NotExist: ..."), for code "Fail".
_QUOTED_CODE = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)*")


class AliyunIce(Provider):
    """ICE intelligent-production jobs (MusicDemix, SpeechDenoise, VideoDetext...)."""

    code = "aliyun_ice"
    label = "Alibaba Cloud ICE"
    credential_fields = (
        SchemaField(
            "access_key_id",
            "AccessKey ID",
            secret=False,
            aliases=("AccessKeyId", "AccessKey ID", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
        ),
        SchemaField(
            "access_key_secret",
            "AccessKey Secret",
            secret=True,
            aliases=("AccessKeySecret", "AccessKey Secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        ),
    )
    credentials_help = (
        "AccessKey pairs are on the RAM console's AccessKey page "
        "(ram.console.aliyun.com/manage/ak); the secret is shown only when the key is created."
    )
    option_fields = ()
    default_rate_limit = 20.0
    batch_size = 1
    retention = None
    # PROVIDERS.md §5.5: retention not found; outputs go to the OSS location the job named.
    media_retention = None
    media_note = "writes results to the OSS location named when the job was submitted"
    can_submit = False
    failure_catalogue = FAILURE_CATALOGUE

    @classmethod
    def explain_failure(cls, code: str, message: str = "") -> Explanation:
        """The code's entry, else its nearest dotted parent (InvalidInput.X ->
        InvalidInput); for "Fail" (no code in Result), a catalogue code the message
        quotes wins over the generic entry."""
        catalogue = cls.failure_catalogue
        code = code.strip()
        if code == "Fail":
            for quoted in _QUOTED_CODE.findall(message):
                if quoted != "Fail" and quoted in catalogue:
                    return catalogue[quoted]
        return wire.lookup_dotted(catalogue, code)

    def default_base_url(self) -> str:
        return f"https://ice.{self.region or DEFAULT_REGION}.aliyuncs.com"

    def new_nonce(self) -> str:
        return uuid.uuid4().hex

    def signed_request(self, query: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        """(URL, headers) for one signed QueryIProductionJob call with an empty body."""
        body = b""
        headers = {
            "host": self.host,
            "x-acs-action": ACTION,
            "x-acs-version": API_VERSION,
            "x-acs-date": acs3_date(self.clock()),
            "x-acs-signature-nonce": self.new_nonce(),
            "x-acs-content-sha256": signing.sha256_hex(body),
        }
        authorization = acs3_authorization(
            self.credentials.get("access_key_id", ""),
            self.credentials.get("access_key_secret", ""),
            "POST",
            "/",
            query,
            headers,
            body,
        )
        headers["authorization"] = authorization
        headers["accept"] = "application/json"
        return f"{self.base_url()}/?{canonical_query(query)}", headers

    def fetch_one(self, external_id: str) -> JobStatus:
        """One job's status (no batch API); an unknown JobId is NOT_FOUND."""
        url, headers = self.signed_request({"JobId": external_id})
        status = self.exchange(
            "POST",
            url,
            headers=headers,
            parse=lambda response: parse_status(_decode(response), external_id=external_id),
        )
        if status.state is State.UNKNOWN:
            logger.warning(
                "aliyun_ice: unknown Status %r for job %s", status.provider_state[:64], external_id
            )
        return status

    def raise_for_response(self, response: http.Response) -> None:
        if response.status >= 400:
            error = error_from_response(response, self.secret_values())
            if is_job_not_found(error.code, error.message):
                raise ProviderError(
                    f"ICE does not know this job ({error})",
                    NOT_FOUND,
                    permanent=True,
                    http_status=response.status,
                )
            raise error
        if response.status != 200:
            raise _malformed(f"HTTP {response.status}", response.status)

    def check_credentials(self) -> None:
        # A made-up JobId: "not found" proves the signature and the key were accepted.
        self.fetch(["clapboard-credentials-check"])


def _decode(response: http.Response) -> Any:
    try:
        return wire.decode_json(response.body)
    except ValueError:
        raise _malformed("the body is not JSON", response.status) from None
