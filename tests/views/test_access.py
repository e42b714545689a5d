"""Who may see what: outsiders nothing, viewers read, operators act, admins configure."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from jobs.models import Job
from jobs.roles import missing_role, user_roles
from jobs.services import account_create


@pytest.fixture
def job(db) -> Job:
    account = account_create(
        name="vod",
        provider="tencent_vod",
        credentials={"secret_id": "AKIDaccess0001", "secret_key": "access-secret-1"},
    )
    return Job.objects.create(account=account, external_id="task-visible", name="Evening news")


@pytest.mark.django_db
def test_roles_exist_after_migrate():
    viewers = Group.objects.get(name="Viewers")
    operators = Group.objects.get(name="Operators")
    viewer_perms = set(viewers.permissions.values_list("codename", flat=True))
    operator_perms = set(operators.permissions.values_list("codename", flat=True))
    assert "view_job" in viewer_perms and "operate_job" not in viewer_perms
    assert {"view_job", "operate_job", "add_sharelink"} <= operator_perms
    assert "change_account" not in operator_perms


def test_anonymous_is_sent_to_login_and_returned_to_the_deep_link(job, operator):
    client = Client()
    detail = reverse("job-detail", args=[job.code])
    response = client.get(detail)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={detail}"

    response = client.post(
        reverse("login"), {"username": "olivia", "password": "pw-olivia", "next": detail}
    )
    assert response.status_code == 302 and response["Location"] == detail
    assert "Evening news" in client.get(detail).content.decode()


def test_outsider_sees_nothing(job, outsider_client):
    assert outsider_client.get(reverse("job-list")).status_code == 403
    assert outsider_client.get(reverse("job-detail", args=[job.code])).status_code == 403
    assert outsider_client.get("/admin/jobs/account/").status_code == 302  # to admin login


def test_viewer_and_operator_see_the_job_list(job, viewer_client, operator_client):
    for client in (viewer_client, operator_client):
        page = client.get(reverse("job-list")).content.decode()
        assert "Evening news" in page and "task-visible" in page


def test_unknown_job_is_404(job, viewer_client):
    import uuid

    assert viewer_client.get(reverse("job-detail", args=[uuid.uuid4()])).status_code == 404


def test_login_page_is_public(db):
    assert Client().get(reverse("login")).status_code == 200


# --- the 403 page and the nav, by role ----------------------------------------------------


def _nav_links(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav, "the page has the site's navigation"
    return re.findall(r">([^<>]+)</a>", nav.group(1))


@pytest.mark.parametrize(
    "url", ["/track/", "/submit/voice-separation/", "/alerts/", "/alerts/new/"]
)
def test_a_viewer_gets_the_sites_403_page_naming_the_operators_role(url, viewer_client):
    response = viewer_client.get(url)
    assert response.status_code == 403
    page = response.content.decode()
    assert '<link rel="stylesheet" href="/static/css/clapboard.css">' in page
    assert _nav_links(page) == ["Jobs", "Failures", "Accounts", "API"]
    text = re.sub(r"<[^>]+>", "", page)
    assert "This page needs the Operators role." in text
    assert "You are signed in as victor with the Viewers role." in text
    assert "Ask an admin to add you to the Operators group." in text
    assert "Log out" in page


def test_someone_with_no_role_is_told_the_viewers_role_is_needed(outsider_client):
    response = outsider_client.get(reverse("job-list"))
    assert response.status_code == 403
    page = response.content.decode()
    text = re.sub(r"<[^>]+>", "", page)
    assert "This page needs the Viewers role." in text
    assert "You are signed in as oscar, with no role yet." in text
    assert _nav_links(page) == []  # not even "Jobs": it would only lead here again


def test_an_operator_lacks_no_role_only_an_admin_can_do_more(operator, staff_admin):
    assert missing_role(operator) is None and user_roles(operator) == ["Operators"]
    assert missing_role(staff_admin) is None


@pytest.mark.parametrize(
    ("who", "links"),
    [
        ("viewer_client", ["Jobs", "Failures", "Accounts", "API"]),
        ("operator_client", ["Jobs", "Failures", "Track", "Accounts", "Alerts", "Audit", "API"]),
        (
            "staff_client",
            ["Jobs", "Failures", "Track", "Accounts", "Alerts", "Audit", "API", "Admin"],
        ),
    ],
)
def test_the_nav_shows_only_the_links_a_role_can_open(who, links, request, job):
    client = request.getfixturevalue(who)
    page = client.get(reverse("job-list")).content.decode()
    assert _nav_links(page) == links
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S).group(1)
    for href in re.findall(r'href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href  # every link shown opens


def test_a_viewer_sees_no_operator_buttons_on_the_job_page(job, viewer_client):
    page = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    for operator_only in ("Refresh now", "Stop watching", "Watch again", "Share this job"):
        assert operator_only not in page
