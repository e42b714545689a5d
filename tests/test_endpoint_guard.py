"""Account endpoint overrides: signed requests never go to metadata services, internal
ports or URLs carrying a password, unless CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS opens
loopback and private networks (the simulator, a private gateway)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from django.test import Client

from jobs.models import Account, Job
from jobs.providers.base import ProviderError
from jobs.refresh import refresh_once
from jobs.services import InvalidInput, account_create

pytestmark = pytest.mark.django_db

ALWAYS_REFUSED = [
    "http://169.254.169.254/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://100.100.100.200/",
    "http://[fe80::1]:8001/",
    "http://admin:hunter2@vod.example.com/",
    "https://token@127.0.0.1:8001/",
]
PRIVATE = [
    "http://127.0.0.1:22",
    "http://localhost:8001/",
    "http://[::1]:8001/",
    "http://10.0.0.5/",
    "http://192.168.1.20:8080/",
    "http://[fd12::1]/",
]
# 127.0.0.1 as the resolver also spells it (the URL validator refuses these already).
NUMERIC_LOOPBACK = ["http://2130706433:8001/", "http://0x7f.1:8001/", "http://127.1:8001/"]
PUBLIC = ["https://vod.tencentcloudapi.com", "https://gateway.example.com:8443/"]


def _vod(endpoint: str) -> Account:
    return account_create(
        name="vod",
        provider="tencent_vod",
        credentials={"secret_id": "AKIDguard0000001", "secret_key": "guard-secret-0001"},
        endpoint=endpoint,
    )


@pytest.mark.parametrize("endpoint", ALWAYS_REFUSED + PRIVATE + NUMERIC_LOOPBACK)
def test_the_service_refuses_private_loopback_link_local_and_userinfo_endpoints(settings, endpoint):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    with pytest.raises(InvalidInput, match="endpoint"):
        _vod(endpoint)
    assert not Account.objects.exists()


@pytest.mark.parametrize("endpoint", PRIVATE)
def test_the_setting_opens_loopback_and_private_networks(settings, endpoint):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = True
    assert _vod(endpoint).endpoint == endpoint


@pytest.mark.parametrize("endpoint", ALWAYS_REFUSED)
def test_metadata_link_local_and_userinfo_stay_refused_with_the_setting(settings, endpoint):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = True
    with pytest.raises(InvalidInput):
        _vod(endpoint)


@pytest.mark.parametrize("endpoint", PUBLIC)
def test_public_endpoints_are_accepted(settings, endpoint):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    assert _vod(endpoint).endpoint == endpoint


def test_the_private_endpoint_setting_is_off_by_default_even_with_debug():
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='dashboard.settings'; "
        "from django.conf import settings; "
        "print(settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS, settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLAPBOARD_ALLOW") and k != "DJANGO_SETTINGS_MODULE"
    }
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DEBUG": "true"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["False", "False"]


# --- the admin form ----------------------------------------------------------------


def _form(endpoint: str) -> dict[str, str]:
    return {
        "name": "prod-vod",
        "provider": "tencent_vod",
        "region": "",
        "endpoint": endpoint,
        "enabled": "on",
        "rate_limit": "",
        "credential__secret_id": "AKIDadmin00000042",
        "credential__secret_key": "planted-secret-9b1e5f27c3",
        "option__sub_app_id": "",
    }


@pytest.fixture
def admin_client(staff_admin) -> Client:
    client = Client()
    client.force_login(staff_admin)
    return client


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ("http://169.254.169.254/", "is a cloud metadata address, which is never allowed"),
        ("http://127.0.0.1:22", "is a loopback address; private and loopback endpoints"),
        ("http://user:pass@vod.example.com/", "must not contain a user name or password"),
        ("http://10.1.2.3/", "is a private network address"),
    ],
)
def test_the_admin_form_shows_why_an_endpoint_is_refused(admin_client, settings, endpoint, message):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    response = admin_client.post("/admin/jobs/account/add/", _form(endpoint))
    html = response.content.decode()
    assert response.status_code == 200 and "errornote" in html
    assert message in html
    assert "planted-secret" not in html
    assert not Account.objects.exists()


def test_the_admin_form_accepts_the_simulator_when_the_setting_allows(admin_client, settings):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = True
    response = admin_client.post("/admin/jobs/account/add/", _form("http://127.0.0.1:8001"))
    assert response.status_code == 302
    assert Account.objects.get().endpoint == "http://127.0.0.1:8001"


# --- at request time ---------------------------------------------------------------


def test_test_connection_to_a_refused_endpoint_sends_nothing(
    admin_client, simulator, accounts, settings
):
    # Saved while the setting was on (or written around the form): refused when used.
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    account = accounts["tencent_ivh"]
    before = sum(simulator.requests.values())
    response = admin_client.post(
        "/admin/jobs/account/",
        {"action": "test_connection", "_selected_action": [account.pk]},
        follow=True,
    )
    html = response.content.decode().lower()  # the admin capitalises messages
    assert f"{account.name}: refusedendpoint: the endpoint host 127.0.0.1 is a loopback" in html
    assert "clapboard_allow_private_endpoints" in html
    assert sum(simulator.requests.values()) == before


@pytest.mark.django_db(transaction=True)  # the refresh loop's threads write
def test_polling_a_refused_endpoint_is_a_permanent_account_error(simulator, accounts, settings):
    account = accounts["aliyun_ice"]
    simulator.add_job("aliyun_ice", "ice-guarded", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=account, external_id="ice-guarded")
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    refresh_once()
    account.refresh_from_db()
    job.refresh_from_db()
    assert simulator.requests.get("aliyun_ice", 0) == 0
    assert "RefusedEndpoint" in account.last_error and "127.0.0.1" in account.last_error
    assert account.retry_at is not None  # permanent: the account waits
    # The job keeps its state; its page says the account is paused (a check episode).
    assert job.state == "unknown" and "account paused" in job.last_poll_error


@pytest.mark.parametrize("endpoint", ALWAYS_REFUSED + PRIVATE + NUMERIC_LOOPBACK)
def test_an_endpoint_saved_around_the_form_is_refused_when_used(simulator, settings, endpoint):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    account = _vod("https://vod.tencentcloudapi.com")
    Account.objects.filter(pk=account.pk).update(endpoint=endpoint)  # no validation
    account.refresh_from_db()
    with pytest.raises(ProviderError) as caught:
        account.adapter().fetch(["task-1"])
    assert caught.value.permanent and caught.value.code == "RefusedEndpoint"
    assert "hunter2" not in str(caught.value)


def test_a_name_that_resolves_to_loopback_is_refused_at_request_time(
    simulator, accounts, settings, monkeypatch
):
    port = int(simulator.url.rsplit(":", 1)[1])
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "vod-gateway.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    account = accounts["tencent_vod"]
    account.endpoint = f"http://vod-gateway.example:{port}"
    account.full_clean()  # a name passes the form: it is judged after DNS
    account.save()
    with pytest.raises(ProviderError) as caught:
        account.adapter().check_credentials()
    assert caught.value.permanent and caught.value.code == "RefusedEndpoint"
    assert "127.0.0.1 of vod-gateway.example" in str(caught.value)
    assert simulator.requests.get("tencent_vod", 0) == 0
