"""Bulk actions from the job list: what a POST selects, the confirmation, who may ask."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from jobs.models import AuditEntry, BulkAction, Job, JobEvent
from jobs.services import cancel_refusal
from jobs.services.bulk import BULK_MAX
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db

LATER = timedelta(minutes=10)
BULK = reverse("bulk-create")


def make(account, external_id, state="running", **fields):
    fields.setdefault("next_poll_at", timezone.now() + LATER)
    return Job.objects.create(account=account, external_id=external_id, state=state, **fields)


def test_the_list_offers_a_box_per_row_and_the_bar_to_operators_only(
    operator_client, viewer_client, accounts
):
    job = make(accounts["tencent_ci"], "ci-1", name="Morning show")
    html = operator_client.get(reverse("job-list")).content.decode()
    assert f'value="{job.code}" form="bulk-form"' in html
    assert 'aria-label="Select Morning show"' in html
    assert 'aria-label="Select all jobs on this page"' in html
    assert 'id="bulk-form"' in html and "js/bulk.js" in html
    assert "Select all 1 jobs matching this filter" in html
    viewer_html = viewer_client.get(reverse("job-list")).content.decode()
    assert "bulk-form" not in viewer_html and "data-bulk-row" not in viewer_html


def test_the_bar_says_when_all_matching_is_a_lower_bound(operator_client, accounts):
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ci"], external_id=f"show-{n}") for n in range(1001)
    )
    html = operator_client.get(reverse("job-list"), {"q": "show"}).content.decode()
    assert "Select all 1,000+ jobs matching this filter (at least" in html
    assert '<input type="hidden" name="q" value="show">' in html


def test_selected_rows_are_refreshed_in_the_background(
    operator_client, accounts, django_capture_on_commit_callbacks
):
    ci = accounts["tencent_ci"]
    picked = [make(ci, "ci-1"), make(ci, "ci-2")]
    other = make(ci, "ci-3")
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(
            operator_client, BULK, {"action": "refresh", "job": [str(j.code) for j in picked]}
        )
    bulk = BulkAction.objects.get()
    assert response.status_code == 302 and response.url == f"/bulk/{bulk.code}/"
    assert (bulk.action, bulk.total, bulk.state) == ("refresh", 2, "waiting")
    assert bulk.user.username == "olivia" and bulk.via == "web"
    for job in picked:  # due now: the refresh engine polls them within the rate budget
        assert Job.objects.get(pk=job.pk).next_poll_at == bulk.started_at
    assert Job.objects.get(pk=other.pk).next_poll_at > timezone.now()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.BULK)
    assert entry.detail == {"action": "refresh", "bulk": str(bulk.code)}
    assert entry.job_count == 2 and entry.outcome == "requested"
    assert entry.summary == "Bulk refresh of 2 jobs requested"
    audit = operator_client.get(reverse("audit-log")).content.decode()
    assert f'<a href="/bulk/{bulk.code}/">progress</a>' in audit


def test_all_matching_is_resolved_server_side_from_the_lists_filter(
    operator_client, accounts, django_capture_on_commit_callbacks
):
    ci, ivh = accounts["tencent_ci"], accounts["tencent_ivh"]
    stopped = [make(ci, f"ci-{n}", next_poll_at=None, stopped_reason="by hand") for n in range(3)]
    make(ivh, "ivh-1", next_poll_at=None, stopped_reason="by hand")
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(
            operator_client,
            BULK,
            # The ticked row is ignored: "all matching" means the filter's jobs.
            {"action": "watch_again", "all_matching": "1", "account": str(ci.code), "job": "x"},
        )
    bulk = BulkAction.objects.get()
    assert response.status_code == 302
    assert sorted(bulk.job_ids) == sorted(j.pk for j in stopped)
    assert (bulk.state, bulk.done, bulk.skipped) == ("done", 3, 0)
    assert Job.objects.filter(account=ivh, next_poll_at__isnull=True).count() == 1


def test_all_matching_over_the_cap_is_refused_with_a_clear_message(operator_client, accounts):
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ci"], external_id=f"ci-{n}") for n in range(BULK_MAX + 1)
    )
    response = csrf_post(
        operator_client, BULK, {"action": "refresh", "all_matching": "1", "kind": ""}, follow=True
    )
    assert not BulkAction.objects.exists()
    assert "More than 10,000 jobs match this filter" in response.content.decode()
    assert "Narrow the filter" in response.content.decode()


def test_stop_watching_asks_for_confirmation_first(
    operator_client, accounts, django_capture_on_commit_callbacks
):
    ci = accounts["tencent_ci"]
    jobs = [make(ci, "ci-1"), make(ci, "ci-2"), make(ci, "ci-3", "succeeded", next_poll_at=None)]
    codes = [str(j.code) for j in jobs]
    response = csrf_post(operator_client, BULK, {"action": "stop_watching", "job": codes})
    html = response.content.decode()
    assert response.status_code == 200 and not BulkAction.objects.exists()
    assert "Stop watching: 3 jobs?" in html and "stops polling <strong>2</strong> jobs" in html
    assert "1 will be skipped" in html and "The job has already succeeded" in html
    assert html.count('name="job"') == 3 and 'name="confirmed" value="1"' in html
    assert Job.objects.filter(next_poll_at__isnull=False).count() == 2  # nothing done yet
    with django_capture_on_commit_callbacks(execute=True):
        csrf_post(
            operator_client, BULK, {"action": "stop_watching", "job": codes, "confirmed": "1"}
        )
    bulk = BulkAction.objects.get()
    assert (bulk.state, bulk.done, bulk.skipped) == ("done", 2, 1)
    assert not Job.objects.filter(next_poll_at__isnull=False).exists()
    notes = JobEvent.objects.filter(kind=JobEvent.Kind.ACTION).values_list("note", flat=True)
    assert sorted(notes) == ["Stopped watching by olivia (bulk action)"] * 2


def test_cancel_confirmation_says_how_many_are_skipped_and_why(operator_client, accounts):
    ivh, vod = accounts["tencent_ivh"], accounts["tencent_vod"]
    jobs = [make(ivh, "ivh-1", "queued"), make(ivh, "ivh-2"), make(vod, "vod-1", "succeeded")]
    response = csrf_post(
        operator_client, BULK, {"action": "cancel", "job": [str(j.code) for j in jobs]}
    )
    html = response.content.decode()
    assert "Cancel: 3 jobs?" in html and "cancel <strong>0</strong> jobs" in html
    assert "3 will be skipped" in html
    # Grouped: each reason once, with how many jobs it skips (IVH and VOD never cancel).
    for reason, n in Counter(cancel_refusal(job) for job in jobs).items():
        assert html.count(escape(reason)) == 1
        assert f'<span class="num">{n}</span> — {escape(reason)}' in html
    assert "primary danger" not in html  # nothing to confirm
    assert not BulkAction.objects.exists()


def test_a_get_does_nothing(operator_client, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    response = operator_client.get(reverse("bulk-create"), {"action": "refresh", "job": job.code})
    assert response.status_code == 405
    assert not BulkAction.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "refresh"}, "Select at least one job."),
        ({"action": "refresh", "job": "not-a-code"}, "not a job code"),
        ({"action": "explode", "job": "x"}, "Choose an action"),
        (
            {"action": "refresh", "job": "00000000-0000-0000-0000-000000000000"},
            "None of the selected jobs exists",
        ),
        ({"action": "refresh", "all_matching": "1", "created_from": "yesterday"}, "not valid"),
    ],
)
def test_bad_selections_are_explained_on_the_list(operator_client, accounts, data, message):
    make(accounts["tencent_ci"], "ci-1")
    response = csrf_post(operator_client, BULK, data, follow=True)
    # Back on the list (a 400 there when its filter is the invalid part), with the reason.
    assert response.redirect_chain and response.status_code in (200, 400)
    assert message in response.content.decode()
    assert not BulkAction.objects.exists()


def test_viewers_may_not_ask_nor_watch_bulk_actions(viewer_client, operator, accounts):
    job = make(accounts["tencent_ci"], "ci-1")
    response = csrf_post(viewer_client, BULK, {"action": "refresh", "job": str(job.code)})
    assert response.status_code == 403 and not BulkAction.objects.exists()
    bulk = BulkAction.objects.create(user=operator, via="web", action="refresh", job_ids=[job.pk])
    assert viewer_client.get(reverse("bulk-detail", args=[bulk.code])).status_code == 403
    assert viewer_client.get(reverse("bulk-failed", args=[bulk.code])).status_code == 403
