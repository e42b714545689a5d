"""The audit log: every operator action is appended once, with who, how, what, on which
jobs and the outcome, whichever way it came in (pages, API, command line, admin); the
Audit page and the API read it, and nothing edits it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, AlertRule, ApiToken, AuditEntry, Job, JobEvent, ShareLink
from jobs.services.api_tokens import api_token_create
from jobs.services.audit import Action, Outcome, Via, audit_record
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db

SECRET = "planted-secret-9b1e5f27c3"


def _only_entry(**match) -> AuditEntry:
    (entry,) = AuditEntry.objects.filter(**match)
    return entry


@pytest.fixture
def job(accounts, simulator) -> Job:
    simulator.add_job("tencent_ivh", "ivh-audit", pinned="running", pinned_progress=40)
    return Job.objects.create(
        account=accounts["tencent_ivh"], external_id="ivh-audit", state="running"
    )


# --- each action, through the way operators take it ---------------------------------------


def test_stop_and_watch_again_are_logged_and_on_the_jobs_timeline(operator_client, job):
    url = reverse("job-watch", args=[job.code])
    csrf_post(operator_client, url, {"watch": "stop"})
    csrf_post(operator_client, url, {"watch": "resume"})

    stop = _only_entry(action=Action.STOP_WATCHING)
    again = _only_entry(action=Action.WATCH_AGAIN)
    for entry in (stop, again):
        assert (entry.actor, entry.via, entry.outcome) == ("olivia", Via.WEB, Outcome.DONE)
        assert entry.user.username == "olivia" and entry.account == job.account
        assert list(entry.job_links.values_list("job_id", flat=True)) == [job.pk]
    # The timeline shows them in the operator's style, not as status changes.
    actions = job.events.filter(kind=JobEvent.Kind.ACTION).order_by("at", "id")
    assert [e.note for e in actions] == [
        "Stopped watching by olivia",
        "Watching again, at the request of olivia",
    ]
    page = operator_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert page.count("kind-action") == 2


def test_refresh_now_is_requested_then_settled_with_its_outcome(operator_client, job):
    csrf_post(operator_client, reverse("job-refresh", args=[job.code]))
    entry = _only_entry(action=Action.REFRESH)
    # The task ran (synchronously in tests) and polled the simulator; its outcome settles
    # the entry the request created.
    assert entry.outcome == Outcome.DONE
    assert entry.summary == "Refreshed: the job changed."
    assert entry.job_count == 1


def test_refresh_of_a_finished_job_is_refused_in_the_log(operator_client, job):
    Job.objects.filter(pk=job.pk).update(state="succeeded")
    csrf_post(operator_client, reverse("job-refresh", args=[job.code]))
    entry = _only_entry(action=Action.REFRESH)
    assert entry.outcome == Outcome.REFUSED and "already finished" in entry.summary


def test_share_links_created_and_revoked(operator_client, job):
    csrf_post(operator_client, reverse("share-links", args=[job.code]), {"days": "7"})
    link = ShareLink.objects.get()
    csrf_post(operator_client, reverse("share-revoke", args=[job.code, link.code]))
    created = _only_entry(action=Action.SHARE_CREATE)
    revoked = _only_entry(action=Action.SHARE_REVOKE)
    assert created.detail["link"] == revoked.detail["link"] == str(link.code)
    assert revoked.job_links.get().job_id == job.pk
    # Revoking twice changes nothing, and logs nothing more.
    csrf_post(operator_client, reverse("share-revoke", args=[job.code, link.code]))
    assert AuditEntry.objects.filter(action=Action.SHARE_REVOKE).count() == 1
    # The link's token is nowhere in the log.
    assert not any(
        len(value) > 40 for e in AuditEntry.objects.all() for value in map(str, e.detail.values())
    )


def test_api_tokens_created_and_revoked_without_the_token(viewer_client):
    viewer_client.get(reverse("api-tokens"))
    response = csrf_post(viewer_client, reverse("api-tokens"), {"name": "nightly"})
    token = re.search(r"cb_[A-Za-z0-9_-]{40,}", response.content.decode())
    api_token = ApiToken.objects.get()
    csrf_post(viewer_client, reverse("api-token-revoke", args=[api_token.code]))
    created = _only_entry(action=Action.TOKEN_CREATE)
    _only_entry(action=Action.TOKEN_REVOKE)
    assert created.actor == "victor" and api_token.prefix in created.summary
    assert token is not None
    everything = str(list(AuditEntry.objects.values()))
    assert token.group(0) not in everything and api_token.token_hash not in everything


def test_alert_rule_changes_list_fields_not_targets(operator_client, receiver):
    form = {
        "name": "Failures",
        "enabled": "on",
        "events": ["failed"],
        "stuck_minutes": "45",
        "channel": "webhook",
        "target": receiver.url + "/hook?key=" + SECRET,
        "secret": SECRET,
    }
    csrf_post(operator_client, reverse("alert-rule-create"), form)
    rule = AlertRule.objects.get()
    csrf_post(
        operator_client, reverse("alert-rule-edit", args=[rule.code]), {**form, "name": "Fails"}
    )
    csrf_post(operator_client, reverse("alert-rule-delete", args=[rule.code]))
    assert not AlertRule.objects.exists()
    created = _only_entry(action=Action.RULE_CREATE)
    changed = _only_entry(action=Action.RULE_CHANGE)
    _only_entry(action=Action.RULE_DELETE)
    assert created.detail["rule"] == str(rule.code)
    assert "name" in changed.detail["changed"] and "changed name" in changed.summary
    assert SECRET not in str(list(AuditEntry.objects.values()))


def test_account_changes_in_the_admin_name_fields_never_values(staff_client):
    staff_client.get("/admin/jobs/account/add/?provider=tencent_vod")
    form = {
        "name": "prod-vod",
        "provider": "tencent_vod",
        "region": "",
        "endpoint": "",
        "enabled": "on",
        "rate_limit": "",
        "credential__secret_id": "AKIDadmin00000042",
        "credential__secret_key": SECRET,
        "option__sub_app_id": "",
    }
    assert csrf_post(staff_client, "/admin/jobs/account/add/", form).status_code == 302
    account = Account.objects.get(name="prod-vod")
    changed = {**form, "credential__secret_key": SECRET + "-new", "rate_limit": "3"}
    url = f"/admin/jobs/account/{account.pk}/change/"
    assert csrf_post(staff_client, url, changed).status_code == 302
    url = f"/admin/jobs/account/{account.pk}/delete/"
    assert csrf_post(staff_client, url, {"post": "yes"}).status_code == 302

    added = _only_entry(action=Action.ACCOUNT_CREATE)
    change = _only_entry(action=Action.ACCOUNT_CHANGE)
    deleted = _only_entry(action=Action.ACCOUNT_DELETE)
    assert (added.via, added.actor) == (Via.ADMIN, "ada")
    assert "credential secret_key" in change.detail["changed"]
    assert "rate_limit" in change.detail["changed"]
    assert deleted.account is None and deleted.detail["account"] == "prod-vod"
    assert added.account is None  # the account is gone; the entry stays
    everything = str(list(AuditEntry.objects.values()))
    assert SECRET not in everything and "AKIDadmin00000042" not in everything


def test_tracking_by_paste_api_and_command_line(operator, operator_client, accounts, simulator):
    simulator.add_job("tencent_ivh", "ivh-a", pinned="running")
    simulator.add_job("tencent_ivh", "ivh-b", pinned="running")
    csrf_post(
        operator_client,
        reverse("track"),
        {"account": accounts["tencent_ivh"].code, "task_ids": "p1 p2"},
    )
    pasted = _only_entry(action=Action.TRACK, via=Via.WEB)
    assert pasted.outcome == Outcome.REQUESTED and pasted.job_count == 2

    _, token = api_token_create(user=operator, name="ci")
    response = Client().post(
        "/api/v1/track",
        {"account": "sim-tencent_ivh", "task_ids": ["ivh-a", "nope"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    by_api = _only_entry(action=Action.TRACK, via=Via.API)
    assert by_api.outcome == Outcome.PARTIAL and by_api.detail["outcomes"] == {
        "tracked": 1,
        "not found": 1,
    }
    assert by_api.actor == "olivia"

    call_command("track", "sim-tencent_ivh", "ivh-b")
    by_cli = _only_entry(action=Action.TRACK, via=Via.CLI)
    assert (by_cli.actor, by_cli.user, by_cli.outcome) == ("command line", None, Outcome.DONE)
    assert by_cli.job_links.get().job.external_id == "ivh-b"


# --- reading the log ----------------------------------------------------------------------


def _entries(operator, job, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        entry = audit_record(
            user=operator,
            via=Via.WEB,
            action=Action.REFRESH if i % 2 else Action.STOP_WATCHING,
            outcome=Outcome.DONE,
            summary=f"entry {i}",
            jobs=[job] if i % 3 == 0 else [],
        )
        AuditEntry.objects.filter(pk=entry.pk).update(at=now - timedelta(minutes=30 * i))


def _summaries(html: str) -> list[str]:
    return re.findall(r"entry \d+", html)


def test_the_audit_page_filters_by_user_action_time_and_job(operator_client, operator, job):
    _entries(operator, job, 6)  # 0, 30, 60, ..., 150 minutes ago
    url = reverse("audit-log")
    assert _summaries(operator_client.get(url).content.decode()) == [f"entry {i}" for i in range(6)]
    html = operator_client.get(url, {"action": Action.REFRESH}).content.decode()
    assert _summaries(html) == ["entry 1", "entry 3", "entry 5"]
    html = operator_client.get(url, {"window": "1h"}).content.decode()
    assert _summaries(html) == ["entry 0", "entry 1"]
    html = operator_client.get(url, {"job": str(job.code)}).content.decode()
    assert _summaries(html) == ["entry 0", "entry 3"]
    assert _summaries(operator_client.get(url, {"user": "nobody"}).content.decode()) == []
    for bad in ({"action": "explode"}, {"window": "1y"}, {"job": "not-a-uuid"}):
        assert operator_client.get(url, bad).status_code == 400, bad


def test_the_audit_page_pages_by_keyset(operator_client, operator, job, monkeypatch):
    from dashboard.audit import views

    monkeypatch.setattr(views, "PAGE_SIZE", 4)
    _entries(operator, job, 6)
    first = operator_client.get(reverse("audit-log")).content.decode()
    assert _summaries(first) == ["entry 0", "entry 1", "entry 2", "entry 3"]
    older = re.search(r'href="(\?after=[^"]+)" rel="next"', first).group(1)
    second = operator_client.get(reverse("audit-log") + older.replace("&amp;", "&"))
    assert _summaries(second.content.decode()) == ["entry 4", "entry 5"]


def test_viewers_and_outsiders_cannot_read_the_log(viewer_client, outsider_client):
    for client in (viewer_client, outsider_client):
        assert client.get(reverse("audit-log")).status_code == 403
    response = Client().get(reverse("audit-log"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_api_lists_the_log_for_operators_only(operator, viewer, job):
    _entries(operator, job, 3)
    _, token = api_token_create(user=operator, name="audit")
    _, viewer_token = api_token_create(user=viewer, name="audit")
    api = Client()
    response = api.get("/api/v1/audit", {"limit": 2}, HTTP_AUTHORIZATION=f"Bearer {token}")
    body = response.json()
    # The token creations are entries too: newest first.
    assert [e["action"] for e in body["entries"]] == ["token_create", "token_create"]
    rest = api.get(
        "/api/v1/audit",
        {"cursor": body["next_cursor"], "action": "stop_watching"},
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    assert [e["summary"] for e in rest["entries"]] == ["entry 0", "entry 2"]
    assert rest["entries"][0]["jobs"] == [str(job.code)]
    denied = api.get("/api/v1/audit", HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    assert denied.status_code == 403
    bad = api.get("/api/v1/audit", {"action": "x"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bad.status_code == 400


def test_nothing_edits_an_entry_in_the_admin(staff_client, operator, job):
    _entries(operator, job, 1)
    entry = AuditEntry.objects.get()
    assert staff_client.get("/admin/jobs/auditentry/").status_code == 200
    assert staff_client.get("/admin/jobs/auditentry/add/").status_code == 403
    change = staff_client.get(f"/admin/jobs/auditentry/{entry.pk}/change/")
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    delete = csrf_post(staff_client, f"/admin/jobs/auditentry/{entry.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403 and AuditEntry.objects.filter(pk=entry.pk).exists()
