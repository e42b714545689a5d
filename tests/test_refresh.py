"""The refresh engine against the simulator over real HTTP."""

from __future__ import annotations

import math
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import DataError
from django.utils import timezone
from django_q.models import Schedule

from jobs import refresh, services
from jobs.models import Account, Job, JobEvent
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import JobStatus, State
from jobs.refresh import RefreshLoop, poll, refresh_once
from jobs.services.usage import usage_last_hour

pytestmark = pytest.mark.django_db(transaction=True)

PINNED = {
    "queued": State.QUEUED,
    "running": State.RUNNING,
    "succeeded": State.SUCCEEDED,
    "failed": State.FAILED,
}


def track(account: Account, *ids: str) -> list[Job]:
    return [Job.objects.create(account=account, external_id=i) for i in ids]


def test_one_pass_stores_every_state_for_every_provider(simulator, accounts):
    for code, account in accounts.items():
        for phase in PINNED:
            simulator.add_job(
                code,
                f"{code}-{phase}",
                pinned=phase,
                pinned_progress=40 if phase == "running" else None,
                queue_ahead=7,
            )
            track(account, f"{code}-{phase}")

    stats = refresh_once()

    assert stats["jobs"] == len(accounts) * len(PINNED) and stats["errors"] == 0
    for job in Job.objects.select_related("account"):
        phase = job.external_id.rsplit("-", 1)[1]
        assert job.state == PINNED[phase], (job.external_id, job.state, job.last_poll_error)
        # Subtitles arriving after success are a visible change of their own.
        assert job.version == 1 + bool(job.subtitles_url) and job.events.count() == 1
        assert job.last_polled_at is not None
        if job.is_terminal:
            assert job.next_poll_at is None
        else:
            assert job.next_poll_at > job.last_polled_at
    queued_ivh = Job.objects.get(external_id="tencent_ivh-queued")
    assert queued_ivh.queue_position == 7
    for account in Account.objects.all():
        assert account.last_ok_at is not None and account.lease_owner == ""
    # Every request is counted for the accounts health page.
    used = usage_last_hour()
    assert {a.provider: used[a.pk][0] for a in Account.objects.all()} == simulator.requests


def test_unchanged_poll_bumps_nothing_and_a_change_appends_one_event(simulator, accounts):
    sim_job = simulator.add_job("tencent_ivh", "ivh-1", pinned="running", pinned_progress=10)
    (job,) = track(accounts["tencent_ivh"], "ivh-1")
    refresh_once()
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    job.refresh_from_db()
    assert (job.version, job.events.count(), job.progress) == (1, 1, 10)

    sim_job.pinned_progress = 55
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    job.refresh_from_db()
    assert (job.version, job.events.count(), job.progress) == (2, 2, 55)


def test_terminal_states_are_final(simulator, accounts):
    sim_job = simulator.add_job("tencent_ci", "ci-done", pinned="succeeded")
    (job,) = track(accounts["tencent_ci"], "ci-done")
    refresh_once()
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.next_poll_at is None

    sim_job.pinned = "running"  # a confused or stale answer
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED and job.version == 1


def test_an_out_of_order_response_never_moves_a_job_backwards(accounts):
    (job,) = track(accounts["tencent_ivh"], "ivh-order")
    early = timezone.now()
    late = early + timedelta(seconds=2)
    running = JobStatus(
        external_id="ivh-order", state=State.RUNNING, provider_state="MAKING", progress=80
    )
    queued = JobStatus(
        external_id="ivh-order", state=State.QUEUED, provider_state="COMMIT", queue_position=3
    )
    services.job_apply_status(job_id=job.pk, status=running, asked_at=late)
    applied = services.job_apply_status(job_id=job.pk, status=queued, asked_at=early)
    job.refresh_from_db()
    assert applied.stale
    assert (job.state, job.progress, job.version) == (State.RUNNING, 80, 1)


FAULTS = [
    "http_500",
    "http_502_html",
    "timeout",
    "reset",
    "truncated",
    "not_json",
    "wrong_shape",
    "huge",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_transient_faults_leave_the_job_untouched_and_back_off(
    simulator, accounts, fault, monkeypatch
):
    simulator.fault_delay = 0.8
    monkeypatch.setattr("jobs.providers.tencent_ivh.TencentIvh.request_timeout", (1.0, 0.4))
    sim_job = simulator.add_job("tencent_ivh", "ivh-f", pinned="running", pinned_progress=30)
    (job,) = track(accounts["tencent_ivh"], "ivh-f")
    refresh_once()
    before = Job.objects.get(pk=job.pk)

    simulator.inject(fault, "tencent_ivh")
    sim_job.pinned_progress = 90
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()

    after = Job.objects.get(pk=job.pk)
    assert (after.state, after.progress, after.version) == (before.state, 30, before.version)
    assert after.poll_errors == 1 and after.last_poll_error
    assert after.next_poll_at > timezone.now() + timedelta(seconds=3)  # backed off
    assert Account.objects.get(pk=job.account_id).last_error

    # The fault clears: the next poll recovers and forgets the error.
    simulator.clear_faults()
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now())
    refresh_once()
    after = Job.objects.get(pk=job.pk)
    assert (after.progress, after.poll_errors, after.last_poll_error) == (90, 0, "")


@pytest.mark.parametrize(
    "code", ["tencent_vod", "tencent_ci", "huawei_metastudio", "aliyun_ice", "tencent_ivh"]
)
def test_bad_signature_is_an_account_error_and_pauses_the_account(simulator, accounts, code):
    simulator.add_job(code, f"{code}-sig", pinned="running", pinned_progress=20)
    (job,) = track(accounts[code], f"{code}-sig")
    simulator.inject("bad_signature", code)
    refresh_once()
    job.refresh_from_db()
    account = Account.objects.get(pk=job.account_id)
    assert job.state == State.UNKNOWN and job.version == 0  # nothing invented
    assert account.last_error and account.consecutive_failures == 1
    assert account.retry_at >= timezone.now() + timedelta(minutes=4)
    # A paused account is not polled again until retry_at.
    assert refresh_once()["requests"] == 0


def test_throttling_slows_the_account_and_never_fails_jobs(simulator, accounts):
    simulator.add_job("huawei_metastudio", "ms-t", pinned="running")
    (job,) = track(accounts["huawei_metastudio"], "ms-t")
    simulator.inject("throttle", "huawei_metastudio")
    refresh_once()
    job.refresh_from_db()
    account = Account.objects.get(pk=job.account_id)
    assert job.state == State.UNKNOWN and job.poll_errors == 0
    assert "APIGW.0308" in account.last_error
    assert account.retry_at > timezone.now()


def test_rate_limit_is_respected(simulator, accounts):
    account = accounts["aliyun_ice"]
    Account.objects.filter(pk=account.pk).update(rate_limit=8)
    tenant = simulator.tenants[("aliyun_ice", account.credentials["access_key_id"])]
    tenant.rate_limit = 8  # the fake cloud throttles anything faster
    ids = [f"ice-{n}" for n in range(20)]
    for external_id in ids:
        simulator.add_job("aliyun_ice", external_id, pinned="running")
    track(account, *ids)
    started = time.monotonic()
    stats = refresh_once()
    assert stats == {**stats, "jobs": 20, "errors": 0}
    assert time.monotonic() - started >= 1.5  # 20 requests at 8/s cannot be faster
    assert Account.objects.get(pk=account.pk).last_error == ""


def test_batch_providers_refresh_many_jobs_per_request(simulator, accounts):
    for code, count in (("tencent_ci", 120), ("huawei_metastudio", 150)):
        ids = [f"{code}-{n}" for n in range(count)]
        for external_id in ids:
            simulator.add_job(code, external_id, pinned="running", owner=None)
        track(accounts[code], *ids)
    refresh_once()
    assert simulator.requests["tencent_ci"] == 3  # 50 per request
    assert simulator.requests["huawei_metastudio"] == 2  # 100 per request
    assert not Job.objects.exclude(state=State.RUNNING).exists()


def test_not_found_stops_polling_with_a_note(simulator, accounts):
    (job,) = track(accounts["tencent_vod"], "no-such-task")
    refresh_once()
    job.refresh_from_db()
    assert job.next_poll_at is None and "no longer knows" in job.stopped_reason
    assert job.state == State.UNKNOWN
    assert JobEvent.objects.filter(job=job, note__contains="no longer knows").exists()


def test_job_past_retention_stops_with_a_clear_note(simulator, accounts):
    simulator.add_job("tencent_vod", "vod-old", pinned="running", created=time.time() - 4 * 86400)
    (job,) = track(accounts["tencent_vod"], "vod-old")
    refresh_once()
    job.refresh_from_db()
    assert job.next_poll_at is None
    assert "retention of 3 days" in job.stopped_reason


def test_subtitles_are_fetched_once_after_success(simulator, accounts):
    simulator.add_job("tencent_ivh", "ivh-srt", pinned="succeeded")
    (job,) = track(accounts["tencent_ivh"], "ivh-srt")
    refresh_once()
    job.refresh_from_db()
    assert job.state == State.SUCCEEDED
    assert job.subtitles.startswith("1\n00:00:00,000 -->") and job.subtitles_error == ""
    assert job.words and all(w[2] > w[1] for s in job.words for w in s["words"])


def test_malformed_subtitles_keep_the_text_and_an_error(simulator, accounts):
    simulator.add_job("tencent_ivh", "ivh-bad-srt", pinned="succeeded")
    (job,) = track(accounts["tencent_ivh"], "ivh-bad-srt")
    Job.objects.filter(pk=job.pk).update(
        subtitles_url=f"{simulator.url}/_sim/cover/tencent_ivh/ivh-bad-srt.svg"
    )
    services.job_fetch_subtitles(job_id=job.pk)
    job.refresh_from_db()
    assert job.subtitles.startswith("<svg") and "not valid SRT" in job.subtitles_error


def test_subtitles_from_loopback_are_refused_unless_allowed(simulator, accounts, settings):
    settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH = False
    simulator.add_job("tencent_ivh", "ivh-ssrf", pinned="succeeded")
    (job,) = track(accounts["tencent_ivh"], "ivh-ssrf")
    refresh_once()
    job.refresh_from_db()
    assert job.subtitles == "" and "not allowed" in job.subtitles_error


def test_a_job_due_in_a_few_seconds_is_polled_then_not_at_the_next_tick(simulator, accounts):
    simulator.add_job("tencent_ivh", "ivh-soon", pinned="queued")
    (job,) = track(accounts["tencent_ivh"], "ivh-soon")
    due = timezone.now() + timedelta(seconds=2)
    Job.objects.filter(pk=job.pk).update(next_poll_at=due)
    RefreshLoop(seconds=4.5).run()
    job.refresh_from_db()
    assert job.last_polled_at is not None
    assert due <= job.last_polled_at <= due + timedelta(seconds=1.6)


def test_two_concurrent_loops_poll_each_job_once_and_lose_nothing(simulator, accounts):
    ids = {code: [f"{code}-c{n}" for n in range(12)] for code in accounts}
    for code, account in accounts.items():
        for external_id in ids[code]:
            simulator.add_job(code, external_id, pinned="running", pinned_progress=50)
        track(account, *ids[code])
    results = []
    loops = [RefreshLoop(once=True, seconds=60, loops=2) for _ in range(2)]
    threads = [threading.Thread(target=lambda lp=lp: results.append(lp.run())) for lp in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r["jobs"] for r in results) == sum(len(v) for v in ids.values())
    # One request per batch of 12 (IVH, VOD, ICE: one per job; CI and MetaStudio batch
    # them all), plus one state listing where a provider has one (VOD).
    adapters = [provider_class(code) for code in PROVIDERS]
    expected_requests = sum(math.ceil(12 / a.batch_size) + a.lists_states for a in adapters)
    assert sum(simulator.requests.values()) == expected_requests
    assert set(Job.objects.values_list("state", flat=True)) == {State.RUNNING}
    assert not Job.objects.exclude(version=1).exists()
    assert not Account.objects.exclude(lease_owner="").exists()


def test_an_account_leased_by_another_loop_is_left_alone(simulator, accounts):
    account = accounts["aliyun_ice"]
    simulator.add_job("aliyun_ice", "ice-leased", pinned="running")
    track(account, "ice-leased")
    Account.objects.filter(pk=account.pk).update(
        lease_owner="elsewhere", lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert refresh_once(account_names=[account.name])["requests"] == 0
    # An expired lease (its loop died) is taken over.
    Account.objects.filter(pk=account.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert refresh_once(account_names=[account.name])["requests"] == 1


def test_refresh_now_polls_one_job_or_defers_to_the_loop_holding_the_account(simulator, accounts):
    account = accounts["tencent_ivh"]
    simulator.add_job("tencent_ivh", "ivh-now", pinned="running", pinned_progress=70)
    (job,) = track(account, "ivh-now")
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    assert refresh.job_refresh_now(job_id=job.pk) == "Refreshed: the job changed."
    job.refresh_from_db()
    # One version for the change, one for the outcome the open page then shows.
    assert job.progress == 70 and job.version == 2

    Account.objects.filter(pk=account.pk).update(
        lease_owner="a-loop", lease_until=timezone.now() + timedelta(seconds=30)
    )
    Job.objects.filter(pk=job.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    outcome = refresh.job_refresh_now(job_id=job.pk)
    job.refresh_from_db()
    assert job.next_poll_at <= timezone.now() and job.version == 3
    assert outcome.startswith("Refresh handed to the poller")
    notes = job.events.filter(kind="refresh").values_list("note", flat=True)
    assert list(notes) == ["Refreshed: the job changed.", outcome]


@pytest.mark.timeout(60)
def test_a_status_write_that_raises_is_recorded_on_the_job_and_the_pass_ends(
    simulator, accounts, monkeypatch
):
    # As PostgreSQL refused a NUL character once: the job stayed due, unmarked, and a
    # one-pass run asked about it again and again instead of ending.
    for external_id in ("ci-unstorable", "ci-fine"):
        simulator.add_job("tencent_ci", external_id, pinned="running")
    unstorable, fine = track(accounts["tencent_ci"], "ci-unstorable", "ci-fine")
    apply_status = services.job_apply_status

    def refuse(*, job_id, **kwargs):
        if job_id == unstorable.pk:
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")
        return apply_status(job_id=job_id, **kwargs)

    apply_statuses = services.jobs_apply_statuses

    def refuse_batch(*, statuses, **kwargs):
        if unstorable.pk in statuses:  # the batch's one write fails whole
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")
        return apply_statuses(statuses=statuses, **kwargs)

    monkeypatch.setattr(poll.services, "job_apply_status", refuse)
    monkeypatch.setattr(poll.services, "jobs_apply_statuses", refuse_batch)
    stats = refresh_once()

    assert stats["jobs"] == 2 and stats["requests"] == 1  # one batch, asked once
    unstorable.refresh_from_db()
    assert (unstorable.state, unstorable.version, unstorable.poll_errors) == (State.UNKNOWN, 0, 1)
    assert unstorable.last_poll_error == "StoreError: The answer could not be stored (DataError)."
    assert unstorable.next_poll_at > timezone.now()  # backs off like any failed poll
    assert Job.objects.get(pk=fine.pk).state == State.RUNNING  # the rest of the batch is kept
    assert Account.objects.get(pk=unstorable.account_id).lease_owner == ""

    Job.objects.filter(pk=unstorable.pk).update(next_poll_at=timezone.now())
    outcome = refresh.job_refresh_now(job_id=unstorable.pk)
    assert outcome == "Refresh failed: StoreError: The answer could not be stored (DataError)."


def test_refreshjobs_command(simulator, accounts, capsys):
    simulator.add_job("tencent_ci", "ci-cmd", pinned="failed")
    track(accounts["tencent_ci"], "ci-cmd")
    simulator.add_job("aliyun_ice", "ice-cmd", pinned="running")
    track(accounts["aliyun_ice"], "ice-cmd")
    call_command("refreshjobs", "--once", "--account", accounts["tencent_ci"].name)
    assert "polled 1 job(s) with 1 request(s)" in capsys.readouterr().out
    assert Job.objects.get(external_id="ci-cmd").state == State.FAILED
    assert Job.objects.get(external_id="ice-cmd").state == State.UNKNOWN


def test_refresh_loop_schedules_exist_once_per_loop(settings):
    from jobs.schedules import ensure_schedules

    ensure_schedules()
    ensure_schedules()
    schedules = Schedule.objects.filter(func="jobs.tasks.refresh_loop")
    assert schedules.count() == settings.CLAPBOARD_REFRESH_LOOPS == 2
    assert {s.schedule_type for s in schedules} == {Schedule.MINUTES}
    settings.CLAPBOARD_REFRESH_LOOPS = 1  # fewer loops configured: the extra one goes
    ensure_schedules()
    assert Schedule.objects.filter(func="jobs.tasks.refresh_loop").count() == 1


def test_vod_asks_for_details_only_where_the_state_listing_shows_a_change(simulator, accounts):
    account = accounts["tencent_vod"]
    ids = [f"vod-l{n}" for n in range(30)]
    sim_jobs = {i: simulator.add_job("tencent_vod", i, pinned="queued", owner=None) for i in ids}
    track(account, *ids)
    refresh_once()  # details are missing: one listing page plus a detail per task
    assert simulator.requests["tencent_vod"] == 1 + 30

    sim_jobs["vod-l7"].pinned = "running"
    sim_jobs["vod-l7"].pinned_progress = 10
    Job.objects.update(next_poll_at=timezone.now())
    refresh_once()  # a new loop takes a new listing
    assert simulator.requests["tencent_vod"] == 31 + 1 + 1  # a listing, one detail
    changed = Job.objects.get(external_id="vod-l7")
    assert (changed.state, changed.progress) == (State.RUNNING, 10)
    untouched = Job.objects.exclude(external_id="vod-l7")
    assert set(untouched.values_list("state", flat=True)) == {State.QUEUED}
    assert not untouched.filter(last_polled_at__lt=timezone.now() - timedelta(seconds=3)).exists()


def test_a_lone_loop_takes_accounts_beyond_its_share_when_no_other_loop_does(
    simulator, accounts, settings
):
    assert settings.CLAPBOARD_REFRESH_LOOPS == 2  # one of the two configured loops is missing
    for code, account in accounts.items():
        simulator.add_job(code, f"{code}-lone", pinned="running")
        track(account, f"{code}-lone")
    stats = RefreshLoop(seconds=7).run()
    assert stats["jobs"] >= len(accounts)
    assert not Job.objects.filter(last_polled_at__isnull=True).exists()
