"""The one outbound HTTP choke point.

Every request Clapboard sends leaves through `request()` (signed provider calls) or
`fetch_public()` / `public_request()` (URLs a provider handed us, webhooks). All of them
use a pooled, keep-alive session per thread, a total deadline per call (connect, headers
and the whole body), a response size cap, no redirects, and error messages with secrets,
user info and query strings removed.

Where a request may connect is decided once per connection, after DNS: the name is
resolved once, every address is vetted, and the socket connects to exactly a vetted
address (the name stays in the Host header and in TLS SNI and certificate checks), so a
resolver that changes its answer between check and connect gains nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict, Unpack
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from jobs.address_guard import (
    METADATA_ADDRESSES,
    PRIVATE_NETWORKS,
    address_allowed,
    embedded_ipv4,
    endpoint_refusal,
    kind_of,
)
from jobs.watchdog import Watchdog

# Re-exported: callers vet addresses and endpoints through this module.
__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "Limits",
    "METADATA_ADDRESSES",
    "PRIVATE_NETWORKS",
    "REDACTED",
    "ConnectionFailed",
    "OutboundError",
    "Payload",
    "Refused",
    "RequestOptions",
    "Response",
    "Timeout",
    "TooLarge",
    "address_allowed",
    "deadline_by",
    "embedded_ipv4",
    "endpoint_refusal",
    "fetch_public",
    "private_endpoints_allowed",
    "public_request",
    "redact",
    "request",
]

DEFAULT_TIMEOUT = (5.0, 20.0)
# Connect, headers and whole body: far under django-q2's task timeout (90 s) and under
# gunicorn's 30 s for the web requests that call a provider (Test connection, Refresh now).
DEFAULT_DEADLINE = 20.0
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
REDACTED = "[redacted]"


class OutboundError(Exception):
    """A request that produced no usable response. `code` names the failure kind."""

    code = "OutboundError"


class Timeout(OutboundError):
    code = "Timeout"


class ConnectionFailed(OutboundError):
    code = "ConnectionError"


class TooLarge(OutboundError):
    code = "ResponseTooLarge"


class Refused(OutboundError):
    """The SSRF guard refused the destination. `private` says whether it is loopback or a
    private network address (so a setting that allows those would let it through)."""

    code = "RefusedDestination"

    def __init__(self, message: str, *, private: bool = False) -> None:
        super().__init__(message)
        self.private = private


@dataclass(frozen=True)
class Response:
    """A whole answer. `headers` is case-insensitive whatever mapping it was built from:
    servers spell header names as they like (`retry-after`, `Retry-After`)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", CaseInsensitiveDict(self.headers))

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        # Short values (e.g. "1") would shred messages and protect nothing.
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _describe(method: str, url: str) -> str:
    # The query string can carry signatures and identifiers, the user info a password:
    # never repeat either.
    parts = urlsplit(url)
    return f"{method} {parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


# --- deadlines ------------------------------------------------------------------------


_watchdog = Watchdog()
os.register_at_fork(after_in_child=_watchdog.after_fork)
_call = threading.local()


@contextlib.contextmanager
def deadline_by(at: float) -> Iterator[None]:
    """No call made in this block (on this thread) runs past `at`, a time.monotonic()."""
    outer = getattr(_call, "cap", None)
    _call.cap = at if outer is None else min(outer, at)
    try:
        yield
    finally:
        _call.cap = outer


def _arm(sock: socket.socket) -> None:
    """Start this thread's call deadline on its socket (once per call)."""
    at = getattr(_call, "deadline", None)
    if at is not None and getattr(_call, "alarm", None) is None:
        _call.alarm = _watchdog.arm(at, sock)


# --- connections that go where they were vetted ----------------------------------------


class _PinnedConnection:
    """urllib3 connection mixin: resolve once, vet every address, connect to a vetted one.

    Subclasses set the policy. Only `_new_conn` changes, so the host name still goes in
    the Host header, TLS SNI and the certificate check.
    """

    allow_loopback: ClassVar[bool] = False
    allow_private: ClassVar[bool] = False

    def _new_conn(self) -> socket.socket:
        host, port = self._dns_host, self.port  # type: ignore[attr-defined]
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined,arg-type]
        for *_, sockaddr in answers:
            address = str(sockaddr[0])
            if not address_allowed(
                address, allow_loopback=self.allow_loopback, allow_private=self.allow_private
            ):
                what = kind_of(ipaddress.ip_address(address.split("%", 1)[0]))
                raise Refused(
                    f"destination address {address} of {host} is not allowed ({what})",
                    private=address_allowed(address, allow_private=True),
                )
        error: OSError = OSError("the name resolved to no address")
        for family, kind, proto, _, sockaddr in answers:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():  # type: ignore[attr-defined]
                    sock.setsockopt(*option)
                if isinstance(self.timeout, int | float):  # type: ignore[attr-defined]
                    sock.settimeout(self.timeout)  # type: ignore[attr-defined]
                if self.source_address:  # type: ignore[attr-defined]
                    sock.bind(self.source_address)  # type: ignore[attr-defined]
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            _arm(sock)
            return sock
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(self, f"Connection to {host} timed out") from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")  # type: ignore[arg-type]

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # type: ignore[attr-defined]
            _arm(self.sock)  # type: ignore[attr-defined]  # a pooled keep-alive connection
        super().request(*args, **kwargs)  # type: ignore[misc]


def _pool_classes(*, loopback: bool, private: bool) -> dict[str, type[HTTPConnectionPool]]:
    policy = {"allow_loopback": loopback, "allow_private": private}
    plain = type("PinnedHTTPConnection", (_PinnedConnection, HTTPConnection), policy)
    tls = type("PinnedHTTPSConnection", (_PinnedConnection, HTTPSConnection), policy)
    return {
        "http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


# Which addresses each kind of session may reach. Sessions of different kinds never
# share a pool: a connection opened to loopback for the simulator must not be reused
# by a fetch that would have been refused.
POLICIES = {
    "public": _pool_classes(loopback=False, private=False),
    "loopback": _pool_classes(loopback=True, private=False),
    "private": _pool_classes(loopback=True, private=True),
}


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, purpose: str, **kwargs: Any) -> None:
        self.pool_classes = POLICIES[purpose]
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pool_classes


_local = threading.local()


def _session(purpose: str = "public") -> requests.Session:
    """This thread's keep-alive session for `purpose`, one of POLICIES."""
    session = getattr(_local, purpose, None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc surprises from the environment
        adapter = _PinnedAdapter(purpose, pool_connections=32, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        setattr(_local, purpose, session)
    return session


def private_endpoints_allowed() -> bool:
    """CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS: whether signed provider calls may reach
    loopback and private networks (the simulator, a private gateway)."""
    from django.conf import settings

    return bool(getattr(settings, "CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS", False))


# --- sending --------------------------------------------------------------------------


def _read_capped(response: requests.Response, max_bytes: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise TooLarge(f"{what}: response of {declared} bytes is over the {max_bytes} byte cap")
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            response.close()
            raise TooLarge(f"{what}: response is over the {max_bytes} byte cap")
        chunks.append(chunk)
    return b"".join(chunks)


class Payload(TypedDict, total=False):
    """What a request carries besides its method and URL; see `request`."""

    headers: Mapping[str, str] | None
    body: bytes


class Limits(TypedDict, total=False):
    """How long a request may take and how large its answer may be; see `request`."""

    timeout: tuple[float, float]
    deadline: float
    max_bytes: int


class RequestOptions(Payload, Limits, total=False):
    """What the wrappers of `request` pass on to it as given (secrets: see `redact`)."""

    secrets: Iterable[str]


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_DEADLINE,
    max_bytes: int = DEFAULT_MAX_BYTES,
    secrets: Iterable[str] = (),
    purpose: str | None = None,
    session: requests.Session | None = None,
) -> Response:
    """Send one request exactly as given and return the whole (capped) response.

    The URL is sent byte for byte (signatures cover the encoded query), redirects are
    not followed, and any status code is returned as a Response. `timeout` bounds the
    connect and each read, `deadline` (seconds) the whole call, body included (and
    `deadline_by` around the call may shorten it). `purpose` names the addresses that
    may be reached (see POLICIES); by default public ones, plus loopback and private
    networks when CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS is true.

    Raises OutboundError subclasses: Timeout (including the deadline), ConnectionFailed,
    TooLarge, Refused.
    """
    secrets = list(secrets)
    what = _describe(method, url)
    if purpose is None:
        purpose = "private" if private_endpoints_allowed() else "public"
    started = time.monotonic()
    at = started + deadline
    cap = getattr(_call, "cap", None)
    if cap is not None and cap < at:
        at = cap
    limit = max(0.0, at - started)
    if limit <= 0:
        raise Timeout(f"{what}: no time left to send it")
    prepared = requests.Request(method, url, headers=dict(headers or {}), data=body).prepare()
    # requests re-quotes URLs; a signed query must go out exactly as it was signed.
    prepared.url = url
    raw: requests.Response | None = None
    failure: Exception | None = None
    _call.deadline, _call.alarm = at, None
    try:
        raw = (session or _session(purpose)).send(
            prepared,
            stream=True,
            timeout=(min(timeout[0], limit), min(timeout[1], limit)),
            allow_redirects=False,
        )
        data = _read_capped(raw, max_bytes, what)
    except Exception as exc:  # sorted out below, once the deadline is disarmed
        failure = exc
    finally:
        if raw is not None:
            raw.close()
        alarm, _call.alarm, _call.deadline = _call.alarm, None, None
        cut = alarm is not None and _watchdog.cancel(alarm)
    if cut:
        raise Timeout(f"{what}: no complete answer within {limit:.3g} s") from None
    if failure is None and raw is not None:
        return Response(status=raw.status_code, headers=raw.headers, body=data)
    assert failure is not None  # no response and no failure cannot happen
    if isinstance(failure, OutboundError):
        raise failure
    phase = "while reading" if raw is not None else ""
    if isinstance(failure, requests.Timeout):
        raise Timeout(f"{what}: timed out {phase}".rstrip()) from None
    if isinstance(failure, requests.RequestException):
        reason = redact(type(failure).__name__, secrets)
        if raw is not None:
            raise ConnectionFailed(f"{what}: connection broke ({reason})") from None
        raise ConnectionFailed(f"{what}: connection failed ({reason})") from None
    raise failure


# --- provider-supplied and configured URLs (SSRF guard) --------------------------------


def fetch_public(url: str, *, allow_loopback: bool = False, **limits: Unpack[Limits]) -> Response:
    """GET a URL a provider gave us, refusing anything but public http(s) destinations.

    Redirects are refused rather than followed, so every hop is checked. `limits` default
    as for `public_request`, but a file may be up to 2 MiB. Raises Refused, Timeout,
    ConnectionFailed or TooLarge; a non-2xx answer is a ConnectionFailed too.
    """
    limits.setdefault("max_bytes", 2 * 1024 * 1024)
    response = public_request("GET", url, allow_loopback=allow_loopback, **limits)
    if response.status >= 400:
        raise ConnectionFailed(f"{_describe('GET', url)}: HTTP {response.status}")
    return response


def public_request(
    method: str, url: str, *, allow_loopback: bool = False, **options: Unpack[RequestOptions]
) -> Response:
    """Send a request to a URL someone configured or a provider handed us (webhooks,
    subtitle files) through the SSRF guard: http(s) only, a public address (or loopback
    with `allow_loopback`) vetted after DNS and connected to as vetted, no redirects.
    `options` are `request`'s, but a 256 KiB cap and a 15 s read by default.
    Any status comes back as a Response."""
    options.setdefault("max_bytes", 256 * 1024)
    options.setdefault("timeout", (5.0, 15.0))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"only http(s) URLs can be fetched, not {parts.scheme or 'a relative URL'}")
    response = request(method, url, purpose="loopback" if allow_loopback else "public", **options)
    if 300 <= response.status < 400:
        raise Refused(f"{_describe(method, url)}: redirects are not followed")
    return response
