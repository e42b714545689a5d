"""The shared wire toolkit: one behaviour for every adapter."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from jobs import http
from jobs.providers import PROVIDERS, provider_class, wire
from jobs.providers.base import UNKNOWN_FAILURE, Explanation, FailureCategory, ProviderError
from jobs.providers.catalogue import CATALOGUE_FILE, load_catalogue, parse_catalogue

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "7"}, 7.0),
        ({"RETRY-AFTER": " 2.5 "}, 2.5),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "86400"}, wire.MAX_RETRY_AFTER),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        ({"Content-Type": "text/plain"}, None),
    ],
)
def test_retry_after_delta_seconds(headers, expected):
    assert wire.retry_after(headers, now=NOW) == expected


def test_retry_after_http_date():
    later = datetime.fromtimestamp(NOW + 120, UTC)
    assert wire.retry_after({"Retry-After": format_datetime(later, usegmt=True)}, now=NOW) == 120
    earlier = datetime.fromtimestamp(NOW - 120, UTC)
    assert wire.retry_after({"retry-after": format_datetime(earlier, usegmt=True)}, now=NOW) == 0
    far = datetime.fromtimestamp(NOW + 10 * 86400, UTC)
    assert (
        wire.retry_after({"Retry-After": format_datetime(far, usegmt=True)}, now=NOW)
        == wire.MAX_RETRY_AFTER
    )
    assert wire.retry_after({"Retry-After": "Mon, 99 Foo 2026 25:61:00 GMT"}, now=NOW) is None


def test_retry_after_reads_a_response_whatever_the_spelling():
    response = http.Response(429, {"rEtRy-AfTeR": "4"}, b"")
    assert response.headers["Retry-After"] == "4"
    assert wire.retry_after(response.headers) == 4.0


def test_throttle_delay_defaults_when_the_header_says_nothing_useful():
    assert wire.throttle_delay({"Retry-After": "9"}) == 9.0
    assert wire.throttle_delay({"Retry-After": "0"}) == wire.DEFAULT_RETRY_AFTER
    assert wire.throttle_delay({"Retry-After": "later"}) == wire.DEFAULT_RETRY_AFTER
    assert wire.throttle_delay({}) == wire.DEFAULT_RETRY_AFTER


# Every key one of the five adapters treated as a credential before they shared one rule,
# and keys from each provider's payloads that are not credentials.
CREDENTIAL_KEYS = [
    # Tencent IVH
    "Authorization", "appkey", "AppKey", "accesstoken", "access_token", "AccessToken",
    "signature", "SecretId", "secretkey", "password",
    # Tencent VOD / CI
    "SecretKey", "Token", "x-ci-security-token", "Credential", "Signature",
    # Huawei MetaStudio
    "ak", "SK", "access_key", "AccessKey", "passwd", "secret",
    # Alibaba ICE
    "AccessKeyId", "AccessKeySecret", "SecurityToken", "Credentials",
]  # fmt: skip
PAYLOAD_KEYS = [
    "TaskId", "Status", "MediaUrl", "FileUrl", "JobId", "Input", "Object", "AuObject",
    "job_id", "state", "output_asset_config", "Result", "JobParams", "Name", "Duration",
    "Message", "Code", "task", "desk", "skip",
]  # fmt: skip


@pytest.mark.parametrize("key", CREDENTIAL_KEYS)
def test_credential_keys(key):
    assert wire.is_credential_key(key)


@pytest.mark.parametrize("key", PAYLOAD_KEYS)
def test_payload_keys_are_kept(key):
    assert not wire.is_credential_key(key)


def test_scrub_drops_credentials_everywhere_and_stays_plain_json():
    deep: object = {"leaf": 1}
    for _ in range(100):
        deep = {"n": deep}
    scrubbed = wire.scrub(
        {
            "Status": "OK",
            "SecretKey": "s",
            "List": [{"AccessToken": "t", "keep": 1}, ("a", 2)],
            "Nested": {"Inner": {"Authorization": "x", "Value": float("nan")}},
            "Odd": object,
            3: "number key",
            "Deep": deep,
        }
    )
    assert "SecretKey" not in scrubbed
    assert scrubbed["List"] == [{"keep": 1}, ["a", 2]]
    assert scrubbed["Nested"] == {"Inner": {"Value": None}}
    assert isinstance(scrubbed["Odd"], str) and scrubbed["3"] == "number key"
    assert wire.NESTED_TOO_DEEP in json.dumps(scrubbed, allow_nan=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" a ", "a"), (7, "7"), (True, ""), (None, ""), (1.5, ""), ({"a": 1}, "")],
)
def test_text(value, expected):
    assert wire.text(value) == expected


def test_first_text():
    assert wire.first_text({"Code": " ", "code": "X"}, "Code", "code") == "X"
    assert wire.first_text(["Code"], "Code") == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12000),
        ("12.000000", 12000),
        (0.0015, 2),
        (0, 0),
        (-1, None),
        ("x", None),
        (float("inf"), None),
        (True, None),
        (10**10, None),
    ],
)
def test_seconds_to_ms(value, expected):
    assert wire.seconds_to_ms(value) == expected


@pytest.mark.parametrize(
    "value", ["", "never", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", 5]
)
def test_parse_time_unusable(value):
    assert wire.parse_time(value) is None


def test_parse_time_flavours():
    expected = datetime(2019, 7, 16, 6, 21, 27, tzinfo=UTC)
    for value in ("2019-07-16T06:21:27Z", "2019-07-16T14:21:27+08:00", "2019-07-16T14:21:27+0800"):
        assert wire.parse_time(value) == expected
    assert wire.iso_utc(expected) == "2019-07-16T06:21:27Z"


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b"[" * 100_000, b"\xff", b""])
def test_decode_json_is_strict(body):
    with pytest.raises(ValueError):
        wire.decode_json(body)


def test_malformed_is_transient():
    error = wire.malformed("X", "no body", http_status=502)
    assert (error.code, error.permanent, error.http_status) == (wire.MALFORMED, False, 502)
    assert error.message == "X answer not understood: no body"


def test_lookup_dotted():
    entry = Explanation(FailureCategory.INPUT, "bad", retry_helps=False, action="fix")
    catalogue = {"InvalidInput": entry}
    assert wire.lookup_dotted(catalogue, "InvalidInput.NotExist.Deeper") is entry
    assert wire.lookup_dotted(catalogue, " InvalidInput ") is entry
    assert wire.lookup_dotted(catalogue, "Other.InvalidInput") is UNKNOWN_FAILURE
    assert wire.lookup_dotted(catalogue, "") is UNKNOWN_FAILURE


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "a">]><r>&a;</r>',
        b"<r><unclosed></r>",
        b"\xff\xfe<r/>",
        "<" * 3,
    ],
)
def test_parse_xml_refuses(body):
    with pytest.raises(ProviderError) as caught:
        wire.parse_xml(body, provider="X")
    assert caught.value.code == wire.MALFORMED and not caught.value.permanent


def test_element_data():
    root = wire.parse_xml("<r><a> 1 </a><b><c>2</c></b><a>3</a></r>", provider="X")
    assert wire.element_data(root) == {"a": ["1", "3"], "b": {"c": "2"}}
    deep = wire.parse_xml("<a>" * 60 + "</a>" * 60, provider="X")
    with pytest.raises(ProviderError):
        wire.element_data(deep)


# --- failure catalogues as data --------------------------------------------------------

GOOD_ENTRY = """
["Boom"]
category = "INTERNAL"
summary = "It broke"
retry_helps = true
action = "Submit again."
"""


def test_parse_catalogue_keeps_every_field_and_the_file_order():
    source = GOOD_ENTRY + GOOD_ENTRY.replace("Boom", "Aardvark").replace("INTERNAL", "INPUT")
    catalogue = parse_catalogue(source, where="test.toml")
    assert list(catalogue) == ["Boom", "Aardvark"]
    assert catalogue["Boom"] == Explanation(
        FailureCategory.INTERNAL, "It broke", retry_helps=True, action="Submit again."
    )
    assert catalogue["Aardvark"].category is FailureCategory.INPUT


@pytest.mark.parametrize(
    "source",
    [
        GOOD_ENTRY.replace('category = "INTERNAL"', 'category = "internal"'),
        GOOD_ENTRY.replace("retry_helps = true", 'retry_helps = "yes"'),
        GOOD_ENTRY.replace('action = "Submit again."\n', ""),
        GOOD_ENTRY + 'extra = "field"\n',
        'Boom = "not a table"\n',
    ],
)
def test_parse_catalogue_refuses_a_broken_entry(source):
    with pytest.raises(ValueError, match=r"test\.toml \[Boom\]"):
        parse_catalogue(source, where="test.toml")


def test_every_provider_ships_its_catalogue_as_package_data():
    root = Path(__file__).resolve().parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    shipped = {
        path
        for pattern in package_data["jobs.providers"]
        for path in (root / "jobs" / "providers").glob(pattern)
    }
    for code in PROVIDERS:
        catalogue = root / "jobs" / "providers" / code / CATALOGUE_FILE
        assert catalogue in shipped, code
        assert load_catalogue(f"jobs.providers.{code}.catalogue") == (
            provider_class(code).failure_catalogue
        )
