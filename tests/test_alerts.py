"""Alerts: scanning (dedup, stuck jobs, digests), every channel over real HTTP to a local
receiver (payloads and signatures checked independently), retries and the SSRF guard."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote_plus, urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from jobs import alerts
from jobs.alerts import alerts_deliver, alerts_scan
from jobs.models import Account, AlertDelivery, AlertNotice, AlertRule, Job, JobEvent
from jobs.providers.base import State
from tests.concurrency import run_together
from tests.receiver import Receiver, Recorded
from tests.updates import apply_failure

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
WEBHOOK_SECRET = "whsec-4f1d9c0b7e2a-signing-key"
ROBOT_SECRET = "SECb1e5a0d6c9f84e2aa7d3c0e61b9f5a2d"


def closed_port_url(path: str = "/hook") -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}{path}"


@pytest.fixture
def account(db) -> Account:
    return Account.objects.create(name="vod-prod", provider="tencent_vod", credentials={})


@pytest.fixture
def other_account(db) -> Account:
    return Account.objects.create(name="ice-lab", provider="aliyun_ice", credentials={})


_rule_numbers = itertools.count(1)  # names are unique per owner


def make_rule(owner, channel: str, target: str, **fields) -> AlertRule:
    accounts = fields.pop("accounts", [])
    fields.setdefault("events", ["failed"])
    rule = AlertRule.objects.create(
        owner=owner,
        name=fields.pop("name", f"{channel} rule {next(_rule_numbers)}"),
        channel=channel,
        target=target,
        **fields,
    )
    rule.accounts.set(accounts)
    return rule


def fail_job(
    account: Account,
    external_id: str,
    *,
    code: str = "InvalidInput",
    message: str = "the input file has no audio track",
    kind: str = "transcode",
    state: str = State.FAILED,
    at: datetime | None = None,
) -> Job:
    at = at or timezone.now()
    job = Job.objects.create(
        account=account,
        external_id=external_id,
        name=f"Promo {external_id}",
        kind=kind,
        state=state,
        failure_code=code if state == State.FAILED else "",
        failure_message=message if state == State.FAILED else "",
        next_poll_at=None,
        tracked_at=at - timedelta(minutes=5),
    )
    JobEvent.objects.create(
        job=job,
        at=at,
        state=state,
        failure_code=job.failure_code,
        failure_message=job.failure_message,
    )
    return job


def deliver_the_one_alert(receiver: Receiver) -> Recorded:
    """Scan, deliver, and return the one request the receiver got."""
    alerts_scan()
    alerts_deliver()
    (request,) = receiver.requests
    return request


def signed_robot_alert(operator, account, receiver, channel: str, path: str) -> Recorded:
    """One failure alerted through a robot rule signed with ROBOT_SECRET; the request."""
    make_rule(operator, channel, receiver.url + path, secrets={"secret": ROBOT_SECRET})
    fail_job(account, "task-robot")
    return deliver_the_one_alert(receiver)


def only_delivery() -> AlertDelivery:
    (delivery,) = AlertDelivery.objects.all()
    return delivery


# --- channels: what goes over the wire ----------------------------------------------


def test_webhook_posts_signed_json(operator, account, receiver):
    rule = make_rule(
        operator, "webhook", receiver.url + "/clapboard", secrets={"secret": WEBHOOK_SECRET}
    )
    job = fail_job(account, "task-1")

    assert alerts_scan() == 1
    assert alerts_deliver() == 1

    (request,) = receiver.requests
    assert request.path == "/clapboard"
    assert request.headers["Content-Type"].startswith("application/json")
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Clapboard-Signature"] == f"sha256={expected}"
    timestamp = int(request.headers["X-Clapboard-Timestamp"])
    assert abs(timestamp - time.time()) < 60
    payload = request.json()
    assert payload["event"] == "failed" and payload["digest"] is False
    assert payload["timestamp"] == timestamp  # signed along with the body
    assert payload["rule"] == {"code": str(rule.code), "name": rule.name}
    (sent_job,) = payload["jobs"]
    assert sent_job["external_id"] == "task-1"
    assert sent_job["failure_code"] == "InvalidInput"
    assert sent_job["provider"] == "tencent_vod" and sent_job["account"] == "vod-prod"
    assert sent_job["url"] == f"/jobs/{job.code}/"
    assert WEBHOOK_SECRET not in request.body.decode()

    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.SENT
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (1, 200, "")
    assert delivery.sent_at is not None and delivery.next_attempt_at is None
    assert AlertNotice.objects.get(job=job).delivery == delivery


def test_wecom_robot_gets_markdown(operator, account, receiver):
    make_rule(operator, "wecom", receiver.url + "/cgi-bin/webhook/send?key=robot-key-0001")
    fail_job(account, "task-2", code="AudioMissing")

    request = deliver_the_one_alert(receiver)
    assert request.query == {"key": "robot-key-0001"}
    body = request.json()
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert "Clapboard: job Promo task-2 failed" in content
    assert "AudioMissing" in content and "no audio track" in content
    assert only_delivery().status == AlertDelivery.Status.SENT


def test_dingtalk_robot_gets_markdown_signed_in_the_query(operator, account, receiver):
    request = signed_robot_alert(
        operator, account, receiver, "dingtalk", "/robot/send?access_token=ding-token-0001"
    )
    query = request.query
    assert query["access_token"] == "ding-token-0001"
    timestamp = query["timestamp"]
    assert abs(int(timestamp) / 1000 - time.time()) < 60  # milliseconds
    digest = hmac.new(
        ROBOT_SECRET.encode(), f"{timestamp}\n{ROBOT_SECRET}".encode(), hashlib.sha256
    ).digest()
    expected = base64.b64encode(digest).decode()
    assert query["sign"] == expected
    assert f"sign={quote_plus(expected)}" in request.path  # URL-encoded as documented
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "Clapboard: job Promo task-robot failed"
    assert "InvalidInput" in body["markdown"]["text"]
    assert only_delivery().status == AlertDelivery.Status.SENT


def test_feishu_robot_gets_text_signed_in_the_body(operator, account, receiver):
    request = signed_robot_alert(
        operator,
        account,
        receiver,
        "feishu",
        "/open-apis/bot/v2/hook/5b8f0c1e-2d3a-4f6b-9c7d-0e1f2a3b4c5d",
    )
    body = request.json()
    assert body["msg_type"] == "text"
    assert "Clapboard: job Promo task-robot failed" in body["content"]["text"]
    timestamp = body["timestamp"]
    assert abs(int(timestamp) - time.time()) < 60  # seconds
    digest = hmac.new(f"{timestamp}\n{ROBOT_SECRET}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(digest).decode()
    assert only_delivery().status == AlertDelivery.Status.SENT


def test_unsigned_robots_send_no_signature(operator, account, receiver):
    make_rule(operator, "feishu", receiver.url + "/open-apis/bot/v2/hook/plain")
    make_rule(operator, "dingtalk", receiver.url + "/robot/send?access_token=t")
    fail_job(account, "task-5")

    alerts_scan()
    alerts_deliver()

    by_path = {urlsplit(r.path).path: r for r in receiver.requests}
    assert "sign" not in by_path["/open-apis/bot/v2/hook/plain"].json()
    assert by_path["/robot/send"].query == {"access_token": "t"}


def test_email_goes_through_the_mail_backend(operator, account):
    make_rule(operator, "email", "ops@example.com, oncall@example.com")
    job = fail_job(account, "task-6", code="Timeout", message="render took too long")

    alerts_scan()
    alerts_deliver()

    (message,) = mail.outbox
    assert message.to == ["ops@example.com", "oncall@example.com"]
    assert message.subject == "Clapboard: job Promo task-6 failed"
    assert "Timeout — render took too long" in message.body
    assert f"/jobs/{job.code}/" in message.body
    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.SENT and delivery.response_status is None


def test_a_robot_error_code_in_a_200_answer_is_a_failed_attempt(operator, account, receiver):
    make_rule(operator, "wecom", receiver.url + "/send?key=k")
    receiver.answers = [(200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')]
    fail_job(account, "task-7")

    alerts_scan()
    alerts_deliver()

    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.PENDING
    assert delivery.attempts == 1 and delivery.response_status == 200
    assert "93000" in delivery.last_error and "invalid webhook url" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()


def test_provider_text_cannot_inject_markdown_links(operator, account, receiver):
    make_rule(operator, "wecom", receiver.url + "/send?key=k")
    fail_job(account, "task-8", message="see [details](http://evil.example/x) <@all>")

    alerts_scan()
    alerts_deliver()

    content = receiver.requests[0].json()["markdown"]["content"]
    assert "](http://evil.example" not in content and "<@all>" not in content


# --- the SSRF guard and secrets ------------------------------------------------------


def test_a_metadata_address_is_refused_and_recorded(operator, account):
    make_rule(
        operator,
        "webhook",
        "http://169.254.169.254/latest/meta-data/",
        secrets={"secret": WEBHOOK_SECRET},
    )
    fail_job(account, "task-9")

    alerts_scan()
    alerts_deliver()

    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.FAILED  # retrying cannot help
    assert delivery.attempts == 1
    assert "169.254.169.254 is not allowed" in delivery.last_error


def test_loopback_is_refused_unless_the_setting_allows_it(operator, account, receiver, settings):
    settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH = False
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "task-10")

    alerts_scan()
    alerts_deliver()

    assert receiver.requests == []
    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.FAILED
    assert "127.0.0.1 is not allowed" in delivery.last_error


def test_recorded_errors_never_hold_the_secret_or_url_tokens(operator, account, receiver):
    hook_id = "5b8f0c1e-2d3a-4f6b-9c7d-0e1f2a3b4c5d"
    feishu = make_rule(
        operator, "feishu", closed_port_url(f"/open-apis/bot/v2/hook/{hook_id}"), name="feishu"
    )
    answer = {"errcode": 310000, "errmsg": f"sign not match for {ROBOT_SECRET}"}
    receiver.default = (200, json.dumps(answer).encode())
    ding = make_rule(
        operator,
        "dingtalk",
        receiver.url + "/robot/send?access_token=ding-token-secret-0001",
        secrets={"secret": ROBOT_SECRET},
        name="ding",
    )
    fail_job(account, "task-11")

    alerts_scan()
    alerts_deliver()

    feishu_error = feishu.deliveries.get().last_error
    assert "connection failed" in feishu_error and hook_id not in feishu_error
    ding_error = ding.deliveries.get().last_error
    assert "310000" in ding_error and "[redacted]" in ding_error
    assert ROBOT_SECRET not in ding_error and "ding-token-secret-0001" not in ding_error


def test_one_broken_channel_does_not_stop_the_others(operator, account, receiver, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("mail backend exploded")

    monkeypatch.setitem(alerts.CHANNELS, AlertRule.Channel.EMAIL, explode)
    broken = make_rule(operator, "email", "ops@example.com", name="broken")
    down = make_rule(
        operator, "webhook", closed_port_url(), secrets={"secret": WEBHOOK_SECRET}, name="down"
    )
    working = make_rule(operator, "wecom", receiver.url + "/send?key=k", name="working")
    fail_job(account, "task-12")

    alerts_scan()
    assert alerts_deliver() == 3

    assert working.deliveries.get().status == AlertDelivery.Status.SENT
    assert len(receiver.requests) == 1
    assert broken.deliveries.get().last_error == "RuntimeError: mail backend exploded"
    assert "connection failed" in down.deliveries.get().last_error
    for rule in (broken, down):
        assert rule.deliveries.get().status == AlertDelivery.Status.PENDING  # retried later


# --- which jobs alert ----------------------------------------------------------------


def test_rules_filter_by_provider_account_kind_and_event(
    operator, account, other_account, receiver
):
    url = receiver.url + "/hook"
    secrets = {"secret": WEBHOOK_SECRET}
    any_job = make_rule(operator, "webhook", url, secrets=secrets, name="any")
    by_provider = make_rule(operator, "webhook", url, secrets=secrets, providers=["aliyun_ice"])
    by_account = make_rule(operator, "webhook", url, secrets=secrets, accounts=[account])
    by_kind = make_rule(operator, "webhook", url, secrets=secrets, kinds=["videomaker"])
    successes = make_rule(operator, "webhook", url, secrets=secrets, events=["succeeded"])
    disabled = make_rule(operator, "webhook", url, secrets=secrets, enabled=False)
    vod_failed = fail_job(account, "vod-1")
    ice_failed = fail_job(other_account, "ice-1", kind="videomaker")
    vod_done = fail_job(account, "vod-2", state=State.SUCCEEDED)

    alerts_scan()

    def alerted(rule):
        return set(rule.notices.values_list("job_id", "event"))

    assert alerted(any_job) == {(vod_failed.pk, "failed"), (ice_failed.pk, "failed")}
    assert alerted(by_provider) == {(ice_failed.pk, "failed")}
    assert alerted(by_account) == {(vod_failed.pk, "failed")}
    assert alerted(by_kind) == {(ice_failed.pk, "failed")}
    assert alerted(successes) == {(vod_done.pk, "succeeded")}
    assert alerted(disabled) == set()


def test_a_failure_applied_by_the_refresh_engine_alerts(operator, account):
    rule = make_rule(operator, "email", "ops@example.com")
    job = Job.objects.create(account=account, external_id="live-1", state=State.RUNNING)
    apply_failure(job, code="InternalError", message="transcoder crashed")

    assert alerts_scan() == 1
    assert rule.notices.get().job == job


def test_events_before_the_rule_existed_or_long_ago_do_not_alert(operator, account):
    fail_job(account, "before-rule")
    rule = make_rule(operator, "email", "ops@example.com")
    AlertRule.objects.filter(pk=rule.pk).update(created_at=timezone.now() - timedelta(days=1))
    fail_job(account, "last-week", at=timezone.now() - timedelta(days=7))

    alerts_scan()

    assert list(rule.notices.values_list("job__external_id", flat=True)) == ["before-rule"]


# --- dedup ---------------------------------------------------------------------------


def test_the_same_failure_scanned_again_alerts_once(operator, account, receiver):
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    job = fail_job(account, "task-13")
    assert alerts_scan() == 1
    assert alerts_deliver() == 1
    # A later event of the same failed job (a follow-up fetch, another cluster's copy).
    JobEvent.objects.create(job=job, state=State.FAILED, failure_code="InvalidInput")

    assert alerts_scan() == 0
    assert alerts_scan() == 0
    assert alerts_deliver() == 0
    assert len(receiver.requests) == 1
    assert AlertNotice.objects.count() == 1 and AlertDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_create_one_delivery(operator, account, receiver):
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "race-1")

    assert sorted(run_together(alerts_scan)) == [0, 1]
    assert AlertDelivery.objects.count() == 1
    assert sum(run_together(alerts_deliver)) == 1
    assert len(receiver.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_of_a_burst_create_one_digest(operator, account):
    rule = make_rule(operator, "email", "ops@example.com")
    for n in range(30):
        fail_job(account, f"burst-{n}")

    assert sorted(run_together(alerts_scan)) == [0, 1]
    delivery = only_delivery()
    assert delivery.kind == "digest" and delivery.payload["count"] == 30
    assert rule.notices.filter(delivery=delivery).count() == 30


# --- stuck jobs ----------------------------------------------------------------------


def test_a_job_without_progress_or_queue_movement_is_stuck_once(operator, account, time_machine):
    time_machine.move_to(T0, tick=False)
    rule = make_rule(operator, "email", "ops@example.com", events=["stuck"], stuck_minutes=30)
    job = Job.objects.create(
        account=account,
        external_id="slow-1",
        name="Slow one",
        state=State.QUEUED,
        queue_position=5,
        next_poll_at=T0 + timedelta(seconds=10),
    )
    JobEvent.objects.create(job=job, state=State.QUEUED, queue_position=5)
    # Not stuck, whatever their age: finished, no longer polled, paused on purpose.
    fail_job(account, "old-failure", at=T0)
    Job.objects.create(
        account=account, external_id="stopped", state=State.RUNNING, next_poll_at=None
    )
    Job.objects.create(account=account, external_id="paused", state=State.PAUSED)

    time_machine.move_to(T0 + timedelta(minutes=20), tick=False)
    JobEvent.objects.create(job=job, state=State.QUEUED, queue_position=3)  # it moved
    time_machine.move_to(T0 + timedelta(minutes=45), tick=False)
    assert alerts_scan() == 0

    time_machine.move_to(T0 + timedelta(minutes=51), tick=False)
    assert alerts_scan() == 1
    notice = rule.notices.get()
    assert (notice.job, notice.event) == (job, "stuck")
    assert notice.delivery.payload["title"] == "Clapboard: job Slow one has not moved for 30 min"
    alerts_deliver()
    assert mail.outbox[0].subject == "Clapboard: job Slow one has not moved for 30 min"

    time_machine.move_to(T0 + timedelta(hours=3), tick=False)
    assert alerts_scan() == 0


def test_a_job_with_no_events_is_stuck_from_when_it_was_tracked(operator, account, time_machine):
    time_machine.move_to(T0, tick=False)
    rule = make_rule(operator, "email", "ops@example.com", events=["stuck"], stuck_minutes=10)
    Job.objects.create(account=account, external_id="silent", state=State.UNKNOWN)

    time_machine.move_to(T0 + timedelta(minutes=9), tick=False)
    assert alerts_scan() == 0
    time_machine.move_to(T0 + timedelta(minutes=11), tick=False)
    assert alerts_scan() == 1
    assert rule.notices.get().event == "stuck"


# --- digests -------------------------------------------------------------------------


def test_fifty_failures_in_one_scan_are_one_digest(operator, account, receiver):
    make_rule(operator, "wecom", receiver.url + "/send?key=k")
    for n in range(50):
        fail_job(account, f"burst-{n:02}", code="InvalidInput" if n < 30 else "Timeout")

    assert alerts_scan() == 1
    delivery = only_delivery()
    assert delivery.kind == "digest"
    payload = delivery.payload
    assert payload["digest"] is True and payload["count"] == 50
    assert payload["title"] == "Clapboard: 50 jobs failed"
    assert payload["summary"]["failure_codes"] == {"InvalidInput": 30, "Timeout": 20}
    assert payload["summary"]["providers"] == {"Tencent VOD": 50}
    assert [job["external_id"] for job in payload["jobs"]] == [f"burst-{n:02}" for n in range(10)]
    assert payload["list_url"] == "/?state=failed"
    assert AlertNotice.objects.filter(delivery=delivery).count() == 50

    assert alerts_deliver() == 1
    (request,) = receiver.requests
    content = request.json()["markdown"]["content"]
    assert "50 jobs failed" in content and "… and 40 more" in content
    assert "InvalidInput 30, Timeout 20" in content
    assert "/?state=failed" in content


def test_digest_links_to_the_filtered_list_on_the_configured_site(operator, account, settings):
    settings.CLAPBOARD_BASE_URL = "https://clapboard.example.com/"
    make_rule(operator, "email", "ops@example.com", accounts=[account])
    for n in range(11):
        fail_job(account, f"burst-{n}")

    alerts_scan()
    alerts_deliver()

    link = f"https://clapboard.example.com/?state=failed&account={account.code}"
    assert only_delivery().payload["list_url"] == link
    assert link in mail.outbox[0].body


def test_up_to_the_threshold_each_job_gets_its_own_alert(operator, account):
    make_rule(operator, "email", "ops@example.com")
    for n in range(alerts.DIGEST_THRESHOLD):
        fail_job(account, f"few-{n}")

    assert alerts_scan() == alerts.DIGEST_THRESHOLD
    assert set(AlertDelivery.objects.values_list("kind", flat=True)) == {"single"}


# --- retries -------------------------------------------------------------------------


def test_a_failed_delivery_is_retried_with_backoff(operator, account, receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "flaky-1")
    alerts_scan()
    receiver.answers = [(500, b"upstream down")]

    assert alerts_deliver() == 1
    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.PENDING
    assert (delivery.attempts, delivery.response_status) == (1, 500)
    assert "answered HTTP 500" in delivery.last_error
    first_wait = delivery.next_attempt_at - T0
    assert timedelta(seconds=4.5) <= first_wait <= timedelta(seconds=5.5)

    assert alerts_deliver() == 0  # not due yet
    time_machine.move_to(delivery.next_attempt_at, tick=False)
    assert alerts_deliver() == 1

    delivery.refresh_from_db()
    assert delivery.status == AlertDelivery.Status.SENT
    assert (delivery.attempts, delivery.response_status, delivery.last_error) == (2, 200, "")
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body or (
        receiver.requests[0].json()["delivery"] == receiver.requests[1].json()["delivery"]
    )


@pytest.mark.parametrize(
    ("header", "retry_after", "wait"),
    [
        ("Retry-After", "120", (120.0, 120.0)),
        ("retry-after", "120", (120.0, 120.0)),  # header names are case-insensitive
        ("Retry-After", format_datetime(T0 + timedelta(seconds=300), usegmt=True), (299, 301)),
        ("Retry-After", "soon", (4.5, 5.5)),  # unreadable: the usual back-off
        (None, None, (4.5, 5.5)),
    ],
)
def test_a_throttled_delivery_waits_as_the_receiver_asks(
    operator, account, receiver, time_machine, header, retry_after, wait
):
    # The same Retry-After reading as the provider adapters (seconds or an HTTP date).
    time_machine.move_to(T0, tick=False)
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "throttled-1")
    alerts_scan()
    receiver.answers = [(429, b"slow down")]
    if header is not None:
        receiver.extra_headers = {header: retry_after}

    assert alerts_deliver() == 1
    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.PENDING  # 429 is worth retrying
    assert delivery.response_status == 429
    waited = (delivery.next_attempt_at - T0).total_seconds()
    assert wait[0] <= waited <= wait[1]


def test_delivery_gives_up_after_the_last_attempt(operator, account, receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    make_rule(operator, "webhook", receiver.url + "/hook", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "down-1")
    alerts_scan()
    receiver.default = (503, b"maintenance")

    waits = []
    for _ in range(alerts.MAX_ATTEMPTS):
        assert alerts_deliver() == 1
        delivery = only_delivery()
        if delivery.next_attempt_at:
            waits.append((delivery.next_attempt_at - timezone.now()).total_seconds())
            time_machine.move_to(delivery.next_attempt_at, tick=False)

    assert delivery.status == AlertDelivery.Status.FAILED
    assert delivery.attempts == alerts.MAX_ATTEMPTS and delivery.next_attempt_at is None
    assert len(waits) == alerts.MAX_ATTEMPTS - 1
    assert all(later > earlier * 1.5 for earlier, later in zip(waits, waits[1:], strict=False))
    assert alerts_deliver() == 0


def test_a_client_error_is_not_retried(operator, account, receiver):
    make_rule(operator, "webhook", receiver.url + "/gone", secrets={"secret": WEBHOOK_SECRET})
    fail_job(account, "task-14")
    receiver.answers = [(404, b"no such hook")]

    alerts_scan()
    alerts_deliver()

    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.FAILED
    assert (delivery.attempts, delivery.response_status) == (1, 404)


def test_a_disabled_rule_sends_nothing_more(operator, account, receiver):
    rule = make_rule(operator, "wecom", receiver.url + "/send?key=k")
    fail_job(account, "task-15")
    alerts_scan()
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)

    alerts_deliver()

    assert receiver.requests == []
    delivery = only_delivery()
    assert delivery.status == AlertDelivery.Status.FAILED
    assert delivery.last_error == "the rule was disabled"


def test_send_test_makes_one_attempt_and_records_it(operator, receiver):
    rule = make_rule(operator, "wecom", receiver.url + "/send?key=k")
    receiver.answers = [(200, b'{"errcode": 45009, "errmsg": "api freq out of limit"}')]

    delivery = alerts.alert_send_test(rule=rule)

    assert delivery.kind == "test" and delivery.status == AlertDelivery.Status.FAILED
    assert delivery.attempts == 1 and "45009" in delivery.last_error
    assert alerts.alert_send_test(rule=rule).status == AlertDelivery.Status.SENT
    assert "test message" in receiver.requests[-1].json()["markdown"]["content"]
    assert alerts_deliver() == 0  # tests are never retried in the background


# --- targets at rest -------------------------------------------------------------------


def _stored_target(rule: AlertRule) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM jobs_alertrule WHERE id = %s", [rule.pk])
        return cursor.fetchone()[0]


def test_robot_tokens_are_ciphertext_in_the_database_and_still_delivered(
    operator, account, receiver
):
    tokens = {
        "dingtalk": "dingAccessToken0001beef",
        "wecom": "wecomKey-3f9a1c7e-0002",
        "feishu": "feishuHookId5d2e8b40003",
    }
    targets = {
        "dingtalk": f"{receiver.url}/robot/send?access_token={tokens['dingtalk']}",
        "wecom": f"{receiver.url}/cgi-bin/webhook/send?key={tokens['wecom']}",
        "feishu": f"{receiver.url}/open-apis/bot/v2/hook/{tokens['feishu']}",
    }
    rules = [make_rule(operator, channel, target) for channel, target in targets.items()]
    for rule in rules:
        stored = _stored_target(rule)
        assert tokens[rule.channel] not in stored and "127.0.0.1" not in stored
        assert AlertRule.objects.get(pk=rule.pk).target == targets[rule.channel]

    fail_job(account, "task-at-rest")
    alerts_scan()
    alerts_deliver()

    # Decrypted at send time: each robot got its message at its own tokened URL.
    paths = sorted(request.path for request in receiver.requests)
    assert paths == sorted(
        urlsplit(t).path + (f"?{urlsplit(t).query}" if urlsplit(t).query else "")
        for t in targets.values()
    )
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {"sent"}


def test_the_migration_encrypts_existing_plain_targets(operator):
    import importlib

    from django.db.migrations.loader import MigrationLoader

    migration = importlib.import_module("jobs.migrations.0007_encrypt_alert_targets")
    rule = make_rule(operator, "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1")
    plain = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=plain-legacy-key-0004"
    with connection.cursor() as cursor:  # a row as 0005 left it
        cursor.execute("UPDATE jobs_alertrule SET target = %s WHERE id = %s", [plain, rule.pk])
    before = (
        MigrationLoader(connection)
        .project_state(("jobs", "0006_accounts_alert_rule_unique_name"))
        .apps
    )

    migration.encrypt_targets(before, None)
    migration.encrypt_targets(before, None)  # run twice: not encrypted twice

    assert "plain-legacy-key-0004" not in _stored_target(rule)
    assert AlertRule.objects.get(pk=rule.pk).target == plain
