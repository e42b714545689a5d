"""Who may see what: outsiders nothing, viewers read, operators act, admins configure."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from jobs.models import Job
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
