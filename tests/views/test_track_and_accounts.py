from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.models import Account, Job
from jobs.providers.base import State
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db


def _post(client, url, data):
    client.get(url)  # sets the CSRF cookie
    return client.post(url, data, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)


def test_track_checks_each_id_and_keeps_the_other_lines(operator_client, simulator, accounts):
    account = accounts["tencent_ci"]
    for n in (1, 2):
        simulator.add_job("tencent_ci", f"j-ci-{n}", pinned="running")
    Job.objects.create(account=account, external_id="j-ci-2")
    response = _post(
        operator_client,
        reverse("track"),
        {"account": str(account.code), "task_ids": "j-ci-1, j-ci-2\nj-ci-missing   j-ci-1"},
    )
    outcomes = {r.external_id: r.outcome for r in response.context["results"]}
    assert outcomes == {
        "j-ci-1": "tracked",
        "j-ci-2": "already tracked",
        "j-ci-missing": "not found",
    }
    tracked = Job.objects.get(account=account, external_id="j-ci-1")
    assert tracked.state == State.RUNNING and tracked.version == 1  # checked right away
    assert not Job.objects.filter(external_id="j-ci-missing").exists()


def test_track_reports_provider_errors_per_line(operator_client, simulator, accounts):
    simulator.inject("http_500", "aliyun_ice")
    response = _post(
        operator_client,
        reverse("track"),
        {"account": str(accounts["aliyun_ice"].code), "task_ids": "a1"},
    )
    (result,) = response.context["results"]
    assert result.outcome == "error" and "InternalError" in result.message
    assert not Job.objects.exists()


def test_track_form_errors_keep_the_input(operator_client, accounts):
    response = _post(operator_client, reverse("track"), {"account": "", "task_ids": "keep-me"})
    html = response.content.decode()
    assert response.status_code == 200 and "keep-me" in html and 'class="field invalid"' in html


def test_viewers_cannot_track(viewer_client, outsider_client):
    assert viewer_client.get(reverse("track")).status_code == 403
    assert outsider_client.get(reverse("track")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_accounts_health_shows_usage_errors_and_lag(
    viewer_client, staff_client, simulator, accounts
):
    simulator.add_job("huawei_metastudio", "ms-h", pinned="running")
    Job.objects.create(account=accounts["huawei_metastudio"], external_id="ms-h")
    Job.objects.create(account=accounts["aliyun_ice"], external_id="ice-h")
    simulator.inject("bad_signature", "aliyun_ice")
    refresh_once()
    html = viewer_client.get(reverse("account-health")).content.decode()
    assert "sim-huawei_metastudio" in html and "1 / 36000" in html  # 10/s for an hour
    assert "SignatureDoesNotMatch" in html and "paused until" in html
    assert "/admin/" not in html  # viewers get no admin links
    secret = accounts["aliyun_ice"].credentials["access_key_secret"]
    assert secret not in html
    staff = staff_client.get(reverse("account-health")).content.decode()
    assert f"/admin/jobs/account/{accounts['aliyun_ice'].pk}/change/" in staff
    assert Account.objects.count() == len(accounts)


def test_outsiders_see_no_accounts(outsider_client):
    assert outsider_client.get(reverse("account-health")).status_code == 403


# --- the truth about a new or failing account (issue 11 item 3) ----------------------------


def _account_row(html: str, name: str) -> str:
    rows = [row for row in html.split("<tr")[1:] if re.search(rf">{re.escape(name)}[<\s]", row)]
    assert len(rows) == 1, name
    return rows[0]


def test_an_account_that_never_succeeded_is_not_yet_verified(viewer_client, accounts):
    html = viewer_client.get(reverse("account-health")).content.decode()
    row = _account_row(html, "sim-tencent_vod")
    assert "not yet verified" in row and "✓ OK" not in row
    assert "never" in row


def test_a_failed_track_verification_is_recorded_and_shown_as_failing(
    operator_client, viewer_client, simulator, accounts
):
    account = accounts["tencent_vod"]
    account.credentials = {**account.credentials, "secret_id": "AKIDwrong0000000000"}
    account.save()
    simulator.add_job("tencent_vod", "vod-1", pinned="running")
    response = _post(
        operator_client,
        reverse("track"),
        {"account": str(account.code), "task_ids": "vod-1"},
    )
    (result,) = response.context["results"]
    assert result.outcome == "error" and "SecretIdNotFound" in result.message

    account.refresh_from_db()
    assert account.consecutive_failures == 1 and account.last_ok_at is None
    assert "SecretIdNotFound" in account.last_error and account.last_error_at is not None
    assert account.retry_at is not None  # like a poll's credential failure: polling waits
    row = _account_row(viewer_client.get(reverse("account-health")).content.decode(), account.name)
    assert "failing ×1" in row and "SecretIdNotFound" in row
    assert "✓ OK" not in row and "never" in row


def test_a_successful_track_verification_marks_the_account_ok(
    operator_client, viewer_client, simulator, accounts
):
    account = accounts["tencent_ci"]
    simulator.add_job("tencent_ci", "ci-ok-1", pinned="running")
    _post(operator_client, reverse("track"), {"account": str(account.code), "task_ids": "ci-ok-1"})
    account.refresh_from_db()
    assert account.last_ok_at is not None and account.consecutive_failures == 0
    row = _account_row(viewer_client.get(reverse("account-health")).content.decode(), account.name)
    assert "✓ OK" in row and "not yet verified" not in row


def test_rejected_credentials_stop_a_track_after_the_first_request(
    operator_client, simulator, accounts
):
    account = accounts["tencent_ivh"]  # one request per task ID
    account.credentials = {**account.credentials, "access_token": "wrong-token-000000"}
    account.save()
    response = _post(
        operator_client,
        reverse("track"),
        {"account": str(account.code), "task_ids": "ivh-a ivh-b ivh-c"},
    )
    assert [r.outcome for r in response.context["results"]] == ["error"] * 3
    assert simulator.requests.get("tencent_ivh") == 1
    account.refresh_from_db()
    assert account.consecutive_failures == 1
