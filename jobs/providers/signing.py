"""HMAC and encoding helpers shared by the provider signers.

Each provider's algorithm lives in its own module; only the primitives are shared, and
the canonical-request layout TC3, ACS3 and SDK-HMAC-SHA256 all take from AWS SigV4.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote


class SignedRequest(NamedTuple):
    """The parts of one HTTP request that a canonical-request signature covers (TC3, ACS3
    and SDK-HMAC-SHA256 alike): the headers are exactly the ones to sign and send."""

    method: str
    path: str
    query: Any  # a mapping, or (name, value) pairs where the order as sent matters
    headers: Mapping[str, str]
    body: bytes = b""


EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def hmac_sha256(key: str | bytes, message: str | bytes) -> bytes:
    return hmac.new(_bytes(key), _bytes(message), hashlib.sha256).digest()


def hmac_sha1(key: str | bytes, message: str | bytes) -> bytes:
    return hmac.new(_bytes(key), _bytes(message), hashlib.sha1).digest()


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(_bytes(data)).hexdigest()


def sha1_hex(data: str | bytes) -> str:
    return hashlib.sha1(_bytes(data)).hexdigest()  # noqa: S324 - COS signs with SHA-1


def rfc3986(value: str, safe: str = "~") -> str:
    """Percent-encode UTF-8 leaving only unreserved characters (upper-case %XX)."""
    return quote(value, safe=safe)


def same(expected: str, given: str) -> bool:
    """Constant-time comparison for signatures the simulator verifies."""
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def canonical_request(
    method: str, uri: str, query: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """(canonical request, SignedHeaders) in the SigV4 layout: the upper-cased method, the
    URI and the query string as the algorithm canonicalised them, one `name:value` line a
    header sorted by name, the `;`-joined names, and the hex SHA-256 of the body.

    `headers` are the headers to sign as the algorithm normalises them (lower-case names,
    values trimmed, and for TC3 lower-cased); every one of them is signed.
    """
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in names)
    signed_headers = ";".join(names)
    lines = (method.upper(), uri, query, canonical_headers, signed_headers, sha256_hex(body))
    return "\n".join(lines), signed_headers
