"""`pk__among=ids` selects what `pk__in=ids` does, with one statement whatever the count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(accounts) -> list[Job]:
    account = accounts["tencent_ivh"]
    return Job.objects.bulk_create(
        Job(account=account, external_id=f"among-{n}", state="running") for n in range(30)
    )


def test_it_matches_in_for_filter_exclude_and_foreign_keys(jobs):
    pks = [job.pk for job in jobs]
    some = pks[3:17:2]
    assert set(Job.objects.filter(pk__among=some).values_list("pk", flat=True)) == set(some)
    assert set(Job.objects.exclude(pk__among=some).values_list("pk", flat=True)) == set(
        Job.objects.exclude(pk__in=some).values_list("pk", flat=True)
    )
    JobEvent.objects.bulk_create(JobEvent(job=job, state="running") for job in jobs[:5])
    events = JobEvent.objects.filter(job_id__among=pks[2:10])
    assert sorted(events.values_list("job_id", flat=True)) == pks[2:5]
    # Ids that no row has, and ids given as strings, change nothing.
    assert Job.objects.filter(pk__among=[*map(str, some), 10**12]).count() == len(some)


def test_none_matches_nothing_and_excluding_none_keeps_all(jobs):
    with CaptureQueriesContext(connection) as queries:
        assert list(Job.objects.filter(pk__among=[])) == []
    assert not queries.captured_queries  # as `__in=[]`: answered without asking
    assert Job.objects.exclude(pk__among=[]).count() == len(jobs)
    assert Job.objects.filter(pk__among=[]).update(state="failed") == 0


def test_the_statement_is_the_same_for_any_number_of_ids(jobs):
    pks = [job.pk for job in jobs]
    few = Job.objects.filter(pk__among=pks[:2]).values_list("pk")
    many = Job.objects.filter(pk__among=[*pks, *range(10**9, 10**9 + 5000)]).values_list("pk")
    (few_sql, few_params), (many_sql, many_params) = (
        query.query.get_compiler(using="default").as_sql() for query in (few, many)
    )
    assert few_sql == many_sql
    assert len(few_params) == len(many_params) == 1  # the ids travel as one value
    assert len(list(many)) == len(pks)


def test_a_non_integer_id_is_refused():
    with pytest.raises(ValueError):
        list(Job.objects.filter(pk__among=["1; DROP TABLE jobs_job"]))
