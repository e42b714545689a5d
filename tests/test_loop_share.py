"""Several refresh loops split the work in requests due, not in accounts."""

from __future__ import annotations

from jobs.models import Job
from jobs.refresh import RefreshLoop


def test_the_loop_holding_a_heavy_account_takes_nothing_else_and_the_other_takes_the_rest(
    accounts,
):
    # IVH asks one job per request: 40 requests. Each other account has two jobs (one or
    # two requests). Counting accounts, the first loop took three of the five and the
    # second two, so one core did nearly all the work.
    for code, account in accounts.items():
        for n in range(40 if code == "tencent_ivh" else 2):
            Job.objects.create(account=account, external_id=f"{code}-{n}")
    first, second = RefreshLoop(loops=2), RefreshLoop(loops=2)
    try:
        first.claim()
        second.claim()
        heavy = accounts["tencent_ivh"].pk
        holder, other = (first, second) if heavy in first.runs else (second, first)
        assert set(holder.runs) == {heavy}
        assert set(other.runs) == {a.pk for a in accounts.values()} - {heavy}
    finally:
        first.release()
        second.release()
