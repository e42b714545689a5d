"""Importing jobs created outside Clapboard, against the simulator over real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import State
from jobs.refresh import discovery, refresh_once
from jobs.refresh.discovery import discovery_run
from jobs.services.usage import usage_last_hour
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)

SOURCES = ["tencent_vod", "tencent_ci", "huawei_metastudio"]
# A simulator phase and the state Clapboard shows for it share their name.
PHASES = {name: State(name) for name in ("queued", "running", "succeeded", "failed")}
PAGE = 5


def tenant_key(simulator, code: str) -> str:
    sim = simulator.providers[code]
    return sim.demo_credentials[sim.key_field]


def add_jobs(simulator, code: str, numbers: range, *, base: float) -> dict[str, State]:
    """Jobs created one second apart (so a page boundary is a creation time), owned by
    the demo tenant; returns {external id: the state they end in}."""
    made = {}
    for n in numbers:
        phase = list(PHASES)[n % len(PHASES)]
        external_id = f"{code}-d{n:03}"
        simulator.add_job(
            code,
            external_id,
            owner=tenant_key(simulator, code),
            pinned=phase,
            pinned_progress=40 if phase == "running" else None,
            created=base + n,
        )
        made[external_id] = PHASES[phase]
    return made


def enable(account: Account, **fields) -> Account:
    Account.objects.filter(pk=account.pk).update(discover=True, **fields)
    return Account.objects.get(pk=account.pk)


def listed_state(code: str, final: State) -> State:
    # A VOD summary cannot tell a FINISH that succeeded from one that failed.
    if code == "tencent_vod" and final.is_terminal:
        return State.UNKNOWN
    return final


@pytest.mark.parametrize("code", SOURCES)
def test_pages_are_imported_once_and_the_next_run_lists_only_new_jobs(simulator, accounts, code):
    base = time.time() - 3600
    expected = add_jobs(simulator, code, range(12), base=base)
    simulator.add_job(code, f"{code}-foreign", owner="someone-else", created=base)
    account = enable(accounts[code])

    assert discovery_run(page_size=PAGE) == {account.name: 12}
    assert simulator.requests[code] == 3  # 5 + 5 + 2
    jobs = {job.external_id: job for job in Job.objects.filter(account=account)}
    assert set(jobs) == set(expected)  # not the other tenant's job
    for external_id, job in jobs.items():
        assert job.state == listed_state(code, expected[external_id]), external_id
        assert job.created_at is not None and job.kind
        assert job.events.count() == 1
        if job.is_terminal:
            assert job.next_poll_at is None
        else:  # a list says less than a detail: polled right away
            assert job.next_poll_at <= timezone.now()
    account.refresh_from_db()
    assert account.discovered_at is not None and account.lease_owner == ""
    assert "more" not in account.discovery_cursor["position"]
    assert account.discovery_cursor["imported"] == 12

    # Nothing new: one request from where the last run stopped, nothing imported.
    assert discovery_run(page_size=PAGE) == {account.name: 0}
    assert simulator.requests[code] == 4

    added = add_jobs(simulator, code, range(100, 103), base=base)
    assert discovery_run(page_size=PAGE) == {account.name: 3}
    assert simulator.requests[code] == 5
    assert Job.objects.filter(account=account).count() == 15
    assert set(Job.objects.filter(account=account).values_list("external_id", flat=True)) == {
        *expected,
        *added,
    }
    assert Account.objects.get(pk=account.pk).discovery_cursor["imported"] == 15


@pytest.mark.parametrize("code", SOURCES)
def test_the_refresh_engine_completes_imported_jobs(simulator, accounts, code):
    expected = add_jobs(simulator, code, range(8), base=time.time() - 600)
    account = enable(accounts[code])
    discovery_run(page_size=PAGE)

    refresh_once(account_names=[account.name])

    for job in Job.objects.filter(account=account):
        assert job.state == expected[job.external_id], (job.external_id, job.last_poll_error)
        assert job.provider_state and job.poll_errors == 0
        if job.state == State.SUCCEEDED:
            assert job.media_url
        if job.state == State.FAILED:
            assert job.failure_code


@pytest.mark.parametrize("code", SOURCES)
def test_a_job_tracked_by_hand_is_not_imported_again(simulator, accounts, code):
    add_jobs(simulator, code, range(7), base=time.time() - 600)
    account = enable(accounts[code])
    by_hand = Job.objects.create(account=account, external_id=f"{code}-d003")

    assert discovery_run(page_size=PAGE) == {account.name: 6}
    assert Job.objects.filter(account=account).count() == 7
    assert Job.objects.get(account=account, external_id=f"{code}-d003").pk == by_hand.pk


@pytest.mark.parametrize("code", SOURCES)
def test_an_interrupted_run_resumes_from_the_saved_cursor(simulator, accounts, code):
    expected = add_jobs(simulator, code, range(12), base=time.time() - 600)
    account = enable(accounts[code])

    assert discovery_run(page_size=PAGE, max_pages=1) == {account.name: 5}
    saved = Account.objects.get(pk=account.pk).discovery_cursor
    assert saved["position"]["more"] is True

    simulator.inject("http_500", code, count=1)
    assert discovery_run(page_size=PAGE) == {account.name: 0}
    account.refresh_from_db()
    assert account.discovery_cursor == saved  # the failed page is asked again next time
    assert account.last_error and account.retry_at is None  # transient: no back-off

    assert discovery_run(page_size=PAGE) == {account.name: 7}
    assert simulator.requests[code] == 1 + 1 + 2  # the first page is not listed again
    assert Job.objects.filter(account=account).count() == len(expected)
    account.refresh_from_db()
    assert account.discovery_cursor["imported"] == 12 and account.consecutive_failures == 0
    assert usage_last_hour()[account.pk] == (4, 1)


def test_an_expired_vod_scroll_token_lists_the_pass_again(simulator, accounts):
    expected = add_jobs(simulator, "tencent_vod", range(7), base=time.time() - 600)
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    account = enable(
        accounts["tencent_vod"],
        discovery_cursor={"position": {"since": since, "page": "expired", "more": True}},
    )
    assert discovery_run(page_size=PAGE) == {account.name: 7}
    assert Job.objects.filter(account=account).count() == len(expected)
    assert Account.objects.get(pk=account.pk).last_error == ""


def test_a_permanent_error_backs_the_account_off(simulator, accounts):
    add_jobs(simulator, "tencent_ci", range(3), base=time.time() - 600)
    account = enable(accounts["tencent_ci"])
    simulator.inject("bad_signature", "tencent_ci", count=1)

    assert discovery_run(page_size=PAGE) == {account.name: 0}
    account.refresh_from_db()
    assert account.retry_at >= timezone.now() + timedelta(minutes=4)
    assert account.discovery_cursor == {} and account.discovered_at is None
    assert discovery_run(page_size=PAGE) == {}  # backing off
    assert simulator.requests["tencent_ci"] == 1


def test_list_windows_vod_72_hours_metastudio_a_month(simulator, accounts):
    now = time.time()
    add_jobs(simulator, "tencent_vod", range(2), base=now - 600)
    simulator.add_job("tencent_vod", "vod-too-old", pinned="succeeded", created=now - 73 * 3600)
    add_jobs(simulator, "huawei_metastudio", range(2), base=now - 20 * 86400)
    simulator.add_job(
        "huawei_metastudio", "ms-too-old", pinned="succeeded", created=now - 31 * 86400
    )
    enable(accounts["tencent_vod"])
    enable(accounts["huawei_metastudio"])

    assert discovery_run() == {"sim-tencent_vod": 2, "sim-huawei_metastudio": 2}
    assert not Job.objects.filter(external_id__endswith="too-old").exists()


def test_accounts_without_discovery_or_without_a_list_api_are_skipped(simulator, accounts):
    for code in accounts:
        simulator.add_job(code, f"{code}-skip", pinned="running")
    enable(accounts["tencent_ivh"])
    enable(accounts["aliyun_ice"])
    Account.objects.filter(pk=accounts["tencent_ci"].pk).update(discover=True, enabled=False)

    assert discovery_run() == {}
    assert simulator.requests == {} and not Job.objects.exists()


def test_an_account_a_refresh_loop_holds_waits_for_the_next_run(simulator, accounts):
    add_jobs(simulator, "huawei_metastudio", range(3), base=time.time() - 600)
    account = enable(
        accounts["huawei_metastudio"],
        lease_owner="refresh-loop",
        lease_until=timezone.now() + timedelta(seconds=30),
    )
    assert discovery_run() == {}
    assert simulator.requests == {}
    assert Account.objects.get(pk=account.pk).lease_owner == "refresh-loop"

    Account.objects.filter(pk=account.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert discovery_run() == {account.name: 3}


def test_the_rate_budget_is_respected(simulator, accounts):
    add_jobs(simulator, "tencent_ci", range(25), base=time.time() - 600)
    account = enable(accounts["tencent_ci"], rate_limit=2)
    tenant = simulator.tenants[("tencent_ci", tenant_key(simulator, "tencent_ci"))]
    tenant.rate_limit = 2  # the fake cloud throttles anything faster

    started = time.monotonic()
    assert discovery_run(page_size=PAGE) == {account.name: 25}
    assert time.monotonic() - started >= 1.9  # 5 requests at 2/s: 1 at once, then 4 × 0.5 s
    assert simulator.requests["tencent_ci"] == 5
    assert Account.objects.get(pk=account.pk).last_error == ""
    assert usage_last_hour()[account.pk] == (5, 0)


def test_two_concurrent_runs_import_each_job_once(simulator, accounts):
    expected = {
        code: add_jobs(simulator, code, range(12), base=time.time() - 600) for code in SOURCES
    }
    for code in SOURCES:
        enable(accounts[code])
    results = run_together(lambda: discovery_run(page_size=PAGE))

    for code in SOURCES:
        name = accounts[code].name
        assert sum(result.get(name, 0) for result in results) == 12
        jobs = Job.objects.filter(account=accounts[code])
        assert sorted(jobs.values_list("external_id", flat=True)) == sorted(expected[code])
    assert not Account.objects.exclude(lease_owner="").exists()


def test_the_unique_constraint_holds_even_without_the_lease(simulator, accounts):
    """Two imports of the same page at once (a lease that ran out mid-run): one job each."""
    add_jobs(simulator, "tencent_ci", range(30), base=time.time() - 600)
    account = accounts["tencent_ci"]
    statuses, _ = account.adapter().discover(cursor={}, limit=100)
    assert len(statuses) == 30

    def import_page() -> int:
        return discovery._import(account_id=account.pk, statuses=statuses, asked_at=timezone.now())

    counts = run_together(import_page)

    assert sum(counts) == 30
    assert Job.objects.filter(account=account).count() == 30
    assert not Job.objects.filter(account=account, version__gt=1).exists()


def test_the_accounts_page_shows_discovery_and_the_no_list_api_note(
    viewer_client, simulator, accounts
):
    add_jobs(simulator, "tencent_vod", range(4), base=time.time() - 600)
    enable(accounts["tencent_vod"])
    discovery_run()

    html = viewer_client.get(reverse("account-health")).content.decode()
    unlisted = [code for code in PROVIDERS if not provider_class(code).can_discover]
    assert unlisted  # IVH and ICE today
    assert html.count("no list API: jobs can only be tracked by task ID") == len(unlisted)
    row = html.split("sim-tencent_vod", 1)[1].split("</tr>", 1)[0]
    assert ">on</span>" in row and "4 imported" in row
    ci_row = html.split("sim-tencent_ci", 1)[1].split("</tr>", 1)[0]
    assert ">off</span>" in ci_row and "no list API" not in ci_row
    for code in unlisted:
        row = html.split(f"sim-{code}", 1)[1].split("</tr>", 1)[0]
        assert "no list API: jobs can only be tracked by task ID" in row


def test_a_refresh_loop_holding_the_account_runs_discovery_itself(simulator, accounts):
    """Refresh loops hold busy accounts most of every minute; discovery rides along."""
    from jobs.refresh import RefreshLoop

    account = accounts["huawei_metastudio"]
    Account.objects.filter(pk=account.pk).update(discover=True)
    simulator.add_job("huawei_metastudio", "ms-held", pinned="running")
    Job.objects.create(account=account, external_id="ms-held")  # keeps the loop busy
    for n in range(3):
        simulator.add_job("huawei_metastudio", f"ms-outside-{n}", pinned="running")
    RefreshLoop(seconds=2).run()
    imported = set(Job.objects.filter(account=account).values_list("external_id", flat=True))
    assert {f"ms-outside-{n}" for n in range(3)} <= imported
