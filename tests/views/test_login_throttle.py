"""Login throttling: wrong passwords lock out the username and, separately, the client
address, with a clear page; the count is in the database (every web process shares it);
an admin can unlock; sessions and API tokens are untouched."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from jobs.services.api_tokens import api_token_create

LIMIT = settings.AXES_FAILURE_LIMIT
CSRF_SECRET = "Csrf0Secret1For2Tests3Only4abcde"


def _login(username: str, password: str, ip: str = "192.0.2.20", client: Client | None = None):
    client = client or Client()
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_wrong_passwords_lock_the_username_out_with_a_clear_page(operator):
    answers = [_login("olivia", f"guess-{n}").status_code for n in range(LIMIT - 1)]
    assert answers == [200] * (LIMIT - 1)  # the form, with its error
    locked = _login("olivia", "guess-last")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Login locked for now" in page and "olivia" in page
    assert "15 minutes" in page and "administrator can unlock" in page
    assert locked["Retry-After"] == "900"

    # The right password, from a fresh client on another address: still locked.
    cache.clear()  # nothing of it lives in this process's memory
    response = _login("olivia", "pw-olivia", ip="198.51.100.30", client=Client())
    assert response.status_code == 429 and "_auth_user_id" not in response.client.session


@pytest.mark.django_db
def test_wrong_passwords_from_one_address_lock_the_address_out(operator):
    for n in range(LIMIT):  # a different username each time: only the address repeats
        _login(f"nobody-{n}", "guess", ip="203.0.113.40")
    assert _login("olivia", "pw-olivia", ip="203.0.113.40").status_code == 429
    # The same person from elsewhere is not locked out: the lock is the address's.
    response = _login("olivia", "pw-olivia", ip="198.51.100.41")
    assert response.status_code == 302 and response["Location"] == reverse("job-list")


@pytest.mark.django_db
def test_a_success_before_the_limit_starts_the_count_again(operator):
    for n in range(LIMIT - 1):
        _login("olivia", f"guess-{n}")
    assert _login("olivia", "pw-olivia").status_code == 302
    assert _login("olivia", "guess-again").status_code == 200  # not locked


@pytest.mark.django_db
def test_an_admin_unlocks_in_the_admin(operator, staff_admin):
    for n in range(LIMIT):
        _login("olivia", f"guess-{n}")
    assert _login("olivia", "pw-olivia").status_code == 429

    admin = Client(enforce_csrf_checks=True)
    admin.force_login(staff_admin)
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "olivia" in listing.content.decode()
    admin.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    for attempt in AccessAttempt.objects.filter(username="olivia"):
        deleted = admin.post(
            f"/admin/axes/accessattempt/{attempt.pk}/delete/",
            {"post": "yes", "csrfmiddlewaretoken": CSRF_SECRET},
        )
        assert deleted.status_code == 302
    assert not AccessAttempt.objects.filter(username="olivia").exists()
    assert _login("olivia", "pw-olivia").status_code == 302


@pytest.mark.django_db
def test_the_reset_command_unlocks_a_username(operator):
    for n in range(LIMIT):
        _login("olivia", f"guess-{n}")
    call_command("axes_reset_username", "olivia", stdout=open("/dev/null", "w"))
    assert _login("olivia", "pw-olivia").status_code == 302


@pytest.mark.django_db
def test_sessions_and_api_tokens_are_untouched_by_a_locked_address(operator, viewer):
    for n in range(LIMIT):
        _login(f"nobody-{n}", "guess", ip="127.0.0.1")  # the test client's own address
    assert _login("olivia", "pw-olivia", ip="127.0.0.1").status_code == 429

    session = Client()
    session.force_login(operator)
    assert session.get(reverse("job-list")).status_code == 200
    token = api_token_create(user=viewer, name="script")[1]
    response = Client().get("/api/v1/jobs", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


@pytest.mark.django_db
def test_behind_a_proxy_the_address_comes_from_the_configured_header(operator, settings):
    settings.CLAPBOARD_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    client = Client()
    for n in range(LIMIT):  # every request arrives from the proxy, 10.0.0.2
        client.post(
            reverse("login"),
            {"username": f"nobody-{n}", "password": "guess"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_REAL_IP="203.0.113.50",
        )
    assert AccessAttempt.objects.filter(ip_address="203.0.113.50").exists()
    other_visitor = client.post(
        reverse("login"),
        {"username": "olivia", "password": "pw-olivia"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_REAL_IP="198.51.100.51",
    )
    assert other_visitor.status_code == 302  # the proxy's address was never locked
