"""The COS request signature, `q-sign-algorithm=sha1` (docs/PROVIDERS.md §3.4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.providers import signing

# The SDK signs from now-60 s; we keep the validity short (10 min, the SDK uses 10000 s)
# since every request is signed just before it is sent.
KEY_TIME_BEFORE = 60
KEY_TIME_AFTER = 600


# --- signing ---------------------------------------------------------------------------


def cos_encode(value: str) -> str:
    """COS's percent-encoding: UTF-8, only A-Z a-z 0-9 - _ . ~ left as they are."""
    return signing.rfc3986(value, safe="~")


def _canonical(pairs: Mapping[str, str]) -> tuple[str, str]:
    """(key list, key=value list) with lower-cased encoded keys, sorted; values keep case."""
    encoded = sorted((cos_encode(k).lower(), cos_encode(v)) for k, v in pairs.items())
    return ";".join(k for k, _ in encoded), "&".join(f"{k}={v}" for k, v in encoded)


def http_string(
    method: str, path: str, params: Mapping[str, str], headers: Mapping[str, str]
) -> str:
    """COS's HttpString. `path` is the *decoded* path; every param and header given is signed."""
    _, http_parameters = _canonical(params)
    _, http_headers = _canonical(headers)
    return f"{method.lower()}\n{path}\n{http_parameters}\n{http_headers}\n"


def string_to_sign(key_time: str, http_string_value: str) -> str:
    return f"sha1\n{key_time}\n{signing.sha1_hex(http_string_value)}\n"


def sign_key(secret_key: str, key_time: str) -> str:
    """The lower-case hex HMAC-SHA1 of the KeyTime; COS keys the next HMAC with the hex text."""
    return signing.hmac_sha1(secret_key, key_time).hex()


@dataclass(frozen=True)
class CosSignature:
    """Every intermediate of one COS signature (the tests compare them with Appendix B)."""

    key_time: str
    sign_key: str
    header_list: str
    url_param_list: str
    http_string: str
    string_to_sign: str
    signature: str
    authorization: str


def cos_sign(
    secret_id: str,
    secret_key: str,
    method: str,
    path: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    key_time: str,
) -> CosSignature:
    """Sign one request with COS `q-sign-algorithm=sha1` (docs/PROVIDERS.md §3.4).

    `path` is decoded (e.g. `/exampleobject(腾讯云)`); `params` are all the URL params
    (valueless ones as ""); `headers` are exactly the headers to sign, which must be sent
    with the same values. `key_time` is `"<start>;<end>"` in unix seconds and doubles as
    the sign time.
    """
    header_list, _ = _canonical(headers)
    url_param_list, _ = _canonical(params)
    text = http_string(method, path, params, headers)
    to_sign = string_to_sign(key_time, text)
    key = sign_key(secret_key, key_time)
    signature = signing.hmac_sha1(key, to_sign).hex()
    authorization = (
        f"q-sign-algorithm=sha1&q-ak={secret_id}&q-sign-time={key_time}&q-key-time={key_time}"
        f"&q-header-list={header_list}&q-url-param-list={url_param_list}"
        f"&q-signature={signature}"
    )
    return CosSignature(
        key_time, key, header_list, url_param_list, text, to_sign, signature, authorization
    )


def key_time_for(now: float) -> str:
    start = int(now)
    return f"{start - KEY_TIME_BEFORE};{start + KEY_TIME_AFTER}"


def encode_query(params: Mapping[str, str]) -> str:
    """The query string as sent: the same encoding the signature uses, keys in given case."""
    return "&".join(f"{cos_encode(k)}={cos_encode(v)}" for k, v in params.items())
