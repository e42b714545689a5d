from __future__ import annotations

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
