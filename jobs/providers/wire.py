"""The wire toolkit every adapter shares: headers, coercions, errors, scrubbing, XML.

Each helper has one behaviour for all five providers; a provider's quirks stay in its
own package. Nothing here knows a provider's field names.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from jobs.providers.errors import MALFORMED, UNKNOWN_FAILURE, Explanation, ProviderError
from jobs.providers.status import IOField

# Seconds to wait after a throttled answer that did not say how long.
DEFAULT_RETRY_AFTER = 1.0
# A Retry-After further out than this is a broken header, not a plan.
MAX_RETRY_AFTER = 3600.0
# Deeper nesting than any real answer is cut, so a hostile body cannot exhaust the stack.
MAX_RAW_DEPTH = 32
NESTED_TOO_DEEP = "[nested too deep]"
# The XML depth beyond which a document is refused rather than walked.
MAX_XML_DEPTH = 40

# --- headers -----------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str:
    """The value of header `name` in any mapping, matched case-insensitively; "" if absent.

    `http.Response.headers` is already case-insensitive; other mappings (a test's dict,
    a webhook answer) are searched by lower-cased name.
    """
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value if isinstance(value, str) else ""


def retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks us to wait, clamped to 0..MAX_RETRY_AFTER.

    Accepts delta-seconds (`120`, also `1.5`) and an HTTP-date;
    None when the header is absent or neither. `now` (epoch seconds) is for tests.
    """
    value = header(headers, "Retry-After").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def throttle_delay(headers: Mapping[str, str]) -> float:
    """What a throttled answer makes us wait: its Retry-After, else DEFAULT_RETRY_AFTER."""
    return retry_after(headers) or DEFAULT_RETRY_AFTER


# --- coercions ---------------------------------------------------------------------------


def text(value: Any) -> str:
    """A provider text field, stripped: strings and integers; "" for anything else."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return ""


def first_text(mapping: Any, *names: str) -> str:
    """The first non-blank text among `mapping[name]` for `names`; "" if none or no mapping."""
    if not isinstance(mapping, Mapping):
        return ""
    for name in names:
        value = text(mapping.get(name))
        if value:
            return value
    return ""


def as_int(value: Any) -> int | None:
    """An int from a provider number or numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and abs(value) < 2**62:
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def clamp_progress(value: Any) -> int | None:
    """A percentage 0..100 from a provider number; None when absent or negative."""
    number = as_int(value)
    if number is None or number < 0:
        return None
    return min(number, 100)


def seconds_to_ms(value: Any) -> int | None:
    """Milliseconds from seconds given as a number or decimal string ("12.000000").

    None for anything else, negative, non-finite or absurd (over 10^9 s) values.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    if value < 0 or value > 10**9:
        return None
    return round(value * 1000)


def parse_time(value: Any) -> datetime | None:
    """Parse the ISO 8601 flavours the providers send into aware UTC; None if unusable.

    Covers `2019-07-16T06:21:27Z`, `+08:00` and CI's colon-less `+0800`.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    stripped = value.strip()
    if stripped.endswith("Z"):
        stripped = stripped[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(stripped)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. year 9999 with a negative offset
        return None


def iso_utc(moment: datetime) -> str:
    """`2019-07-16T06:21:27Z`: whole seconds, UTC (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- errors ------------------------------------------------------------------------------


def malformed(provider: str, reason: str, *, http_status: int | None = None) -> ProviderError:
    """The transient error for an answer Clapboard cannot read: `<provider> answer not
    understood: <reason>`, code MALFORMED."""
    return ProviderError(
        f"{provider} answer not understood: {reason}", MALFORMED, http_status=http_status
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(body: bytes | str) -> Any:
    """The JSON document in a body; raises ValueError for anything that is not strict JSON.

    NaN and Infinity are refused (PostgreSQL cannot store them); absurd nesting and bad
    UTF-8 raise ValueError too.
    """
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def lookup_dotted(catalogue: Mapping[str, Explanation], code: str) -> Explanation:
    """A failure code's catalogue entry, else its nearest dotted parent's
    (`InvalidInput.NotExist` -> `InvalidInput`); UNKNOWN_FAILURE when there is none."""
    parts = code.strip().split(".") if code.strip() else []
    while parts:
        entry = catalogue.get(".".join(parts))
        if entry is not None:
            return entry
        parts.pop()
    return UNKNOWN_FAILURE


# --- what is kept of a payload -----------------------------------------------------------

# The one rule for which payload keys hold credentials, the union of what the five
# providers send or sign with: Tencent's SecretId/SecretKey, tokens and signatures,
# IVH's appkey/accesstoken, Huawei's AK/SK, Alibaba's AccessKey and SecurityToken.
CREDENTIAL_KEY = re.compile(
    r"authorization|signature|secret|token|password|passwd|credential|appkey"
    r"|access_?key|^(?:ak|sk)$",
    re.IGNORECASE,
)


def is_credential_key(key: object) -> bool:
    """Whether a payload key names a credential (see CREDENTIAL_KEY)."""
    return _names_credential(str(key))


# Providers repeat the same few dozen keys in every answer: the regex ran on each key of
# each answer (a tenth of a one-job request's CPU). Bounded, so odd keys cannot grow it.
@functools.lru_cache(maxsize=4096)
def _names_credential(key: str) -> bool:
    return bool(CREDENTIAL_KEY.search(key))


def scrub(value: Any, depth: int = 0) -> Any:
    """A plain-JSON copy of payload data for `JobStatus.raw`: credential keys dropped,
    NaN and infinities made null, other types as text, nesting cut at MAX_RAW_DEPTH."""
    if isinstance(value, Mapping | list | tuple) and depth >= MAX_RAW_DEPTH:
        return NESTED_TOO_DEEP
    if isinstance(value, Mapping):
        return {
            str(key): scrub(item, depth + 1)
            for key, item in value.items()
            if not is_credential_key(key)
        }
    if isinstance(value, list | tuple):
        return [scrub(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- XML ---------------------------------------------------------------------------------


def parse_xml(body: bytes | str, *, provider: str) -> ET.Element:
    """Parse an XML answer, refusing what a hostile or broken peer could send.

    defusedxml refuses any DOCTYPE, entity declarations (expansion bombs) and external
    references; anything that is not UTF-8 XML is refused too. Raises the MALFORMED
    ProviderError (transient); never returns a partial tree.
    """
    if isinstance(body, bytes):
        try:
            document = body.decode("utf-8")
        except UnicodeDecodeError:
            raise malformed(provider, "the answer is not UTF-8 text") from None
    elif isinstance(body, str):
        document = body
    else:
        raise malformed(provider, "the answer is not text")
    try:
        # A str is fed to expat as UTF-8 whatever encoding the declaration claims.
        root: ET.Element = SafeET.fromstring(document, forbid_dtd=True)
    except DefusedXmlException:
        raise malformed(provider, "the answer declares a DOCTYPE or ENTITY") from None
    except (ET.ParseError, ValueError, UnicodeError) as exc:
        reason = f"the answer is not well-formed XML ({type(exc).__name__})"
        raise malformed(provider, reason) from None
    return root


def element_data(element: ET.Element, _depth: int = 0, *, provider: str = "XML") -> Any:
    """An element as plain JSON data: text for a leaf, a dict for a container.

    Repeated child tags become lists (in document order); attributes are ignored.
    Raises the MALFORMED ProviderError for nesting deeper than MAX_XML_DEPTH.
    """
    if _depth > MAX_XML_DEPTH:
        raise malformed(provider, "the answer is nested too deeply")
    children = list(element)
    if not children:
        return (element.text or "").strip()
    data: dict[str, Any] = {}
    for child in children:
        value = element_data(child, _depth + 1, provider=provider)
        if child.tag in data:
            existing = data[child.tag]
            if isinstance(existing, list):
                existing.append(value)
            else:
                data[child.tag] = [existing, value]
        else:
            data[child.tag] = value
    return data


_LINKABLE = re.compile(r"https?://[^\s\x00-\x1f\"'<>]{1,2000}")


def link(value: Any) -> str:
    """`value` when it is an http(s) URL a page may link to, else "" (never javascript:,
    data: or text that only starts like a URL)."""
    url = text(value)
    return url if _LINKABLE.fullmatch(url) else ""


def io_field(section: str, label: str, value: Any, *, url: bool = False) -> IOField | None:
    """An IOField for a provider value (None when it is empty); `url` links the value."""
    shown = text(value)[:500]
    if not shown:
        return None
    return IOField(section, label, shown, link(shown) if url else "")
