"""SDK-HMAC-SHA256, Huawei Cloud's API signature (docs/PROVIDERS.md §4.6).

A canonical request over method, path (signed with a trailing slash, sent without), the
sorted query, the signed headers and the body hash, keyed directly with the SK.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from jobs.providers import signing

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# The gateway rejects an X-Sdk-Date more than 15 minutes from its own clock.
SDK_DATE_TOLERANCE_SECONDS = 15 * 60

QueryInput = Mapping[str, Any] | Sequence[tuple[str, Any]]


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
    canonical, _ = signing.canonical_request(
        method, canonical_uri(path), canonical_query(query), _signed_headers(headers), body
    )
    return canonical


def string_to_sign(canonical: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{signing.sha256_hex(canonical)}"


def sdk_hmac_sha256_authorization(
    access_key: str, secret_key: str, request: signing.SignedRequest
) -> str:
    """The `Authorization` header value for a request.

    `headers` are the headers to sign and send, including `Host` and `X-Sdk-Date`
    (whose value is the signing time); raises ValueError without X-Sdk-Date. The SK
    keys the HMAC directly: SDK-HMAC-SHA256 has no key derivation.
    """
    canonical = canonical_request(*request)
    headers = request.headers
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
