"""The notification receiver over HTTP: each provider's format accepted and turned into a
hint (never a state), every refusal alike, repeats and unknown tasks, the signatures ICE
and MetaStudio add, the body cap and the rate limit."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.models import Account, AuditEntry, Job, JobEvent, Notification
from jobs.services.audit import Via
from jobs.services.notifications import hook_secret_create, hook_url

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = Notification.Outcome


def _receiver(account: Account, live_server) -> str:
    secret = hook_secret_create(account=account, user=None, via=Via.CLI)
    return hook_url(account, secret, base=live_server.url)


def _job(account: Account, external_id: str, state: str = "running") -> Job:
    return Job.objects.create(account=account, external_id=external_id, state=state)


BODIES = {
    "tencent_ivh": (
        "application/json",
        lambda task: json.dumps(
            {"Payload": {"TaskId": task, "Status": "SUCCESS", "Progress": 100, "MediaUrl": "x"}}
        ),
        "SUCCESS",
    ),
    "tencent_vod": (
        "application/json",
        lambda task: json.dumps(
            {
                "EventType": "ProcedureStateChanged",
                "ProcedureStateChangeEvent": {"TaskId": task, "Status": "FINISH", "ErrCode": 0},
            }
        ),
        "ProcedureStateChanged",
    ),
    "tencent_ci": (
        "application/xml",
        lambda task: (
            "<Response><EventName>TaskFinish</EventName><JobsDetail><Code>Success</Code>"
            f"<Message/><JobId>{task}</JobId><State>Success</State><Tag>VoiceSeparate</Tag>"
            "</JobsDetail></Response>"
        ),
        "TaskFinish",
    ),
    "huawei_metastudio": (
        "application/json",
        lambda task: json.dumps({"job_id": task, "result": "SUCCEED", "asset_id": "a1"}),
        "SUCCEED",
    ),
    "aliyun_ice": (
        "application/json",
        lambda task: json.dumps(
            {
                "EventType": "ProduceMediaComplete",
                "MessageBody": {"JobId": task, "Status": "Success"},
            }
        ),
        "ProduceMediaComplete",
    ),
}


@pytest.mark.parametrize("provider", sorted(BODIES))
def test_a_notification_marks_the_job_for_an_immediate_ask_and_stores_no_state(
    live_server, accounts, provider
):
    account = accounts[provider]
    job = _job(account, f"{provider}-n1")
    url = _receiver(account, live_server)
    content_type, body, event = BODIES[provider]

    response = requests.post(
        url, data=body(job.external_id), headers={"Content-Type": content_type}, timeout=10
    )

    assert (response.status_code, response.text) == (200, "ok\n")
    job.refresh_from_db()
    assert job.notified_at is not None and job.next_poll_at <= job.notified_at
    assert (job.state, job.version) == ("running", 0)  # the body said done: not believed
    record = Notification.objects.get(account=account)
    assert (record.outcome, record.task_id, record.event, record.job_id) == (
        Outcome.ACCEPTED,
        job.external_id,
        event,
        job.pk,
    )
    line = JobEvent.objects.get(job=job, kind=JobEvent.Kind.NOTIFIED)
    assert line.note == f"notified: {event}" and line.state == "running"


def test_every_refusal_gets_the_same_answer_and_the_account_the_reason(live_server, accounts):
    account = accounts["tencent_ivh"]
    job = _job(account, "ivh-r1")
    url = _receiver(account, live_server)
    good = BODIES["tencent_ivh"][1](job.external_id)
    wrong_secret = url.rstrip("/").rsplit("/", 1)[0] + "/" + "A" * 43 + "/"
    other_account = url.replace(str(account.code), "00000000-0000-4000-8000-000000000000")
    answers = [
        requests.post(wrong_secret, data=good, timeout=10),
        requests.post(url.rstrip("/")[:-3] + "abc/", data=good, timeout=10),  # a wrong shape
        requests.post(other_account, data=good, timeout=10),
        requests.post(url, data="not json", timeout=10),
        requests.post(url, data=json.dumps({"Payload": "x"}), timeout=10),
        requests.post(url, data=b"x" * (64 * 1024 + 1), timeout=10),
    ]
    assert {(a.status_code, a.text) for a in answers} == {(403, "refused\n")}
    reasons = list(
        Notification.objects.filter(account=account).order_by("id").values_list("outcome", "reason")
    )
    assert reasons == [
        (Outcome.REFUSED, "wrong receiver secret"),
        (Outcome.REFUSED, "wrong receiver secret"),
        (Outcome.REFUSED, "the body is not JSON"),
        (Outcome.REFUSED, "no Payload object"),
        (Outcome.REFUSED, "body over 64 KB"),
    ]
    job.refresh_from_db()
    assert job.notified_at is None
    assert requests.get(url, timeout=10).status_code == 405


def test_no_log_line_holds_the_receiver_secret(live_server, accounts, caplog):
    account = accounts["tencent_ivh"]
    url = _receiver(account, live_server)
    secret = url.rstrip("/").rsplit("/", 1)[1]
    bad_code = url.replace(str(account.code), "not-a-uuid")
    with caplog.at_level("DEBUG"):
        for target in (url, bad_code):
            requests.post(target, data="nonsense", timeout=10)
            requests.get(target, timeout=10)
    # Django logs refused requests by path (django.request); this test's own client
    # (urllib3) logs its URLs, the server must not.
    server = [r for r in caplog.records if not r.name.startswith("urllib3")]
    assert not [r for r in server if secret in r.getMessage()]


def test_a_repeat_causes_no_second_ask(live_server, accounts):
    account = accounts["tencent_ci"]
    job = _job(account, "ci-d1")
    url = _receiver(account, live_server)
    content_type, body, _ = BODIES["tencent_ci"]
    headers = {"Content-Type": content_type}
    assert requests.post(url, data=body(job.external_id), headers=headers, timeout=10).ok
    Job.objects.filter(pk=job.pk).update(notified_at=None)  # a loop took the hint
    assert requests.post(url, data=body(job.external_id), headers=headers, timeout=10).ok
    job.refresh_from_db()
    assert job.notified_at is None
    outcomes = list(Notification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]


def test_an_unknown_task_is_recorded_and_tracked_only_with_discovery_on(live_server, accounts):
    account = accounts["tencent_vod"]
    url = _receiver(account, live_server)
    content_type, body, _ = BODIES["tencent_vod"]
    assert requests.post(url, data=body("vod-unknown-1"), timeout=10).ok
    assert not Job.objects.filter(external_id="vod-unknown-1").exists()
    Account.objects.filter(pk=account.pk).update(discover=True)
    assert requests.post(url, data=body("vod-unknown-2"), timeout=10).ok
    job = Job.objects.get(account=account, external_id="vod-unknown-2")
    assert job.notified_at is not None and job.next_poll_at is not None
    outcomes = dict(Notification.objects.values_list("task_id", "outcome"))
    assert outcomes == {"vod-unknown-1": Outcome.UNKNOWN, "vod-unknown-2": Outcome.DISCOVERED}


def test_finished_or_unwatched_jobs_are_not_asked_again(live_server, accounts):
    account = accounts["huawei_metastudio"]
    done = _job(account, "ms-done", state="succeeded")
    Job.objects.filter(pk=done.pk).update(next_poll_at=None)
    url = _receiver(account, live_server)
    _, body, _ = BODIES["huawei_metastudio"]
    assert requests.post(url, data=body(done.external_id), timeout=10).ok
    done.refresh_from_db()
    assert done.notified_at is None
    assert Notification.objects.get().reason == "the job had already finished: not asked"


def _ice_headers(url: str, key: str, stamp: int) -> dict[str, str]:
    signature = hashlib.md5(f"{url}|{stamp}|{key}".encode(), usedforsecurity=False).hexdigest()
    return {"X-ICE-TIMESTAMP": str(stamp), "X-ICE-SIGNATURE": signature}


def test_ice_signatures_are_checked_with_either_key_and_a_fresh_timestamp(live_server, accounts):
    account = accounts["aliyun_ice"]
    account.credentials = {
        **account.credentials,
        "callback_auth_key": "NewKey002",
        "callback_auth_key_previous": "OldKey001",
    }
    account.save()
    job = _job(account, "ice-s1")
    url = _receiver(account, live_server)
    body = BODIES["aliyun_ice"][1](job.external_id)
    now = int(time.time())
    cases = {
        "new key": (_ice_headers(url, "NewKey002", now), 200),
        "old key": (_ice_headers(url, "OldKey001", now + 1), 200),
        "other key": (_ice_headers(url, "Wrong003", now), 403),
        "stale": (_ice_headers(url, "NewKey002", now - 301), 403),
        "unsigned": ({}, 403),
    }
    got = {
        name: requests.post(url, data=body + " " * n, headers=headers, timeout=10).status_code
        for n, (name, (headers, _)) in enumerate(cases.items())
    }
    assert got == {name: status for name, (_, status) in cases.items()}
    reasons = set(
        Notification.objects.filter(outcome=Outcome.REFUSED).values_list("reason", flat=True)
    )
    assert reasons == {
        "bad X-ICE-SIGNATURE",
        "stale timestamp (more than 5 minutes from now)",
        "no X-ICE-TIMESTAMP / X-ICE-SIGNATURE headers",
    }


def test_metastudio_mss_a_signature_is_checked_when_the_account_has_the_key(live_server, accounts):
    account = accounts["huawei_metastudio"]
    account.credentials = {**account.credentials, "callback_key": "ms-callback-key"}
    account.save()
    job = _job(account, "ms-s1")
    url = _receiver(account, live_server)
    path = "/" + url.split("/", 3)[3]
    body = BODIES["huawei_metastudio"][1](job.external_id)

    def signed(key: str, stamp: int) -> str:
        hex_stamp = format(stamp, "x")
        secret = hmac.new(key.encode(), (path + hex_stamp).encode(), hashlib.sha256).hexdigest()
        return f"{url}?time_stamp={hex_stamp}&secret={secret}"

    now = int(time.time())
    assert requests.post(signed("ms-callback-key", now), data=body, timeout=10).status_code == 200
    assert requests.post(signed("other", now), data=body + " ", timeout=10).status_code == 403
    assert (
        requests.post(
            signed("ms-callback-key", now - 600), data=body + "  ", timeout=10
        ).status_code
        == 403
    )
    assert requests.post(url, data=body + "   ", timeout=10).status_code == 403


def test_the_receiver_is_rate_limited_per_account(live_server, accounts, settings):
    settings.CLAPBOARD_HOOK_RATE_PER_MINUTE = 2
    if time.time() % 60 > 55:  # all three in one window of the clock's minute
        time.sleep(61 - time.time() % 60)
    account = accounts["tencent_ivh"]
    url = _receiver(account, live_server)
    statuses = [
        requests.post(url, data=BODIES["tencent_ivh"][1](f"t{n}"), timeout=10).status_code
        for n in range(3)
    ]
    # Refused before it is read: nothing recorded for the third.
    assert statuses == [200, 200, 403]
    assert Notification.objects.count() == 2


def test_notifyurl_prints_the_url_once_and_rotate_replaces_it(live_server, accounts, capsys):
    account = accounts["tencent_ivh"]
    call_command("notifyurl", account.name, "--base", live_server.url)
    first = capsys.readouterr().out.strip()
    assert first.startswith(f"{live_server.url}/hooks/{account.code}/")
    with pytest.raises(CommandError, match="shown only when created"):
        call_command("notifyurl", account.name, "--base", live_server.url)
    call_command("notifyurl", account.name, "--rotate", "--base", live_server.url)
    second = capsys.readouterr().out.strip()
    body = BODIES["tencent_ivh"][1]("x1")
    assert requests.post(first, data=body, timeout=10).status_code == 403
    assert requests.post(second, data=body, timeout=10).status_code == 200
    changes = AuditEntry.objects.filter(account=account, action=AuditEntry.Action.ACCOUNT_CHANGE)
    assert list(changes.order_by("id").values_list("summary", flat=True)) == [
        "Notification URL created",
        "Notification URL replaced",
    ]


def test_the_job_page_shows_the_notification_in_its_own_style(live_server, accounts, staff_client):
    account = accounts["tencent_ivh"]
    job = _job(account, "ivh-page-1")
    url = _receiver(account, live_server)
    assert requests.post(url, data=BODIES["tencent_ivh"][1](job.external_id), timeout=10).ok
    page = staff_client.get(f"/jobs/{job.code}/").content.decode()
    assert "kind-notified" in page and "notified: SUCCESS" in page


def test_a_submitted_jobs_callback_url_is_derived_and_ends_with_the_receivers(
    live_server, accounts, settings
):
    from jobs.services.notifications import submit_callback_url

    account = accounts["tencent_ci"]
    settings.CLAPBOARD_BASE_URL = live_server.url
    assert submit_callback_url(account) == ""  # no receiver yet: no callback asked for
    _receiver(account, live_server)
    account.refresh_from_db()
    callback = submit_callback_url(account)
    assert callback.startswith(f"{live_server.url}/hooks/{account.code}/")
    job = _job(account, "ci-cb-1")
    content_type, body, _ = BODIES["tencent_ci"]
    headers = {"Content-Type": content_type}
    assert requests.post(callback, data=body(job.external_id), headers=headers, timeout=10).ok
    hook_secret_create(account=account, user=None, via=Via.CLI)  # replaced
    account.refresh_from_db()
    assert (
        requests.post(callback, data=body("other"), headers=headers, timeout=10).status_code == 403
    )
    assert submit_callback_url(account) != callback


def test_the_development_servers_request_lines_hide_the_secret():
    import logging

    from dashboard.logs import RedactHookSecrets

    secret = "urjVwXO_1Cd6MhxkY5SzWXdW0oRvFy-OOGbwKppega0"
    line = f'"POST /hooks/9b707187-5592-4e16-bb2f-e9731cce9b55/{secret}/ HTTP/1.1" 200 3'
    record = logging.LogRecord("django.server", logging.INFO, "", 0, "%s", (line,), None)
    assert RedactHookSecrets().filter(record)
    assert secret not in record.getMessage()
    assert "/hooks/9b707187-5592-4e16-bb2f-e9731cce9b55/[secret]/ HTTP/1.1" in record.getMessage()
    handlers = logging.getLogger("django.server").handlers
    assert any(isinstance(f, RedactHookSecrets) for h in handlers for f in h.filters)


def test_with_no_loop_holding_the_account_the_receiver_queues_the_ask(live_server, accounts):
    from django.core.cache import cache
    from django_q.brokers import get_broker

    from jobs.refresh.leases import account_lease_take

    account = accounts["tencent_ivh"]
    url = _receiver(account, live_server)
    content_type, body, _ = BODIES["tencent_ivh"]
    broker = get_broker()
    cache.delete(f"hints-serve:{account.pk}")
    queued = broker.queue_size()
    first = _job(account, "ivh-gap-1")
    assert requests.post(url, data=body(first.external_id), timeout=10).ok
    assert broker.queue_size() == queued + 1  # between loops: a task asks it now
    # With a loop holding the account, that loop takes the hint: nothing is queued.
    assert account_lease_take(account_id=account.pk, owner="loop:test")
    cache.delete(f"hints-serve:{account.pk}")
    second = _job(account, "ivh-gap-2")
    assert requests.post(url, data=body(second.external_id), timeout=10).ok
    assert broker.queue_size() == queued + 1
    assert Job.objects.filter(notified_at__isnull=False).count() == 2
