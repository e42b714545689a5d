"""The account admin: credential inputs are write-only and secrets never come back."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from jobs.models import Account
from jobs.roles import OPERATORS
from tests.csrf import csrf_post

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


# --- adding in two steps (issue 11 item 22) ------------------------------------------------


@pytest.mark.django_db
def test_adding_starts_with_a_neutral_provider_choice(admin_client_csrf):
    step_one = admin_client_csrf.get("/admin/jobs/account/add/")
    html = step_one.content.decode()
    assert step_one.status_code == 200
    assert "errornote" not in html and "Please correct" not in html
    for code in ("tencent_vod", "tencent_ci", "tencent_ivh", "aliyun_ice", "huawei_metastudio"):
        assert f'href="?provider={code}"' in html
    assert "My Credentials" in html  # where Huawei's console shows the AK/SK

    step_two = admin_client_csrf.get("/admin/jobs/account/add/?provider=huawei_metastudio")
    html = step_two.content.decode()
    assert step_two.status_code == 200
    assert "errornote" not in html and "errorlist" not in html
    assert 'name="credential__access_key"' in html and 'name="option__project_id"' in html
    assert 'type="hidden" name="provider" value="huawei_metastudio"' in html
    assert "Huawei MetaStudio" in html and "Step 2 of 2" in html
    assert "Access Keys" in html  # the console page, in the credentials help

    response = admin_client_csrf.post(
        "/admin/jobs/account/add/?provider=huawei_metastudio",
        {
            "name": "prod-ms",
            "provider": "huawei_metastudio",
            "region": "cn-north-4",
            "endpoint": "",
            "enabled": "on",
            "rate_limit": "",
            "credential__access_key": "HWAKADMIN0000001",
            "credential__secret_key": SECRET,
            "option__project_id": "0f1a2b3c",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = Account.objects.get(name="prod-ms")
    assert account.credentials == {"access_key": "HWAKADMIN0000001", "secret_key": SECRET}


# --- "Test connection" on the account page (issue 11 item 3) -------------------------------


@pytest.mark.django_db
def test_the_change_page_has_a_test_connection_button_that_records_the_outcome(
    staff_client, simulator, accounts
):
    account = accounts["tencent_vod"]
    page = f"/admin/jobs/account/{account.pk}/change/"
    button = f"/admin/jobs/account/{account.pk}/test-connection/"
    html = staff_client.get(page).content.decode()
    assert f'action="{button}"' in html and "Test connection" in html
    assert staff_client.get(button).status_code == 405
    assert staff_client.post(button).status_code == 403  # no CSRF token

    response = csrf_post(staff_client, button)
    assert response.status_code == 302 and response["Location"] == page
    assert f"{account.name}: connection ok" in staff_client.get(page).content.decode().lower()
    account.refresh_from_db()
    assert account.last_ok_at is not None and account.consecutive_failures == 0

    simulator.inject("bad_signature", "tencent_vod")
    csrf_post(staff_client, button)
    html = staff_client.get(page).content.decode()
    assert f"{account.name}: authfailure.signaturefailure" in html.lower()
    account.refresh_from_db()
    assert account.consecutive_failures == 1 and account.last_error_at is not None
    assert "AuthFailure.SignatureFailure" in account.last_error
    assert account.retry_at is not None  # a credential failure pauses polling, as a poll's
    assert account.credentials["secret_key"] not in html


# --- view-only staff (issue 12 item 9) -----------------------------------------------------


@pytest.fixture
def view_only_staff_client(django_user_model) -> Client:
    user = django_user_model.objects.create_user("stella", password="pw-stella", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_view_only_staff_get_a_read_only_account_page(view_only_staff_client, accounts):
    account = accounts["tencent_ci"]
    response = view_only_staff_client.get(f"/admin/jobs/account/{account.pk}/change/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "View account" in html and 'name="credential__' not in html
    assert 'name="name"' not in html and 'name="_save"' not in html  # nothing to edit
    assert account.credentials["secret_key"] not in html
    assert account.credentials["secret_id"] not in html
    assert account.masked_id in html and "SecretKey: stored" in html
    assert "Test connection" not in html
    listing = view_only_staff_client.get("/admin/jobs/account/")
    assert listing.status_code == 200 and "test_connection" not in listing.content.decode()
    button = f"/admin/jobs/account/{account.pk}/test-connection/"
    assert view_only_staff_client.post(button).status_code == 403
