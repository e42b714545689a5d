from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.models import Account, Job
from jobs.providers import provider_class

VOD_CREDENTIALS = {"secret_id": "AKIDcli000000001", "secret_key": "cli-secret-value-123"}


def addaccount(*args: str, stdin: str) -> str:
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("addaccount", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


@pytest.mark.django_db
def test_addaccount_creates_an_encrypted_account():
    out = addaccount(
        "prod-vod",
        "--provider",
        "tencent_vod",
        "--region",
        "ap-guangzhou",
        "--option",
        "sub_app_id=1500000001",
        stdin=json.dumps(VOD_CREDENTIALS),
    )
    account = Account.objects.get(name="prod-vod")
    assert account.credentials == VOD_CREDENTIALS
    assert account.options == {"sub_app_id": "1500000001"}
    assert account.region == "ap-guangzhou"
    assert "cli-secret-value-123" not in out
    assert "AKID••••0001" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--provider", "nimbus"], json.dumps(VOD_CREDENTIALS), "unknown provider 'nimbus'"),
        (["--provider", "tencent_vod"], "{not json", "not valid JSON"),
        (["--provider", "tencent_vod"], "[1, 2]", "must be a JSON object"),
        (
            ["--provider", "tencent_vod", "--endpoint", "ftp://10.0.0.1/"],
            json.dumps(VOD_CREDENTIALS),
            "endpoint must be an http(s) URL",
        ),
        (["--provider", "tencent_vod"], json.dumps({"secret_id": "x"}), "'secret_key' is required"),
        (
            ["--provider", "tencent_vod"],
            json.dumps({**VOD_CREDENTIALS, "password": "x"}),
            "unknown credential 'password'",
        ),
        (
            ["--provider", "tencent_vod", "--option", "novalue"],
            json.dumps(VOD_CREDENTIALS),
            "key=value",
        ),
        (
            ["--provider", "tencent_ci"],
            json.dumps(VOD_CREDENTIALS),
            "option 'bucket' is required",
        ),
    ],
)
def test_addaccount_bad_input_is_one_clear_error_and_saves_nothing(args, stdin, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        addaccount("acct", *args, stdin=stdin)
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_addaccount_duplicate_name_is_refused():
    addaccount("dup", "--provider", "tencent_vod", stdin=json.dumps(VOD_CREDENTIALS))
    with pytest.raises(CommandError, match="already exists"):
        addaccount("dup", "--provider", "tencent_vod", stdin=json.dumps(VOD_CREDENTIALS))
    assert Account.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_addaccount_error_exits_with_status_1_and_one_line():
    result = subprocess.run(
        [sys.executable, "manage.py", "addaccount", "x", "--provider", "nimbus"],
        input="{}",
        capture_output=True,
        text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings_test"},
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "unknown provider 'nimbus'" in result.stderr


@pytest.mark.django_db
def test_track_records_jobs_and_reports_duplicates():
    addaccount("vod", "--provider", "tencent_vod", stdin=json.dumps(VOD_CREDENTIALS))
    out = io.StringIO()
    call_command("track", "vod", "task-1", "task-2", stdout=out)
    call_command("track", "vod", "task-2", "task-3", stdout=out)
    assert sorted(Job.objects.values_list("external_id", flat=True)) == [
        "task-1",
        "task-2",
        "task-3",
    ]
    lines = out.getvalue().splitlines()
    assert lines == [
        "task-1: tracked",
        "task-2: tracked",
        "task-2: already tracked",
        "task-3: tracked",
    ]


@pytest.mark.django_db
def test_track_unknown_account():
    with pytest.raises(CommandError, match="no account named 'ghost'"):
        call_command("track", "ghost", "t1")


# --- each provider's own credential names (issue 11 item 28) ------------------------------


# (provider, {the provider's own credential name: the name Clapboard stores}, options)
OWN_CREDENTIAL_NAMES = [
    ("huawei_metastudio", {"ak": "access_key", "sk": "secret_key"}, ["project_id=0f1a2b3c"]),
    ("huawei_metastudio", {"AK": "access_key", "SK": "secret_key"}, ["ProjectId=0f1a2b3c"]),
    ("tencent_vod", {"SecretId": "secret_id", "SecretKey": "secret_key"}, []),
    (
        "tencent_ci",
        {"SecretId": "secret_id", "secret_key": "secret_key"},
        ["bucket=examplebucket-1250000000"],
    ),
    ("aliyun_ice", {"AccessKeyId": "access_key_id", "AccessKeySecret": "access_key_secret"}, []),
    ("tencent_ivh", {"AppKey": "appkey", "accesstoken": "access_token"}, []),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("provider", "names", "options"), OWN_CREDENTIAL_NAMES)
def test_addaccount_accepts_the_providers_own_credential_names(provider, names, options):
    # Values unique per row and per field, so a value stored under the wrong name shows.
    given = {own: f"cli-{provider}-{own}-0001" for own in names}
    stored = {names[own]: value for own, value in given.items()}
    args = [arg for option in options for arg in ("--option", option)]
    out = addaccount("acct", "--provider", provider, *args, stdin=json.dumps(given))
    account = Account.objects.get(name="acct")
    assert account.credentials == stored
    if provider == "huawei_metastudio":
        assert account.options == {"project_id": "0f1a2b3c"}
    assert "created account acct" in out
    fields = provider_class(provider).credential_fields
    secrets = [stored[f.name] for f in fields if f.secret and f.name in stored]
    assert secrets and not any(secret in out for secret in secrets)


@pytest.mark.django_db
def test_addaccount_refuses_a_credential_given_under_two_names():
    stdin = json.dumps({"ak": "HWAK1", "access_key": "HWAK2", "sk": "s"})
    with pytest.raises(CommandError, match="'access_key' is given twice"):
        addaccount(
            "acct", "--provider", "huawei_metastudio", "--option", "project_id=p", stdin=stdin
        )
    assert not Account.objects.exists()
