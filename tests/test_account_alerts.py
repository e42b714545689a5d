"""Account alerts: credentials rejected, provider unreachable or rate-limited for a rule's
minutes, discovery failing, and the recovery after them. Episodes are recorded where the
account's health is (over real HTTP to the simulator), once per episode; each rule hears
of each episode once per event."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from jobs import services
from jobs.alerts import alerts_deliver, alerts_scan
from jobs.models import Account, Job
from jobs.providers.base import ProviderError
from jobs.refresh import refresh_once
from jobs.refresh.discovery import discovery_run
from tests.test_alerts import WEBHOOK_SECRET, make_rule

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TIMEOUT = ProviderError("the provider did not answer within 10 s", "Timeout")
THROTTLED = ProviderError("request limit exceeded", "RequestLimitExceeded", retry_after=5.0)
REJECTED = ProviderError("the signature does not match", "AuthFailure", permanent=True)


def _due_now(*jobs: Job) -> None:
    Job.objects.filter(pk__in=[j.pk for j in jobs]).update(next_poll_at=timezone.now())


def _poll(account: Account, job: Job) -> None:
    """One refresh pass of the account's due job, whatever the last error's back-off."""
    Account.objects.filter(pk=account.pk).update(retry_at=None)
    _due_now(job)
    refresh_once(account_names=[account.name])


def _episodes(account: Account) -> list[tuple[str, bool]]:
    return [(e.kind, e.ended_at is None) for e in account.episodes.order_by("started_at", "id")]


def _fail(account: Account, error: ProviderError, at: datetime, **kwargs) -> None:
    services.account_record_error(
        account_id=account.pk, error=error, back_off=False, now=at, **kwargs
    )


def _told(rule) -> list[tuple[str, str]]:
    return [(n.episode.account.name, n.event) for n in rule.notices.order_by("id")]


@pytest.fixture
def vod(db) -> Account:
    return Account.objects.create(name="vod-prod", provider="tencent_vod", credentials={})


@pytest.fixture
def ivh(db) -> Account:
    return Account.objects.create(name="ivh-lab", provider="tencent_ivh", credentials={})


# --- episodes, recorded where the account's health is ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_many_failed_polls_are_one_episode_and_the_first_good_answer_ends_it(simulator, accounts):
    account = accounts["tencent_ivh"]
    simulator.add_job("tencent_ivh", "ivh-acct", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=account, external_id="ivh-acct")
    refresh_once(account_names=[account.name])
    assert _episodes(account) == []

    simulator.inject("http_500", "tencent_ivh")
    for _ in range(3):
        _poll(account, job)
    account.refresh_from_db()
    assert account.consecutive_failures == 3
    assert _episodes(account) == [("unreachable", True)]  # one row, not one per poll

    simulator.clear_faults()
    _poll(account, job)
    assert _episodes(account) == [("unreachable", False)]
    episode = account.episodes.get()
    assert episode.started_at < episode.ended_at

    simulator.inject("http_500", "tencent_ivh", count=1)  # a new episode, not the old one
    _poll(account, job)
    assert _episodes(account) == [("unreachable", False), ("unreachable", True)]


@pytest.mark.django_db(transaction=True)
def test_throttling_and_rejected_credentials_are_episodes_of_their_own(simulator, accounts):
    account = accounts["tencent_vod"]
    simulator.add_job("tencent_vod", "vod-acct", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=account, external_id="vod-acct")

    simulator.inject("throttle", "tencent_vod", count=2)
    _poll(account, job)
    _poll(account, job)
    simulator.inject("bad_signature", "tencent_vod", count=2)
    _poll(account, job)
    _poll(account, job)
    assert _episodes(account) == [("rate_limited", True), ("credentials", True)]

    _poll(account, job)  # answered: every episode of the account ends
    assert _episodes(account) == [("rate_limited", False), ("credentials", False)]


@pytest.mark.django_db(transaction=True)
def test_discovery_failing_ends_only_with_a_good_discovery_run(simulator, accounts):
    account = accounts["tencent_ci"]
    Account.objects.filter(pk=account.pk).update(discover=True)
    simulator.inject("http_500", "tencent_ci", count=2)
    discovery_run()
    discovery_run()
    assert _episodes(account) == [("discovery", True)]

    services.account_record_ok(account_id=account.pk)  # a poll's answer says nothing of it
    assert _episodes(account) == [("discovery", True)]
    discovery_run()
    assert _episodes(account) == [("discovery", False)]


# --- the scan: once per rule, episode and event; thresholds; scope ----------------------


def test_each_account_event_alerts_once_per_rule_and_episode(operator, vod):
    rule = make_rule(operator, "email", "ops@example.com", events=["credentials", "unreachable"])
    for minute in range(12):  # a failed poll a minute: still one episode, one alert
        _fail(vod, TIMEOUT, T0 + timedelta(minutes=minute))
    _fail(vod, REJECTED, T0 + timedelta(minutes=12))

    assert alerts_scan(now=T0 + timedelta(minutes=12)) == 2
    for minute in range(13, 16):
        _fail(vod, TIMEOUT, T0 + timedelta(minutes=minute))
        assert alerts_scan(now=T0 + timedelta(minutes=minute)) == 0
    assert _told(rule) == [("vod-prod", "unreachable"), ("vod-prod", "credentials")]
    assert vod.episodes.count() == 2


def test_unreachable_and_rate_limited_wait_for_the_rules_minutes(operator, vod):
    # The defaults: 10 minutes each.
    default = make_rule(operator, "email", "a@example.com", events=["unreachable", "rate_limited"])
    patient = make_rule(
        operator, "email", "b@example.com", events=["unreachable"], unreachable_minutes=30
    )
    _fail(vod, TIMEOUT, T0)
    _fail(vod, THROTTLED, T0 + timedelta(minutes=2))

    assert alerts_scan(now=T0 + timedelta(minutes=9, seconds=59)) == 0
    assert alerts_scan(now=T0 + timedelta(minutes=10)) == 1
    assert _told(default) == [("vod-prod", "unreachable")]
    assert alerts_scan(now=T0 + timedelta(minutes=12)) == 1
    assert _told(default) == [("vod-prod", "unreachable"), ("vod-prod", "rate_limited")]
    assert alerts_scan(now=T0 + timedelta(minutes=29)) == 0
    assert alerts_scan(now=T0 + timedelta(minutes=30)) == 1
    assert _told(patient) == [("vod-prod", "unreachable")]


def test_recovery_goes_to_the_rules_told_of_the_episode_only(operator, vod):
    told = make_rule(operator, "email", "told@example.com", events=["unreachable"])
    untold = make_rule(
        operator, "email", "late@example.com", events=["unreachable"], unreachable_minutes=60
    )
    other = make_rule(operator, "email", "other@example.com", events=["credentials"])
    _fail(vod, TIMEOUT, T0)
    alerts_scan(now=T0 + timedelta(minutes=15))
    alerts_deliver(now=T0 + timedelta(minutes=15))

    services.account_record_ok(account_id=vod.pk, now=T0 + timedelta(minutes=20))
    assert alerts_scan(now=T0 + timedelta(minutes=21)) == 1
    assert alerts_scan(now=T0 + timedelta(minutes=22)) == 0
    assert _told(told) == [("vod-prod", "unreachable"), ("vod-prod", "recovered")]
    assert _told(untold) == _told(other) == []

    alerts_deliver(now=T0 + timedelta(minutes=22))
    subjects = [message.subject for message in mail.outbox]
    assert subjects == [
        "Clapboard: account vod-prod: provider unreachable since 2030-01-01 12:00 UTC",
        "Clapboard: account vod-prod recovered (provider unreachable since 2030-01-01 12:00 UTC)",
    ]
    assert "answers again at 2030-01-01 12:20 UTC" in mail.outbox[1].body


def test_rules_are_scoped_by_provider_and_account(operator, vod, ivh):
    by_provider = make_rule(
        operator, "email", "a@example.com", events=["credentials"], providers=["tencent_ivh"]
    )
    by_account = make_rule(
        operator, "email", "b@example.com", events=["credentials"], accounts=[vod]
    )
    kinds_do_not_apply = make_rule(
        operator, "email", "c@example.com", events=["credentials"], kinds=["transcode"]
    )
    _fail(vod, REJECTED, T0)
    _fail(ivh, REJECTED, T0)

    assert alerts_scan(now=T0) == 4
    assert _told(by_provider) == [("ivh-lab", "credentials")]
    assert _told(by_account) == [("vod-prod", "credentials")]
    assert sorted(_told(kinds_do_not_apply)) == [
        ("ivh-lab", "credentials"),
        ("vod-prod", "credentials"),
    ]


def test_disabled_accounts_and_discovery_turned_off_do_not_alert(operator, vod, ivh):
    rule = make_rule(operator, "email", "a@example.com", events=["credentials", "discovery"])
    _fail(vod, REJECTED, T0)
    Account.objects.filter(pk=vod.pk).update(enabled=False)
    _fail(ivh, TIMEOUT, T0, discovery=True)
    assert alerts_scan(now=T0) == 0

    Account.objects.filter(pk=ivh.pk).update(discover=True)
    assert alerts_scan(now=T0) == 1
    assert _told(rule) == [("ivh-lab", "discovery")]


# --- over HTTP: the account payload, signed, without a secret ---------------------------


@pytest.mark.django_db(transaction=True)
def test_a_rejected_account_reaches_the_webhook_with_its_facts(
    simulator, accounts, operator, receiver
):
    account = accounts["tencent_vod"]
    simulator.add_job("tencent_vod", "vod-hook", pinned="running", pinned_progress=10)
    job = Job.objects.create(account=account, external_id="vod-hook")
    rule = make_rule(
        operator,
        "webhook",
        receiver.url + "/hook",
        events=["credentials"],
        secrets={"secret": WEBHOOK_SECRET},
    )
    simulator.inject("bad_signature", "tencent_vod")
    _poll(account, job)

    assert alerts_scan() == 1
    assert alerts_deliver() == 1
    (request,) = receiver.requests
    expected = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Clapboard-Signature"] == f"sha256={expected}"
    assert request.headers["X-Clapboard-Event"] == "credentials"
    payload = request.json()
    assert payload["event"] == "credentials" and payload["jobs"] == []
    assert payload["title"].startswith(f"Clapboard: account {account.name}: credentials rejected")
    (facts,) = payload["accounts"]
    account.refresh_from_db()
    assert facts["account"] == account.name and facts["provider"] == "tencent_vod"
    assert facts["episode"] == "credentials"
    assert facts["since"] == account.episodes.get().started_at.isoformat()
    assert "AuthFailure" in facts["last_error"] and facts["consecutive_failures"] == 1
    assert facts["url"] == f"/accounts/#account-{account.code}"
    body = request.body.decode()
    for secret in account.credentials.values():
        if len(str(secret)) >= 8:
            assert str(secret) not in body

    simulator.clear_faults()
    _poll(account, job)
    assert alerts_scan() == 1 and alerts_deliver() == 1
    recovered = receiver.requests[1].json()
    assert recovered["event"] == "recovered" and recovered["rule"]["code"] == str(rule.code)
    assert recovered["accounts"][0]["ended_at"] is not None


def test_old_episodes_no_rule_heard_of_are_forgotten(operator, vod, ivh):
    make_rule(operator, "email", "a@example.com", events=["credentials"])
    _fail(vod, REJECTED, T0)  # told, so kept
    _fail(ivh, TIMEOUT, T0)  # ended untold: pruned after a week
    alerts_scan(now=T0)
    for account in (vod, ivh):
        services.account_record_ok(account_id=account.pk, now=T0 + timedelta(minutes=1))
    _fail(ivh, TIMEOUT, T0 + timedelta(days=7))  # still open: kept

    alerts_scan(now=T0 + timedelta(days=7))
    assert _episodes(ivh) == [("unreachable", False), ("unreachable", True)]
    alerts_scan(now=T0 + timedelta(days=7, minutes=2))
    assert _episodes(ivh) == [("unreachable", True)]
    assert _episodes(vod) == [("credentials", False)]


def test_the_alert_never_carries_the_accounts_credentials(operator):
    secret = "vod-secret-key-6b1f0c9e2d"
    account = Account.objects.create(
        name="vod-leaky",
        provider="tencent_vod",
        credentials={"secret_id": "AKIDexample0001", "secret_key": secret},
    )
    make_rule(operator, "email", "a@example.com", events=["credentials"])
    # Should an adapter ever slip a credential into its message, the alert redacts it.
    _fail(
        account,
        ProviderError(f"signature over {secret} refused", "AuthFailure", permanent=True),
        T0,
    )
    alerts_scan(now=T0)
    alerts_deliver(now=T0)

    (message,) = mail.outbox
    assert secret not in message.body and secret not in message.subject
    assert "signature over [redacted] refused" in message.body
