"""bench/freshness.py's simulator (bench/freshness_sim.py): two tenants per cloud, each
set's `sim-…` jobs owned by its tenant, so a notified tenant's receiver hears only of its
own jobs; and the second tenant's credentials are ones Clapboard accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from bench.freshness_report import percentile
from bench.freshness_sim import BenchSimulator, second_credentials
from bench.world import simulated_account
from jobs.simulator.core import Simulator
from tests.receiver import Receiver
from tests.test_simulator_notify import wait_for


@pytest.fixture
def bench_simulator() -> Iterator[BenchSimulator]:
    sim = BenchSimulator()
    sim.add_set_tenants({})
    sim.start()
    yield sim
    sim.stop()


def test_a_sets_jobs_notify_only_its_tenants_receiver(bench_simulator, receiver: Receiver):
    sim = bench_simulator
    notified_key = second_credentials(sim.providers["tencent_ivh"].demo_credentials)["appkey"]
    requests.post(
        f"{sim.url}/_sim/notify",
        json={"provider": "tencent_ivh", "tenant": notified_key, "url": f"{receiver.url}/h/"},
        timeout=5,
    ).raise_for_status()
    # Born after watching began, so seen queued first (an older job would be news only
    # from its next change, and the clock jump below could come before the first look).
    created = int(time.time()) + 5
    ids = [f"sim-{created}-0-60-ok-n1", f"sim-{created}-0-60-ok-p1"]
    requests.post(
        f"{sim.url}/_sim/notify", json={"provider": "tencent_ivh", "watch": ids}, timeout=5
    ).raise_for_status()
    sim.clock_offset += 200  # both start and finish

    wait_for(lambda: receiver.requests)
    wait_for(lambda: len(sim.notifier.changes) >= 4)  # both jobs' starts and ends were seen
    assert [r.json()["Payload"]["TaskId"] for r in receiver.requests] == [ids[0]]
    bench = requests.get(f"{sim.url}/_sim/bench", timeout=5).json()
    assert bench["delivered"] == [
        {"provider": "tencent_ivh", "tenant": notified_key, "posts": [[ids[0], "succeeded"]]}
    ]
    assert set(bench["answered"]["tencent_ivh"]) == {
        notified_key,
        sim.providers["tencent_ivh"].demo_credentials["appkey"],
    }


def test_an_owned_job_is_hidden_from_the_other_sets_tenant(bench_simulator):
    sim = bench_simulator
    demo = sim.providers["tencent_ci"].demo_credentials
    polling = sim.tenants[("tencent_ci", demo["secret_id"])]
    notified = sim.tenants[("tencent_ci", second_credentials(demo)["secret_id"])]
    external_id = f"sim-{int(time.time())}-0-60-ok-n7"
    assert sim.find_job("tencent_ci", external_id, polling) is None
    assert sim.find_job("tencent_ci", external_id, notified) is not None


@pytest.mark.django_db
def test_the_second_tenants_credentials_make_valid_accounts():
    for code, sim in Simulator().providers.items():
        credentials = second_credentials(sim.demo_credentials)
        assert credentials[sim.key_field] != sim.demo_credentials[sim.key_field]
        account = simulated_account(code, name=f"second-{code}", credentials=credentials)
        assert account.pk


def test_percentile_is_nearest_rank():
    assert percentile([], 0.95) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


@pytest.mark.django_db
def test_loop_gaps_are_the_stretches_with_no_loop_running():
    from datetime import UTC, datetime

    from django_q.models import Task

    from bench.freshness_report import loop_gaps

    def loop(n: int, began: float, ended: float) -> None:
        Task.objects.create(
            id=f"loop{n}",
            name=f"loop {n}",
            func="jobs.tasks.refresh_loop",
            started=datetime.fromtimestamp(began, UTC),
            stopped=datetime.fromtimestamp(ended, UTC),
            success=True,
        )

    base = 1_800_000_000.0
    loop(1, base, base + 59)
    loop(2, base + 60, base + 125)  # outlasts the next one's start: a VOD round ending
    loop(3, base + 120, base + 179)
    loop(4, base + 181, base + 240)
    assert loop_gaps() == [(base + 59, base + 60), (base + 179, base + 181)]
