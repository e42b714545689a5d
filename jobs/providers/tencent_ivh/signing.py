"""Tencent IVH request signing (docs/PROVIDERS.md §1.2): HMAC-SHA256 over the query.

The gateway signs only the query string (appkey and timestamp), keyed with the access
token; the body is not signed.
"""

from __future__ import annotations

import base64

from jobs.providers import signing

# The gateway rejects a timestamp more than five minutes away from its own clock.
TIMESTAMP_TOLERANCE_SECONDS = 300


def sign(appkey: str, access_token: str, timestamp: int | str) -> str:
    """The `signature` value (standard base64, not yet percent-encoded) for one request.

    The signed text is the sorted `key=value` pairs with raw values; the HMAC key is the
    access token (the docs write `HmacSha256(message, key)`, message first).
    """
    plain = f"appkey={appkey}&timestamp={timestamp}"
    return base64.b64encode(signing.hmac_sha256(access_token, plain)).decode("ascii")


def signed_query(appkey: str, access_token: str, timestamp: int | str) -> str:
    """The query string to send: `appkey=..&timestamp=..&signature=<%-encoded>`.

    The signature must be percent-encoded completely (`+`, `/`, `=`): the gateway decodes
    `+` as a space and then refuses the signature.
    """
    signature = signing.rfc3986(sign(appkey, access_token, timestamp), safe="")
    return f"appkey={appkey}&timestamp={timestamp}&signature={signature}"
