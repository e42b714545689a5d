from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job
from jobs.providers.base import State
from jobs.refresh import refresh_once
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db


def _track(client, account, ids):
    """Paste `ids` for `account`; returns the batch page's URL it redirects to."""
    text = ids if isinstance(ids, str) else "\n".join(ids)
    response = csrf_post(client, reverse("track"), {"account": str(account.code), "task_ids": text})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"].startswith(reverse("track") + "?batch=")
    return response["Location"]


def _rows(html: str) -> list[tuple[str, str]]:
    """(task ID, result) of each results row, in page order."""
    rows = re.findall(
        r'<tr class="outcome-[^"]*">\s*<td><code>(.*?)</code></td>\s*<td>(.*?)</td>', html, re.S
    )
    return [
        (task_id, re.sub(r"<[^>]+>", "", result).split("\n")[0].strip()) for task_id, result in rows
    ]


@pytest.mark.django_db(transaction=True)
def test_a_paste_is_watched_at_once_and_checked_by_the_poller_in_paste_order(
    operator_client, simulator, accounts
):
    account = accounts["tencent_ci"]
    for n in (1, 2):
        simulator.add_job("tencent_ci", f"j-ci-{n}", pinned="running")
    Job.objects.create(account=account, external_id="j-ci-old")
    url = _track(operator_client, account, "j-ci-2, j-ci-old\nj-ci-missing   j-ci-1 j-ci-2")
    assert "tencent_ci" not in simulator.requests  # the web request asked nothing
    html = operator_client.get(url).content.decode()
    assert "Checked 1 of 4" in html and re.search(r'id="track-submit"[^>]*disabled', html)
    assert 'data-poll="1"' in html  # the results panel polls until every ID is checked

    refresh_once()

    html = operator_client.get(url).content.decode()
    assert "2 tracked, 1 already tracked, 1 not found" in html
    assert [task_id for task_id, _ in _rows(html)] == [
        "j-ci-2",
        "j-ci-old",
        "j-ci-missing",
        "j-ci-1",
    ]
    assert dict(_rows(html))["j-ci-missing"] == "not found"
    assert not re.search(r'id="track-submit"[^>]*disabled', html) and "data-poll" not in html
    tracked = Job.objects.get(account=account, external_id="j-ci-1")
    assert tracked.state == State.RUNNING and tracked.version == 1
    # Unknown to the provider: not left behind as a job, as with a checked paste before.
    assert not Job.objects.filter(external_id="j-ci-missing").exists()


@pytest.mark.django_db(transaction=True)
def test_the_results_panel_polls_quietly_and_updates_the_button_out_of_band(
    operator_client, simulator, accounts
):
    simulator.add_job("tencent_ci", "j-ci-1", pinned="running")
    url = _track(operator_client, accounts["tencent_ci"], ["j-ci-1"])
    poll = {"HTTP_HX_REQUEST": "true"}
    assert operator_client.get(url + "&v=0", **poll).status_code == 204  # nothing new
    refresh_once()
    response = operator_client.get(url + "&v=0", **poll)
    html = response.content.decode()
    assert response.status_code == 200 and "1 tracked" in html
    assert html.lstrip().startswith('<section id="track-results"')  # just the panel
    assert re.search(r'<button[^>]*id="track-submit"[^>]*hx-swap-oob="true"', html)
    assert not re.search(r'id="track-submit"[^>]*disabled', html)


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_provider_offers_track_anyway(operator_client, simulator, accounts):
    account = accounts["aliyun_ice"]
    simulator.add_job("aliyun_ice", "ice-1", pinned="running")
    url = _track(operator_client, account, ["ice-1"])
    simulator.inject("reset", "aliyun_ice")  # the connection drops without an answer
    refresh_once()
    html = operator_client.get(url).content.decode()
    assert "1 could not be checked" in html and "Track anyway" in html
    assert dict(_rows(html))["ice-1"] == "could not be checked"
    assert not Job.objects.exists()  # not silently watched unverified

    response = csrf_post(operator_client, reverse("track"), {"anyway": url.split("=", 1)[1]})
    assert response.status_code == 302
    job = Job.objects.get(account=account, external_id="ice-1")
    assert job.next_poll_at is not None and job.state == State.UNKNOWN
    assert "tracked anyway" in operator_client.get(url).content.decode()
    simulator.clear_faults()
    refresh_once()  # the next poll verifies it
    job.refresh_from_db()
    assert job.state == State.RUNNING


@pytest.mark.django_db(transaction=True)
def test_rejected_credentials_end_the_checks_at_once(operator_client, simulator, accounts):
    url = _track(operator_client, accounts["aliyun_ice"], ["ice-1", "ice-2"])
    simulator.inject("bad_signature", "aliyun_ice")
    refresh_once()
    html = operator_client.get(url).content.decode()
    assert "2 could not be checked" in html and "SignatureDoesNotMatch" in html
    assert not Job.objects.exists()


def test_a_paste_waiting_on_a_paused_account_says_why(operator_client, simulator, accounts):
    account = accounts["tencent_vod"]
    url = _track(operator_client, account, ["vod-1"])
    Account.objects.filter(pk=account.pk).update(
        retry_at=timezone.now() + timedelta(minutes=5), last_error="RequestLimitExceeded: slow down"
    )
    html = operator_client.get(url).content.decode()
    assert "Checked 0 of 1" in html
    assert "sim-tencent_vod is paused until" in html and "RequestLimitExceeded" in html


def test_bad_paste_references_are_not_errors(operator_client, accounts):
    for bad in ("nope", "00000000-0000-0000-0000-000000000000", "%00"):
        response = operator_client.get(
            reverse("track"), {"batch": bad, "v": "1"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200 and "Paste task IDs" in response.content.decode()
    assert csrf_post(operator_client, reverse("track"), {"anyway": "nope"}).status_code == 404


def test_old_pastes_are_forgotten(operator_client, accounts):
    from jobs.models import TrackBatch

    _track(operator_client, accounts["tencent_vod"], ["vod-1"])
    TrackBatch.objects.update(created_at=timezone.now() - timedelta(days=8))
    _track(operator_client, accounts["tencent_vod"], ["vod-2"])
    assert TrackBatch.objects.count() == 1
    assert Job.objects.count() == 2  # the jobs stay watched


def test_empty_submit_marks_each_field_in_place(operator_client, accounts):
    response = csrf_post(operator_client, reverse("track"), {"account": "", "task_ids": " ,\n"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="field invalid"') == 2
    assert '<p class="error" id="account-error">Choose the account the task IDs belong to.' in html
    assert '<p class="error" id="task-ids-error">Paste at least one task ID.' in html
    assert "Fix the form and try again" not in html
    assert 'hx-select="#track-results"' not in html  # the errors are not swapped away


def test_more_than_500_ids_are_refused_with_the_count(operator_client, simulator, accounts):
    ids = "\n".join(f"ivh-task-{n:08}" for n in range(20_000))  # issue 12's paste
    response = csrf_post(
        operator_client,
        reverse("track"),
        {"account": str(accounts["tencent_ivh"].code), "task_ids": ids},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "You pasted 20,000 task IDs; at most 500 can be tracked at once." in html
    assert not Job.objects.exists() and not simulator.requests


def test_api_and_command_tracking_keep_the_given_order(accounts):
    from jobs.services import job_track

    account = accounts["tencent_vod"]
    Job.objects.create(account=account, external_id="b-old")
    long_id = "x" * 300
    results = job_track(account=account, external_ids=["c-new", long_id, "b-old", "a-new"])
    assert [r.outcome for r in results] == ["tracked", "error", "already tracked", "tracked"]
    assert results[0].external_id == "c-new" and results[3].external_id == "a-new"


def test_the_api_and_the_page_share_one_cap():
    from dashboard import api
    from jobs import services

    assert api.MAX_TRACK_IDS == services.TRACK_MAX_IDS == 500


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


@pytest.mark.django_db(transaction=True)
def test_a_failed_track_verification_is_recorded_and_shown_as_failing(
    operator_client, viewer_client, simulator, accounts
):
    account = accounts["tencent_vod"]
    account.credentials = {**account.credentials, "secret_id": "AKIDwrong0000000000"}
    account.save()
    simulator.add_job("tencent_vod", "vod-1", pinned="running")
    url = _track(operator_client, account, ["vod-1"])
    refresh_once()  # the paste is verified by the poller's first request
    assert dict(_rows(operator_client.get(url).content.decode()))["vod-1"] == (
        "could not be checked"
    )

    account.refresh_from_db()
    assert account.consecutive_failures == 1 and account.last_ok_at is None
    assert "SecretIdNotFound" in account.last_error and account.last_error_at is not None
    assert account.retry_at is not None  # like a poll's credential failure: polling waits
    row = _account_row(viewer_client.get(reverse("account-health")).content.decode(), account.name)
    assert "failing ×1" in row and "SecretIdNotFound" in row
    assert "✓ OK" not in row and "never" in row


@pytest.mark.django_db(transaction=True)
def test_a_successful_track_verification_marks_the_account_ok(
    operator_client, viewer_client, simulator, accounts
):
    account = accounts["tencent_ci"]
    simulator.add_job("tencent_ci", "ci-ok-1", pinned="running")
    _track(operator_client, account, ["ci-ok-1"])
    refresh_once()
    account.refresh_from_db()
    assert account.last_ok_at is not None and account.consecutive_failures == 0
    row = _account_row(viewer_client.get(reverse("account-health")).content.decode(), account.name)
    assert "✓ OK" in row and "not yet verified" not in row


@pytest.mark.django_db(transaction=True)
def test_rejected_credentials_stop_a_track_after_the_first_request(
    operator_client, simulator, accounts
):
    account = accounts["tencent_ivh"]  # one request per task ID
    account.credentials = {**account.credentials, "access_token": "wrong-token-000000"}
    account.save()
    url = _track(operator_client, account, ["ivh-a", "ivh-b", "ivh-c"])
    refresh_once()
    html = operator_client.get(url).content.decode()
    assert [outcome for _, outcome in _rows(html)] == ["could not be checked"] * 3
    assert simulator.requests.get("tencent_ivh") == 1
    account.refresh_from_db()
    assert account.consecutive_failures == 1
