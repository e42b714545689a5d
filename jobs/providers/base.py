"""What every provider adapter promises, and the one status shape they all return.

An adapter turns a provider's wire format into `JobStatus` and its failures into
`ProviderError`; nothing outside `jobs/providers/` sees raw provider JSON or XML.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, TypeVar, Unpack
from urllib.parse import urlsplit

from jobs import http
from jobs.providers.errors import (
    MALFORMED,
    NOT_FOUND,
    PRIVATE_ENDPOINT_HINT,
    REFUSED_ENDPOINT,
    UNKNOWN_FAILURE,
    Explanation,
    FailureCategory,
    ProviderError,
)
from jobs.providers.listing import ListingPass
from jobs.providers.notify import Notice, NotificationError
from jobs.providers.status import (
    MAX_CANCEL_MESSAGE_CHARS,
    TERMINAL_STATES,
    CancelOutcome,
    IOField,
    JobStatus,
    Sentence,
    State,
    Word,
)
from jobs.providers.wire import as_int, clamp_progress, iso_utc, parse_time, throttle_delay

# Re-exported: callers outside the providers (services, views, tests) import the status
# shape, the errors and the coercions from here; the provider packages import each name
# from its home module, so a parser does not depend on the adapter base class.
__all__ = [
    "MALFORMED",
    "NOT_FOUND",
    "PRIVATE_ENDPOINT_HINT",
    "REFUSED_ENDPOINT",
    "TERMINAL_STATES",
    "UNKNOWN_FAILURE",
    "AccountSettings",
    "CancelOutcome",
    "Explanation",
    "FailureCategory",
    "FetchResult",
    "IOField",
    "JobStatus",
    "ListingPass",
    "Provider",
    "ProviderError",
    "SchemaField",
    "Sentence",
    "State",
    "Word",
    "as_int",
    "clamp_progress",
    "iso_utc",
    "parse_time",
    "status_error",
]


@dataclass(frozen=True)
class SchemaField:
    """One credential or option an adapter needs; `secret` fields are encrypted and write-only."""

    name: str
    label: str
    secret: bool = True
    required: bool = True
    help_text: str = ""
    # The provider's own names for the value (console, docs, SDK), accepted on input.
    aliases: tuple[str, ...] = ()


FetchResult = dict[str, JobStatus | ProviderError]
Parsed = TypeVar("Parsed")


class AccountSettings(Protocol):
    """What an adapter reads from an account (`jobs.models.Account` is one): plain values,
    so `jobs/providers/` never imports the models that import it."""

    @property
    def credentials(self) -> Mapping[str, str]: ...
    @property
    def options(self) -> Mapping[str, Any]: ...
    @property
    def region(self) -> str: ...
    @property
    def endpoint(self) -> str: ...


class Provider:
    """Base class of the provider adapters.

    Subclasses declare their schema and limits as class attributes and implement
    `fetch`, `check_credentials` and, where the API allows it, `submit` and `cancel`.
    """

    code: ClassVar[str]
    label: ClassVar[str]
    credential_fields: ClassVar[tuple[SchemaField, ...]] = ()
    option_fields: ClassVar[tuple[SchemaField, ...]] = ()
    # Where the provider's console shows these credentials, for the people adding accounts.
    credentials_help: ClassVar[str] = ""
    default_rate_limit: ClassVar[float] = 5.0
    # How many external ids one `fetch` call can answer with one request.
    batch_size: ClassVar[int] = 1
    # How long the provider keeps a task queryable; None when not documented.
    retention: ClassVar[timedelta | None] = None
    # How long the media URL of a finished job keeps working (None: no documented limit),
    # and one clause on where the provider keeps its media, read after the provider's name
    # ("Tencent IVH keeps ..."). The player shows both when the media cannot be loaded.
    media_retention: ClassVar[timedelta | None] = None
    media_note: ClassVar[str] = ""
    can_submit: ClassVar[bool] = False
    # Whether `cancel` can ask the provider to cancel a job, and if not, why: one sentence,
    # the tooltip where the cancel button is absent.
    can_cancel: ClassVar[bool] = False
    cancel_unsupported_reason: ClassVar[str] = "The provider's API has no call to cancel a job."
    # How many ids one cancel request takes.
    cancel_batch_size: ClassVar[int] = 1
    # The states in which the provider accepts a cancel, so the UI can skip rows it would
    # refuse (the provider still has the last word: a job may start between two polls).
    cancellable_states: ClassVar[frozenset[State]] = frozenset()
    # Whether `list_states` can say cheaply, for many tasks at once, which ones changed.
    lists_states: ClassVar[bool] = False
    # Whether `discover` can list the account's jobs, including those created elsewhere.
    can_discover: ClassVar[bool] = False
    # Templates read `account.adapter_class.can_discover`; a class is callable, and
    # Django would otherwise call it (and fail) instead of reading its attribute.
    do_not_call_in_templates: ClassVar[bool] = True
    # (connect, read) seconds, and the whole call's deadline (connect, headers and body):
    # a provider that hangs or drips its answer must not hold a poller thread or a page.
    request_timeout: ClassVar[tuple[float, float]] = (5.0, 20.0)
    request_deadline: ClassVar[float] = http.DEFAULT_DEADLINE
    max_response_bytes: ClassVar[int] = 4 * 1024 * 1024

    def __init__(
        self,
        *,
        credentials: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
        region: str = "",
        endpoint: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = dict(credentials)
        self.options = dict(options or {})
        self.region = region
        self.endpoint = endpoint
        self.clock = clock

    @classmethod
    def for_account(cls, account: AccountSettings) -> Provider:
        return cls(
            credentials=account.credentials,
            options=account.options,
            region=account.region,
            endpoint=account.endpoint,
        )

    # --- schema -----------------------------------------------------------------

    @classmethod
    def validate_settings(
        cls, credentials: Mapping[str, Any], options: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Check credentials and options against the declared schema.

        Returns cleaned copies (string values, unknown keys refused); raises
        ValueError naming the first bad field, never echoing a secret value.
        """
        cleaned = []
        for kind, data, fields in (
            ("credential", credentials, cls.credential_fields),
            ("option", options, cls.option_fields),
        ):
            if not isinstance(data, Mapping):
                raise ValueError(f"{kind}s must be a JSON object")
            known = {f.name for f in fields}
            unknown = sorted(set(data) - known)
            if unknown:
                raise ValueError(
                    f"unknown {kind} {unknown[0]!r} for {cls.code} "
                    f"(expected: {', '.join(sorted(known)) or 'none'})"
                )
            values: dict[str, str] = {}
            for f in fields:
                value = data.get(f.name, "")
                if not isinstance(value, str | int):
                    raise ValueError(f"{kind} {f.name!r} must be a string")
                value = str(value).strip()
                if f.required and not value:
                    raise ValueError(f"{kind} {f.name!r} is required for {cls.code}")
                if value:
                    values[f.name] = value
            cleaned.append(values)
        return cleaned[0], cleaned[1]

    def secret_values(self) -> list[str]:
        """The values that must never appear in a message, log line or page."""
        return [
            self.credentials[f.name]
            for f in self.credential_fields
            if f.secret and self.credentials.get(f.name)
        ]

    # --- URLs -------------------------------------------------------------------

    def default_base_url(self) -> str:
        """The provider's own scheme://host for this account (region, bucket...)."""
        raise NotImplementedError

    def base_url(self) -> str:
        """scheme://host[:port] to send to: the account's endpoint override wins.

        The override replaces scheme, host and port only; paths and signing stay the
        provider's, and the Host header that is signed is the one sent.
        """
        if self.endpoint:
            parts = urlsplit(self.endpoint)
            return f"{parts.scheme}://{parts.netloc}"
        return self.default_base_url()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url()).netloc

    # --- transport --------------------------------------------------------------

    def send(self, method: str, url: str, **payload: Unpack[http.Payload]) -> http.Response:
        """Send one signed request (`payload`: its headers and body, exactly as signed)
        through the choke point; transport failures (a missed deadline included) become
        transient ProviderErrors with secrets redacted.

        An endpoint the SSRF guard refuses (see `http.endpoint_refusal`, and the
        addresses its name resolves to) is a permanent ProviderError and sends nothing.
        """
        allow_private = http.private_endpoints_allowed()
        if self.endpoint:
            problem = http.endpoint_refusal(self.endpoint, allow_private=allow_private)
            if problem:
                raise ProviderError(problem, REFUSED_ENDPOINT, permanent=True)
        try:
            return http.request(
                method,
                url,
                timeout=self.request_timeout,
                deadline=self.request_deadline,
                max_bytes=self.max_response_bytes,
                secrets=self.secret_values(),
                **payload,
            )
        except http.Refused as exc:
            hint = PRIVATE_ENDPOINT_HINT if exc.private and not allow_private else ""
            raise ProviderError(f"{exc}{hint}", REFUSED_ENDPOINT, permanent=True) from None
        except http.OutboundError as exc:
            raise ProviderError(str(exc), exc.code) from None

    def exchange(
        self,
        method: str,
        url: str,
        *,
        parse: Callable[[http.Response], Parsed],
        **payload: Unpack[http.Payload],
    ) -> Parsed:
        """The template of every adapter call: send the request the adapter built and
        signed, let `raise_for_response` refuse a request-level failure, then `parse`
        the response.

        Every ProviderError raised here carries the HTTP status and has the account's
        secrets redacted, whatever the provider's message echoed.
        """
        response = self.send(method, url, **payload)
        try:
            self.raise_for_response(response)
            return parse(response)
        except ProviderError as exc:
            raise ProviderError(
                http.redact(exc.message, self.secret_values()),
                exc.code,
                permanent=exc.permanent,
                retry_after=exc.retry_after,
                http_status=exc.http_status or response.status,
            ) from None

    def raise_for_response(self, response: http.Response) -> None:
        """Raise the ProviderError a request-level failure stands for; return otherwise.

        The default reads the HTTP status only (see `status_error`); adapters whose
        errors come in a document override it.
        """
        if not 200 <= response.status < 300:
            raise status_error(response, f"{self.label} answered HTTP {response.status}")

    # --- the contract -----------------------------------------------------------

    def fetch(self, external_ids: Sequence[str]) -> FetchResult:
        """Fetch the current status of up to `batch_size` jobs.

        Returns one entry per requested id: a JobStatus, or a ProviderError for that
        job alone (e.g. code NOT_FOUND). Raises ProviderError when the request as a
        whole failed, in which case nothing is known about any of the jobs.

        The default asks `fetch_one` per id, for providers without a batch query.
        """
        results: FetchResult = {}
        for external_id in external_ids:
            try:
                results[external_id] = self.fetch_one(external_id)
            except ProviderError as exc:
                if not exc.is_not_found:
                    raise
                results[external_id] = exc
        return results

    def fetch_one(self, external_id: str) -> JobStatus:
        """One job's status; raises ProviderError (code NOT_FOUND for an unknown job)."""
        raise NotImplementedError

    def check_credentials(self) -> None:
        """Make one cheap signed call; raises ProviderError when the account cannot work."""
        raise NotImplementedError

    def list_states(self, *, since: datetime, page_token: str = "") -> tuple[dict[str, str], str]:
        """One page of {external id: raw provider state} for tasks created after `since`,
        and the next page token ("" when done). Only where `lists_states` is True."""
        raise NotImplementedError

    def discover(
        self, *, cursor: Mapping[str, Any], limit: int
    ) -> tuple[list[JobStatus], dict[str, Any]]:
        """One page (at most `limit` jobs) of the account's jobs, wherever they were
        created, and the cursor to resume from. Only where `can_discover` is True.

        `cursor` is what the previous call returned; `{}` starts afresh. Its content is
        the adapter's (see `ListingPass`), except that `"more": True` means the listing
        has further pages right now; without it the run is done, and the next run from
        that cursor lists only jobs created since. Listed jobs may be summaries: the
        refresh engine fills in the rest. Raises ProviderError like `fetch`.
        """
        raise NotImplementedError

    def cancel(self, external_ids: Sequence[str]) -> dict[str, CancelOutcome]:
        """Ask the provider to cancel up to `cancel_batch_size` jobs.

        Returns one outcome per id (duplicates asked once). Raises ProviderError when the
        request as a whole failed (transport, credentials, throttling), like `fetch`,
        and ValueError before sending anything for more ids than one request takes.

        The default sends `cancel_one` per id, for providers that cancel one job a call.
        """
        if not self.can_cancel:
            raise NotImplementedError(f"{self.code} cannot cancel jobs")
        wanted = list(dict.fromkeys(external_ids))
        if len(wanted) > self.cancel_batch_size:
            # A cancel is a write: a later id failing must not hide an earlier one done.
            raise ValueError(f"{self.code} cancels at most {self.cancel_batch_size} job(s) a call")
        return {external_id: self.cancel_one(external_id) for external_id in wanted}

    def cancel_one(self, external_id: str) -> CancelOutcome:
        """Send one cancel request; raises ProviderError as `cancel` does."""
        raise NotImplementedError

    def refuses_job(self, error: ProviderError) -> bool:
        """Whether `error`, raised by a cancel request, is the provider refusing that job
        (running, finished, unknown) rather than the request failing as a whole.

        The default: a permanent error the provider answered (not one raised before
        sending) that does not refuse the credentials (401/403). Adapters whose
        credential and gateway codes come with other statuses override it.
        """
        return (
            error.permanent
            and error.http_status is not None
            and error.http_status not in (401, 403)
        )

    def refusal(self, error: ProviderError) -> CancelOutcome:
        """The refused CancelOutcome for `error` if `refuses_job(error)`; else re-raises it."""
        if not self.refuses_job(error):
            raise error
        message = http.redact(error.message, self.secret_values())
        return CancelOutcome(False, error.code, message[:MAX_CANCEL_MESSAGE_CHARS])

    @classmethod
    def io_fields(cls, raw: Mapping[str, Any], *, endpoint: str = "") -> list[IOField]:
        """The job's inputs and outputs as the job page lists them, read from its stored
        `raw` payload (with `endpoint`, the account's override, for output links); none by
        default (the page shows media, subtitles and cover on their own)."""
        return []

    # Job-level failure codes this provider reports, explained (see `explain_failure`).
    failure_catalogue: ClassVar[Mapping[str, Explanation]] = {}

    @classmethod
    def explain_failure(cls, code: str, message: str = "") -> Explanation:
        """The catalogue entry for a job failure code; UNKNOWN_FAILURE when there is none.

        Subclasses may override to match on the message where codes are too coarse."""
        return cls.failure_catalogue.get(code, UNKNOWN_FAILURE)

    def submit(self, **params: Any) -> str:
        """Create a provider job; returns its external id."""
        raise NotImplementedError(f"{self.code} does not support submitting jobs")

    # Where the receiver's URL goes in the provider's console (the account page says).
    notification_help: ClassVar[str] = ""

    @classmethod
    def parse_notification(cls, body: bytes, content_type: str) -> Notice:
        """The event and task IDs a notification names (jobs/providers/notify.py)."""
        raise NotificationError(f"{cls.label} notifications are not read")

    def verify_notification(
        self, *, url: str, query: Mapping[str, str], headers: Mapping[str, str], now: float
    ) -> None:
        """NotificationError unless the provider's own signature holds, where it signs and
        the account holds its key; by default there is none (the URL secret is checked)."""


def status_error(response: http.Response, message: str, code: str = "") -> ProviderError:
    """The shared mapping of an answer that says no more than its HTTP status.

    429 is throttling (Retry-After honoured, else DEFAULT_RETRY_AFTER); 401 and 403 are
    permanent (the credentials are refused); anything else is transient. `code`
    defaults to `HTTP<status>`.
    """
    status = response.status
    return ProviderError(
        message,
        code or f"HTTP{status}",
        permanent=status in (401, 403),
        retry_after=throttle_delay(response.headers) if status == 429 else None,
        http_status=status,
    )
