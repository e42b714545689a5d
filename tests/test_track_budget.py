"""A Track paste is verified by the refresh engine within the account's rate budget,
measured where it counts: requests arriving at the simulator, over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest
from django.urls import reverse

from jobs.models import Account, Job
from jobs.providers.base import State
from jobs.refresh import refresh_once
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db(transaction=True)


def _record_arrivals(simulator, monkeypatch) -> list[float]:
    """Arrival times of provider requests at the fake cloud (not its /_sim/ helpers)."""
    arrivals: list[float] = []
    lock = threading.Lock()
    dispatch = simulator.dispatch

    def recording(request):
        if not request.path.startswith("/_sim/"):
            with lock:
                arrivals.append(time.monotonic())
        return dispatch(request)

    monkeypatch.setattr(simulator, "dispatch", recording)
    return arrivals


def _busiest_second(arrivals: list[float]) -> int:
    """The most requests that arrived within any one-second window."""
    arrivals = sorted(arrivals)
    start, best = 0, 0
    for end, at in enumerate(arrivals):
        while at - arrivals[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _paste(client, account: Account, ids: list[str]):
    return csrf_post(
        client, reverse("track"), {"account": str(account.code), "task_ids": "\n".join(ids)}
    )


def test_a_paste_is_verified_within_the_accounts_rate_limit(
    operator_client, simulator, accounts, monkeypatch
):
    account = accounts["tencent_ivh"]  # one request per ID, 10 requests/s by default
    assert account.effective_rate_limit == 10
    ids = [f"ivh-{n}" for n in range(60)]
    for external_id in ids:
        simulator.add_job("tencent_ivh", external_id, pinned="running")
    tenant = simulator.tenants[("tencent_ivh", account.credentials["appkey"])]
    tenant.rate_limit = 10  # the fake cloud throttles anything faster, as IVH would
    arrivals = _record_arrivals(simulator, monkeypatch)

    started = time.monotonic()
    response = _paste(operator_client, account, ids)
    during_request = len(arrivals)
    stats = refresh_once(account_names=[account.name])

    # Counted over the paste and its verification together, whoever sends the requests.
    # The budget spends 95 % of the limit; one request of slack covers arrival jitter on
    # a busy machine (the synchronous Track of old sent 23 in a second here).
    assert _busiest_second(arrivals) <= 11, _busiest_second(arrivals)
    assert (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) <= 10
    assert during_request == 0  # the web request spends none of the budget
    assert response.status_code == 302
    assert stats["errors"] == 0 and len(arrivals) == 60  # never throttled
    assert time.monotonic() - started >= 5.0  # 60 requests at 10/s cannot be faster
    assert Job.objects.filter(state=State.RUNNING).count() == 60
    assert "60 tracked" in operator_client.get(response["Location"]).content.decode()


def test_a_500_id_paste_returns_at_once_without_asking_the_provider(
    operator_client, simulator, accounts, monkeypatch
):
    arrivals = _record_arrivals(simulator, monkeypatch)
    started = time.monotonic()
    response = _paste(operator_client, accounts["tencent_ivh"], [f"t-{n}" for n in range(500)])
    elapsed = time.monotonic() - started
    assert response.status_code == 302 and elapsed < 3.0, elapsed
    assert arrivals == []
    assert Job.objects.count() == 500
    assert "Checked 0 of 500" in operator_client.get(response["Location"]).content.decode()
