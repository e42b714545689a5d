"""The account admin: credential inputs are write-only and secrets never come back."""

from __future__ import annotations

import pytest
from django.test import Client

from jobs.models import Account

SECRET = "planted-secret-9b1e5f27c3"
SECRET_ID = "AKIDadmin00000042"


def _form(**extra):
    data = {
        "name": "prod-vod",
        "provider": "tencent_vod",
        "region": "",
        "endpoint": "",
        "enabled": "on",
        "rate_limit": "",
        "credential__secret_id": SECRET_ID,
        "credential__secret_key": SECRET,
        "option__sub_app_id": "",
    }
    data.update(extra)
    return data


@pytest.fixture
def admin_client_csrf(staff_admin) -> Client:
    client = Client()  # the admin's own CSRF handling is Django's; tested elsewhere
    client.force_login(staff_admin)
    return client


def _all_admin_pages(client: Client, account: Account) -> str:
    pages = [
        "/admin/jobs/account/",
        f"/admin/jobs/account/{account.pk}/change/",
        "/admin/jobs/account/add/?provider=tencent_vod",
        f"/admin/jobs/account/{account.pk}/history/",
        f"/admin/jobs/account/{account.pk}/delete/",
    ]
    html = ""
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html += response.content.decode()
    return html


@pytest.mark.django_db
def test_add_then_change_never_shows_the_secret(admin_client_csrf):
    response = admin_client_csrf.post("/admin/jobs/account/add/", _form())
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.get(name="prod-vod")
    assert account.credentials == {"secret_id": SECRET_ID, "secret_key": SECRET}

    html = _all_admin_pages(admin_client_csrf, account)
    assert SECRET not in html
    assert SECRET_ID not in html  # identifiers are shown masked only
    assert "AKID••••0042" in html


@pytest.mark.django_db
def test_blank_credential_input_keeps_the_stored_secret(admin_client_csrf):
    admin_client_csrf.post("/admin/jobs/account/add/", _form())
    account = Account.objects.get(name="prod-vod")
    response = admin_client_csrf.post(
        f"/admin/jobs/account/{account.pk}/change/",
        _form(**{"credential__secret_key": "", "credential__secret_id": "", "region": "ap-hk"}),
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.credentials["secret_key"] == SECRET and account.region == "ap-hk"

    admin_client_csrf.post(
        f"/admin/jobs/account/{account.pk}/change/",
        _form(**{"credential__secret_key": "rotated-secret-77", "credential__secret_id": ""}),
    )
    account.refresh_from_db()
    assert account.credentials == {"secret_id": SECRET_ID, "secret_key": "rotated-secret-77"}


@pytest.mark.django_db
def test_a_form_error_does_not_echo_the_typed_secret(admin_client_csrf):
    response = admin_client_csrf.post("/admin/jobs/account/add/", _form(endpoint="ftp://nowhere/"))
    html = response.content.decode()
    assert response.status_code == 200 and "errornote" in html
    assert SECRET not in html
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_add_page_shows_the_chosen_providers_schema(admin_client_csrf):
    html = admin_client_csrf.get("/admin/jobs/account/add/?provider=tencent_ci").content.decode()
    assert 'name="credential__secret_key"' in html and 'name="option__bucket"' in html
    assert 'type="password"' in html


@pytest.mark.django_db
def test_non_staff_cannot_reach_the_account_admin(operator_client):
    response = operator_client.get("/admin/jobs/account/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_jobs_events_and_share_links_are_browsable(admin_client_csrf):
    for url in (
        "/admin/jobs/job/",
        "/admin/jobs/jobevent/",
        "/admin/jobs/sharelink/",
        "/admin/jobs/job/?state__exact=failed&q=abc",
    ):
        assert admin_client_csrf.get(url).status_code == 200, url


@pytest.mark.django_db
def test_test_connection_action_reports_per_account(admin_client_csrf, simulator, accounts):
    good = accounts["tencent_vod"]
    bad = accounts["aliyun_ice"]
    bad.credentials = {**bad.credentials, "access_key_secret": "wrong-secret-0000"}
    bad.save()
    response = admin_client_csrf.post(
        "/admin/jobs/account/",
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    html = response.content.decode().lower()  # the admin capitalises messages
    assert f"{good.name}: connection ok" in html
    assert f"{bad.name}: signaturedoesnotmatch" in html
    assert "wrong-secret-0000" not in html
