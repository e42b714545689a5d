"""An account's receiver on its page: made or replaced by those who may change accounts
(the URL shown once, on the POST's answer), refused to viewers, its records listed."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import Account, AuditEntry, Job, Notification
from jobs.services import notifications

pytestmark = pytest.mark.django_db

HOOK = re.compile(r"http://testserver/hooks/[0-9a-f-]{36}/[A-Za-z0-9_-]{43}/")


def _csrf(client: Client, url: str) -> str:
    client.get(url)
    return client.cookies["csrftoken"].value


def test_an_admin_makes_the_url_and_sees_it_once(staff_client, accounts):
    account = accounts["aliyun_ice"]
    page = reverse("account-notifications", args=[account.code])
    assert b"No receiver yet" in staff_client.get(page).content
    token = _csrf(staff_client, page)
    response = staff_client.post(page, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    shown = HOOK.findall(response.content.decode())
    assert len(shown) == 1 and b"SetEventCallback" in response.content  # where it goes
    account.refresh_from_db()
    secret = shown[0].rstrip("/").rsplit("/", 1)[1]
    assert account.hook_secret_hash and secret not in account.hook_secret_hash
    again = staff_client.get(page).content.decode()
    assert secret not in again and "Replace the URL" in again
    assert AuditEntry.objects.filter(account=account, summary="Notification URL created").exists()
    health = staff_client.get(reverse("account-health")).content.decode()
    assert secret not in health and "none received yet" in health


def test_viewers_see_the_records_but_cannot_make_a_url(viewer_client, accounts):
    account = accounts["tencent_ivh"]
    job = Job.objects.create(account=account, external_id="ivh-v1")
    Notification.objects.create(
        account=account, task_id="ivh-v1", event="SUCCESS", outcome="accepted", job=job
    )
    notifications.notification_refuse(account=account, reason="wrong receiver secret")
    page = reverse("account-notifications", args=[account.code])
    body = viewer_client.get(page).content.decode()
    assert "ivh-v1" in body and "wrong receiver secret" in body
    assert reverse("job-detail", args=[job.code]) in body
    assert "Create a notification URL" not in body
    token = _csrf(viewer_client, page)
    assert viewer_client.post(page, HTTP_X_CSRFTOKEN=token).status_code == 403
    assert not Account.objects.get(pk=account.pk).hook_secret_hash
    health = viewer_client.get(reverse("account-health")).content.decode()
    assert "2 in the last hour, 1 refused" in health


def test_a_get_changes_nothing_and_an_unknown_account_is_404(staff_client, accounts):
    account = accounts["tencent_vod"]
    staff_client.get(reverse("account-notifications", args=[account.code]))
    assert not Account.objects.get(pk=account.pk).hook_secret_hash
    missing = reverse("account-notifications", args=["00000000-0000-4000-8000-000000000000"])
    assert staff_client.get(missing).status_code == 404


def test_an_account_that_pulls_vods_events_says_so(viewer_client, accounts):
    account = accounts["tencent_vod"]
    Account.objects.filter(pk=account.pk).update(options={**account.options, "events": "pull"})
    health = viewer_client.get(reverse("account-health")).content.decode()
    row = health.split(f'id="account-{account.code}"', 1)[1].split("</tr>", 1)[0]
    assert "events pulled" in row


def _row(health: str, account: Account) -> str:
    return health.split(f'id="account-{account.code}"', 1)[1].split("</tr>", 1)[0]


def test_the_events_backlog_is_shown_with_its_time_and_marked_stale_when_old(
    viewer_client, accounts
):
    from datetime import timedelta

    from django.utils import timezone

    account = accounts["tencent_vod"]
    Account.objects.filter(pk=account.pk).update(options={**account.options, "events": "pull"})
    page = reverse("account-notifications", args=[account.code])
    assert "backlog not read yet" in _row(
        viewer_client.get(reverse("account-health")).content.decode(), account
    )
    first = viewer_client.get(page).content.decode()
    assert "backlog not read yet</span>." in first  # mid-sentence: no stray space
    # Events are pulled: the page must not say the account can only be polled.
    assert "can only be polled" not in first and "No push receiver" in first

    read_at = timezone.now() - timedelta(minutes=1)
    Account.objects.filter(pk=account.pk).update(events_backlog=7, events_backlog_at=read_at)
    row = _row(viewer_client.get(reverse("account-health")).content.decode(), account)
    body = viewer_client.get(page).content.decode()
    for shown in (row, body):
        assert "backlog 7 · as of" in shown and read_at.isoformat() in shown
        assert "stale" not in shown and 'class="events-backlog"' in shown
    assert "not pulled yet" in body and "4 days" in body  # what the number means

    Account.objects.filter(pk=account.pk).update(events_backlog_at=read_at - timedelta(minutes=5))
    row = _row(viewer_client.get(reverse("account-health")).content.decode(), account)
    body = viewer_client.get(page).content.decode()
    for shown in (row, body):
        assert "backlog 7 · as of" in shown and 'class="events-backlog muted"' in shown
        assert "stale: not read for over 5 minutes" in shown


def test_an_account_that_does_not_pull_events_shows_no_backlog(viewer_client, accounts):
    account = accounts["tencent_vod"]
    Account.objects.filter(pk=account.pk).update(events_backlog=7, events_backlog_at=None)
    assert "backlog" not in _row(
        viewer_client.get(reverse("account-health")).content.decode(), account
    )
    page = reverse("account-notifications", args=[account.code])
    assert "backlog" not in viewer_client.get(page).content.decode()


def test_the_page_says_how_long_records_are_kept(viewer_client, accounts, settings):
    settings.CLAPBOARD_NOTIFICATION_RETENTION_DAYS = 12
    page = reverse("account-notifications", args=[accounts["tencent_ci"].code])
    body = viewer_client.get(page).content.decode()
    assert "records are kept 12 days" in body
