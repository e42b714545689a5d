"""Alibaba Cloud API signatures: ACS3-HMAC-SHA256, the V3 the SDK sends (docs/PROVIDERS.md §5.6).

The legacy RPC HMAC-SHA1 signature (docs/PROVIDERS.md §5.7) is kept only so its
published vectors stay reproducible; it is never sent.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from jobs.providers import signing

ALGORITHM = "ACS3-HMAC-SHA256"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# The gateway refuses requests whose x-acs-date is further than this from its clock.
CLOCK_TOLERANCE_SECONDS = 15 * 60

# --- signature V3 (ACS3-HMAC-SHA256) ------------------------------------------------------


def canonical_query(query: Mapping[str, str]) -> str:
    """Sorted `key=value` pairs, both RFC 3986 encoded (`*` → %2A, space → %20).

    This is also the query string sent on the wire, so what is signed is what is sent.
    """
    return "&".join(
        f"{signing.rfc3986(key)}={signing.rfc3986(query[key])}" for key in sorted(query)
    )


def _signed_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): str(value).strip() for name, value in headers.items()}


def acs3_canonical_request(request: signing.SignedRequest) -> str:
    """The V3 canonical request. Every header in `headers` is signed, so pass exactly the
    ones to sign (host, every x-acs-*, content-type when there is a body)."""
    method, path, query, headers, body = request
    canonical, _ = signing.canonical_request(
        method, path or "/", canonical_query(query), _signed_headers(headers), body
    )
    return canonical


def acs3_authorization(
    access_key_id: str, access_key_secret: str, request: signing.SignedRequest
) -> str:
    """The `Authorization` header value for one request.

    `headers` are the headers to sign, lower-case names, including `host` and every
    `x-acs-*` header that is sent. The secret is the HMAC key as is (no derivation).
    """
    canonical = acs3_canonical_request(request)
    signed_headers = ";".join(sorted(_signed_headers(request.headers)))
    string_to_sign = f"{ALGORITHM}\n{signing.sha256_hex(canonical)}"
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
