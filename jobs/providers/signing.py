"""HMAC and encoding helpers shared by the provider signers.

Each provider's algorithm lives in its own module; only the primitives are shared.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

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
