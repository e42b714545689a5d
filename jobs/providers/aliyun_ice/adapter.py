"""Alibaba Cloud ICE (Intelligent Media Services) `QueryIProductionJob`, API 2020-11-09.

RPC-style calls (`POST /?JobId=...`, empty body) signed with ACS3-HMAC-SHA256
(docs/PROVIDERS.md §5.6). There is no list or batch API, so every job costs one request;
`CancelIProductionJob` (§5.8) cancels one job a call.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from jobs import http
from jobs.providers import signing, wire
from jobs.providers.aliyun_ice import notify
from jobs.providers.aliyun_ice.catalogue import _QUOTED_CODE, FAILURE_CATALOGUE
from jobs.providers.aliyun_ice.parsing import (
    _malformed,
    error_from_response,
    io_fields,
    is_account_failure,
    is_job_not_found,
    parse_status,
)
from jobs.providers.aliyun_ice.signing import acs3_authorization, acs3_date, canonical_query
from jobs.providers.base import Provider, SchemaField
from jobs.providers.errors import NOT_FOUND, Explanation, ProviderError
from jobs.providers.notify import Notice
from jobs.providers.signing import SignedRequest
from jobs.providers.status import CancelOutcome, IOField, JobStatus, State

logger = logging.getLogger(__name__)

ACTION = "QueryIProductionJob"
CANCEL_ACTION = "CancelIProductionJob"
API_VERSION = "2020-11-09"
DEFAULT_REGION = "cn-shanghai"


class AliyunIce(Provider):
    """ICE intelligent-production jobs (MusicDemix, SpeechDenoise, VideoDetext...)."""

    code = "aliyun_ice"
    label = "Alibaba Cloud ICE"
    notification_help = (
        "SetEventCallback: CallbackType HTTP, CallbackURL this URL, AuthSwitch on with this "
        "account's callback AuthKey."
    )
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
        SchemaField(
            "callback_auth_key",
            "Callback AuthKey",
            required=False,
            aliases=("AuthKey",),
            help_text="SetEventCallback's AuthKey: notifications must then carry its signature.",
        ),
        SchemaField(
            "callback_auth_key_previous",
            "Previous callback AuthKey",
            required=False,
            help_text="While ICE moves to a new AuthKey, the old one is accepted too.",
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
    # docs/PROVIDERS.md §5.5: retention not found; outputs go to the OSS location the job named.
    media_retention = None
    media_note = "writes results to the OSS location named when the job was submitted"
    can_submit = False
    can_cancel = True
    cancel_batch_size = 1
    # [UNCERTAIN] neither the API doc nor the SDK says which states can be cancelled; the
    # conservative rule (docs/PROVIDERS.md §5.8): only a job still Queuing.
    cancellable_states = frozenset({State.QUEUED})
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

    def signed_request(
        self, query: Mapping[str, str], action: str = ACTION
    ) -> tuple[str, dict[str, str]]:
        """(URL, headers) for one signed RPC call of `action` with an empty body."""
        body = b""
        headers = {
            "host": self.host,
            "x-acs-action": action,
            "x-acs-version": API_VERSION,
            "x-acs-date": acs3_date(self.clock()),
            "x-acs-signature-nonce": self.new_nonce(),
            "x-acs-content-sha256": signing.sha256_hex(body),
        }
        authorization = acs3_authorization(
            self.credentials.get("access_key_id", ""),
            self.credentials.get("access_key_secret", ""),
            SignedRequest("POST", "/", query, headers, body),
        )
        headers["authorization"] = authorization
        headers["accept"] = "application/json"
        return f"{self.base_url()}/?{canonical_query(query)}", headers

    @classmethod
    def io_fields(cls, raw: Mapping[str, Any], *, endpoint: str = "") -> list[IOField]:
        return io_fields(raw)

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        return notify.parse(body, content_type)

    def verify_notification(
        self, *, url: str, query: Mapping[str, str], headers: Mapping[str, str], now: float
    ) -> None:
        names = ("callback_auth_key", "callback_auth_key_previous")
        if keys := [self.credentials[n] for n in names if self.credentials.get(n)]:
            notify.verify(keys, url=url, headers=headers, now=now)

    def fetch_one(self, external_id: str) -> JobStatus:
        """One job's status (no batch API); an unknown JobId is NOT_FOUND."""
        url, headers = self.signed_request({"JobId": external_id})
        try:
            status = self.exchange(
                "POST",
                url,
                headers=headers,
                parse=lambda response: parse_status(_decode(response), external_id=external_id),
            )
        except ProviderError as exc:
            if not is_job_not_found(exc.code, exc.message):
                raise
            raise ProviderError(
                f"ICE does not know this job ({exc})",
                NOT_FOUND,
                permanent=True,
                http_status=exc.http_status,
            ) from None
        if status.state is State.UNKNOWN:
            logger.warning(
                "aliyun_ice: unknown Status %r for job %s", status.provider_state[:64], external_id
            )
        return status

    def raise_for_response(self, response: http.Response) -> None:
        if response.status >= 400:
            raise error_from_response(response, self.secret_values())
        if response.status != 200:
            raise _malformed(f"HTTP {response.status}", response.status)

    def cancel_one(self, external_id: str) -> CancelOutcome:
        """CancelIProductionJob with a ClientToken derived from the JobId, so a retried
        cancel is the same request to ICE; ICE's error for the job is the refusal."""
        query = {"JobId": external_id, "ClientToken": cancel_client_token(external_id)}
        url, headers = self.signed_request(query, CANCEL_ACTION)
        try:
            self.exchange("POST", url, headers=headers, parse=_decode)
        except ProviderError as exc:
            return self.refusal(exc)
        return CancelOutcome(True)

    def refuses_job(self, error: ProviderError) -> bool:
        # ICE refuses signatures and keys with 400 and 404, not only 401/403.
        return super().refuses_job(error) and not is_account_failure(error.code)

    def check_credentials(self) -> None:
        # A made-up JobId: "not found" proves the signature and the key were accepted.
        self.fetch(["clapboard-credentials-check"])


def cancel_client_token(external_id: str) -> str:
    """CancelIProductionJob's idempotency token: the same JobId always gives the same
    token (32 hex characters, nothing secret in it)."""
    return hashlib.sha256(f"clapboard-cancel:{external_id}".encode()).hexdigest()[:32]


def _decode(response: http.Response) -> Any:
    try:
        return wire.decode_json(response.body)
    except ValueError:
        raise _malformed("the body is not JSON", response.status) from None
