"""TC3-HMAC-SHA256, Tencent Cloud API 3.0's signature (docs/PROVIDERS.md §2.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from jobs.providers import signing

SERVICE = "vod"
ALGORITHM = "TC3-HMAC-SHA256"
# The server rejects an X-TC-Timestamp more than this far from its clock (docs/PROVIDERS.md §6.3).
CLOCK_TOLERANCE_SECONDS = 300


# --- TC3-HMAC-SHA256 -----------------------------------------------------------------


@dataclass(frozen=True)
class Tc3Signature:
    """Every intermediate of one TC3 signature, so tests can compare each published value."""

    signed_headers: str
    canonical_request: str
    string_to_sign: str
    signing_key: bytes
    signature: str
    authorization: str

    @property
    def hashed_canonical_request(self) -> str:
        return signing.sha256_hex(self.canonical_request)


def tc3_date(timestamp: int) -> str:
    """The credential-scope date: the UTC day of the timestamp (a local date breaks at midnight)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def tc3_signing_key(secret_key: str, date: str, service: str) -> bytes:
    k_date = signing.hmac_sha256("TC3" + secret_key, date)
    k_service = signing.hmac_sha256(k_date, service)
    return signing.hmac_sha256(k_service, "tc3_request")


def tc3_canonical_request(
    method: str,
    query: str,
    host: str,
    headers_to_sign: Mapping[str, str],
    payload: bytes,
) -> tuple[str, str]:
    """Return (canonical request, SignedHeaders).

    Header names and values are lower-cased and trimmed as the TC3 spec says (that is
    why the published example signs `x-tc-action:describeinstances`); `host` always
    takes part. `query` is the query string exactly as sent ("" for POST).
    """
    headers = {
        name.strip().lower(): value.strip().lower() for name, value in headers_to_sign.items()
    }
    headers["host"] = host.strip().lower()
    return signing.canonical_request(method, "/", query, headers, payload)


def tc3_sign(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    method: str,
    query: str,
    headers_to_sign: Mapping[str, str],
    payload: bytes,
    timestamp: int,
) -> Tc3Signature:
    """Compute a TC3-HMAC-SHA256 signature with all its intermediates (docs/PROVIDERS.md §2.5)."""
    canonical, signed_headers = tc3_canonical_request(method, query, host, headers_to_sign, payload)
    date = tc3_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{signing.sha256_hex(canonical)}"
    key = tc3_signing_key(secret_key, date, service)
    signature = signing.hmac_sha256(key, string_to_sign).hex()
    authorization = (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return Tc3Signature(signed_headers, canonical, string_to_sign, key, signature, authorization)


@dataclass(frozen=True)
class Tc3Authorization:
    """The parts of a received TC3 `Authorization` header."""

    secret_id: str
    date: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


_AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=([^/,\s]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request,"
    r"\s*SignedHeaders=([a-z0-9;\-]+),\s*Signature=([0-9a-f]{64})$"
)


def parse_tc3_authorization(value: str) -> Tc3Authorization | None:
    """Split a TC3 Authorization header; None when it is not one."""
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        return None
    secret_id, date, service, signed, signature = match.groups()
    return Tc3Authorization(secret_id, date, service, tuple(signed.split(";")), signature)
