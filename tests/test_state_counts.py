"""The per-state counts behind the list's tabs stay exact without counting the jobs table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext

from jobs.models import Job, JobStateCount
from jobs.refresh import refresh_once

pytestmark = pytest.mark.django_db(transaction=True)


def fresh_counts() -> dict[tuple[int, str], int]:
    return {
        (row["account_id"], row["state"]): row["n"]
        for row in Job.objects.values("account_id", "state").annotate(n=Count("id"))
    }


def kept_counts() -> dict[tuple[int, str], int]:
    return {(c.account_id, c.state): c.count for c in JobStateCount.objects.filter(count__gt=0)}


def test_counts_follow_every_kind_of_write(simulator, accounts):
    for code, account in accounts.items():
        for n, phase in enumerate(("queued", "running", "succeeded", "failed")):
            simulator.add_job(code, f"{code}-{n}", pinned=phase)
            Job.objects.create(account=account, external_id=f"{code}-{n}")
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ci"], external_id=f"bulk-{n}", state="queued")
        for n in range(7)
    )
    assert kept_counts() == fresh_counts()

    refresh_once()  # the engine moves jobs between states
    assert kept_counts() == fresh_counts()
    assert JobStateCount.objects.filter(state="failed").aggregate(n=Sum("count"))["n"] == len(
        accounts
    )

    Job.objects.filter(state="queued").update(state="canceled")  # a bulk update
    doomed = list(
        Job.objects.filter(external_id__startswith="bulk-").values_list("pk", flat=True)[:3]
    )
    Job.objects.filter(pk__in=doomed).delete()
    Job.objects.filter(external_id="tencent_ci-1").update(account=accounts["tencent_vod"])
    assert kept_counts() == fresh_counts()

    accounts["aliyun_ice"].delete()  # a cascade
    assert kept_counts() == fresh_counts()


def test_the_list_reads_counts_without_counting_jobs(
    viewer_client, accounts, django_assert_max_num_queries
):
    Job.objects.bulk_create(
        Job(account=accounts["tencent_ivh"], external_id=f"j{n}", state=s)
        for n, s in enumerate(["failed"] * 3 + ["running"] * 2)
    )
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/")
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert tabs["Failed"] == 3 and tabs["Running"] == 2 and tabs["All"] == 5
    counting = [
        q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and '"jobs_job"' in q["sql"]
    ]
    assert counting == []
