"""The one outbound HTTP choke point.

Every request Clapboard sends leaves through `request()` (signed provider calls) or
`fetch_public()` (URLs a provider handed us, e.g. subtitle files). Both use a pooled,
keep-alive session per thread, explicit connect/read timeouts, a response size cap,
no redirects, and error messages with secrets and query strings removed.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.connection import create_connection as _urllib3_create_connection

DEFAULT_TIMEOUT = (5.0, 20.0)
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
    """The SSRF guard refused the destination."""

    code = "RefusedDestination"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        # Short values (e.g. "1") would shred messages and protect nothing.
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _describe(method: str, url: str) -> str:
    # The query string can carry signatures and identifiers: never repeat it.
    parts = urlsplit(url)
    return f"{method} {parts.scheme}://{parts.netloc}{parts.path}"


_local = threading.local()


def _session(purpose: str = "api") -> requests.Session:
    """This thread's keep-alive session for `purpose`.

    Provider APIs and provider-supplied URLs never share a pool: a connection opened for
    an API call (possibly to loopback, for the simulator) must not be reused by a fetch
    that the SSRF guard would have refused at connect time.
    """
    session = getattr(_local, purpose, None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc surprises from the environment
        adapter = HTTPAdapter(pool_connections=32, pool_maxsize=32, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        setattr(_local, purpose, session)
    return session


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


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    secrets: Iterable[str] = (),
    session: requests.Session | None = None,
) -> Response:
    """Send one request exactly as given and return the whole (capped) response.

    The URL is sent byte for byte (signatures cover the encoded query), redirects are
    not followed, and any status code is returned as a Response. Raises OutboundError
    subclasses for timeouts, connection failures and oversized bodies.
    """
    secrets = list(secrets)
    what = _describe(method, url)
    prepared = requests.Request(method, url, headers=dict(headers or {}), data=body).prepare()
    # requests re-quotes URLs; a signed query must go out exactly as it was signed.
    prepared.url = url
    try:
        raw = (session or _session()).send(
            prepared, stream=True, timeout=timeout, allow_redirects=False
        )
    except requests.Timeout:
        raise Timeout(f"{what}: timed out") from None
    except requests.RequestException as exc:
        reason = redact(type(exc).__name__, secrets)
        raise ConnectionFailed(f"{what}: connection failed ({reason})") from None
    try:
        data = _read_capped(raw, max_bytes, what)
    except requests.Timeout:
        raise Timeout(f"{what}: timed out while reading") from None
    except requests.RequestException as exc:
        raise ConnectionFailed(f"{what}: connection broke ({type(exc).__name__})") from None
    finally:
        raw.close()
    return Response(status=raw.status_code, headers=dict(raw.headers), body=data)


# --- fetching provider-supplied URLs (SSRF guard) ----------------------------------

# Cloud metadata services answer on these even where "private" checks miss them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254", "169.254.170.2")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def address_allowed(address: str, *, allow_loopback: bool = False) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return False
    if ip.is_loopback:
        return allow_loopback
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return ip.is_global and not ip.is_multicast


_guard = threading.local()


def _guarded_create_connection(address, *args, **kwargs):
    # Runs at connect time, after DNS: a hostname that resolves to a private address
    # is refused even if it looked public when the URL was checked.
    policy = getattr(_guard, "allow_loopback", None)
    if policy is not None:
        host, port = address
        for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            if not address_allowed(sockaddr[0], allow_loopback=policy):
                raise Refused(f"destination address {sockaddr[0]} is not allowed")
    return _urllib3_create_connection(address, *args, **kwargs)


def fetch_public(
    url: str,
    *,
    max_bytes: int = 2 * 1024 * 1024,
    timeout: tuple[float, float] = (5.0, 15.0),
    allow_loopback: bool = False,
) -> Response:
    """GET a URL a provider gave us, refusing anything but public http(s) destinations.

    Redirects are refused rather than followed, so every hop is checked. Raises Refused,
    Timeout, ConnectionFailed or TooLarge; a non-2xx answer is a ConnectionFailed too.
    """
    response = public_request(
        "GET", url, max_bytes=max_bytes, timeout=timeout, allow_loopback=allow_loopback
    )
    if response.status >= 400:
        raise ConnectionFailed(f"{_describe('GET', url)}: HTTP {response.status}")
    return response


def public_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    max_bytes: int = 256 * 1024,
    timeout: tuple[float, float] = (5.0, 15.0),
    allow_loopback: bool = False,
    secrets: Iterable[str] = (),
) -> Response:
    """Send a request to a URL someone configured or a provider handed us (webhooks,
    subtitle files) through the SSRF guard: http(s) only, a public address checked at
    connect time after DNS, no redirects. Any status comes back as a Response."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"only http(s) URLs can be fetched, not {parts.scheme or 'a relative URL'}")
    _guard.allow_loopback = allow_loopback
    try:
        response = request(
            method,
            url,
            headers=headers,
            body=body,
            timeout=timeout,
            max_bytes=max_bytes,
            secrets=secrets,
            session=_session(f"public_{allow_loopback}"),
        )
    finally:
        _guard.allow_loopback = None
    if 300 <= response.status < 400:
        raise Refused(f"{_describe(method, url)}: redirects are not followed")
    return response


def _install_guard() -> None:
    import urllib3.connection

    urllib3.connection.connection.create_connection = _guarded_create_connection


_install_guard()
