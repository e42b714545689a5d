"""The job search: a term anywhere in the task ID or the name, in any case, with exactly
the meaning of Django's `icontains` — and on SQLite served by the FTS5 trigram table that
triggers keep in step with the jobs (migration 0013)."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import search
from jobs.models import Job
from jobs.search import FTS_TABLE, SUBSTRING_MIN, fts_usable, match_expression, term_filter
from jobs.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table")

SYNTAX = ['say "hi"', "ab*", "a:b", "(x", "NEAR", "-x", "AND", 'a""b', "x OR y", "^st", "{c}"]


def found(term: str) -> set[str]:
    return set(term_filter(Job.objects.all(), term).values_list("external_id", flat=True))


def plain(term: str) -> set[str]:
    """What the search meant before any index: Django's icontains, or a prefix if short."""
    in_id = (
        Q(external_id__icontains=term)
        if len(term) >= SUBSTRING_MIN
        else Q(external_id=term) | Q(external_id__startswith=term)
    )
    return set(
        Job.objects.filter(in_id | Q(name__icontains=term)).values_list("external_id", flat=True)
    )


def job(account, external_id: str, name: str = "") -> Job:
    return Job.objects.create(account=account, external_id=external_id, name=name)


def test_a_term_matches_the_middle_of_a_name_or_an_id_in_any_case(accounts):
    vod = accounts["tencent_vod"]
    job(vod, "5285890784246869ef2094", "Morning show")
    job(vod, "vod-2", "Evening NEWS 42 replay")
    job(vod, "vod-3", "Weather")
    assert found("890784") == found("EF2094") == {"5285890784246869ef2094"}
    assert found("news 42") == found("ning NeWs") == {"vod-2"}
    assert found("eather") == {"vod-3"}
    assert found("nothing like this") == set()


def test_cjk_and_other_non_ascii_terms(accounts):
    vod = accounts["tencent_vod"]
    job(vod, "cjk-1", "新闻 42 晚间")
    job(vod, "cjk-2", "新闻联播")
    job(vod, "fr-1", "École du soir")
    job(vod, "emoji-1", "launch 🚀🚀 day")
    assert found("新闻 42") == {"cjk-1"}
    assert found("新闻联") == {"cjk-2"}
    assert found("🚀🚀 d") == {"emoji-1"}
    # SQLite's LIKE folds ASCII case only: the index must not widen that (nor narrow it).
    assert found("École") == plain("École") == {"fr-1"}
    assert found("école") == plain("école")


@pytest.mark.parametrize("term", SYNTAX)
def test_fts5_syntax_in_a_term_is_matched_literally(accounts, term):
    vod = accounts["tencent_vod"]
    job(vod, "hit", f"before {term} after")
    job(vod, "miss", "before after")
    assert found(term) == {"hit"}
    assert found(term.upper()) == plain(term.upper())


def test_fts5_syntax_never_errors_on_the_page_or_the_api(viewer_client, viewer, accounts):
    job(accounts["tencent_vod"], "vod-1", 'quote " star * colon : paren ( NEAR AND -x')
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=viewer, name='s')[1]}")
    for term in [*SYNTAX, '"', '""', '"""', "***", "NEAR(a b)", "a AND", "-", ":::", "( NE"]:
        assert viewer_client.get(reverse("job-list"), {"q": term}).status_code == 200, term
        assert api.get("/api/v1/jobs", {"q": term}).status_code == 200, term
    assert found('" star * c') == {"vod-1"}


def test_results_follow_updates_and_deletes(accounts):
    vod, ci = accounts["tencent_vod"], accounts["tencent_ci"]
    renamed = job(vod, "vod-1", "Quarterly results")
    doomed = job(vod, "vod-2", "Quarterly forecast")
    assert found("quarterly") == {"vod-1", "vod-2"}

    renamed.name = "Product demo"
    renamed.save()
    assert found("quarterly") == {"vod-2"} and found("duct de") == {"vod-1"}
    Job.objects.filter(pk=renamed.pk).update(external_id="moved-77")  # a bulk update
    assert found("vod-1") == set() and found("ved-7") == {"moved-77"}
    renamed.save(update_fields=["state"])  # not the text: the index is left alone
    assert found("duct de") == {"moved-77"}

    doomed.delete()
    assert found("quarterly") == set()
    job(ci, "ci-1", "Quarterly again")
    Job.objects.bulk_create([Job(account=ci, external_id="ci-2", name="quarterly bulk")])
    assert found("quarterly") == {"ci-1", "ci-2"}
    vod.delete()  # a cascade
    assert found("moved-77") == set() and found("ci-") == {"ci-1", "ci-2"}


def test_short_terms_match_ids_by_prefix_only(accounts):
    vod = accounts["tencent_vod"]
    job(vod, "s2a3f9", "x")
    job(vod, "as2", "x")
    job(vod, "other", "has s2 in its name")
    assert found("s2") == plain("s2") == {"s2a3f9", "other"}
    assert found("a3") == plain("a3") == set()  # not in the middle of an ID
    assert found("S2") == plain("S2")


NAME_CHARS = st.sampled_from(list('abAB zZ09-_%\\"*:()^.新闻é É ßİKK🚀') + ["NEAR", "AND"])
TEXT = st.lists(NAME_CHARS, max_size=12).map("".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(names=st.lists(TEXT, min_size=1, max_size=8), picks=st.data())
def test_same_results_as_a_plain_icontains(accounts, names, picks):
    vod = accounts["tencent_vod"]
    Job.objects.bulk_create(
        Job(account=vod, external_id=f"{n}-{text[::-1]}", name=text) for n, text in enumerate(names)
    )
    try:
        source = picks.draw(st.sampled_from(names))
        start = picks.draw(st.integers(0, len(source)))
        fragment = source[start : start + picks.draw(st.integers(1, 8))]
        swapped = fragment.swapcase()
        for term in (fragment, swapped, picks.draw(TEXT)):
            term = term.strip()
            if term:
                assert found(term) == plain(term), term
    finally:
        Job.objects.all().delete()


def plans(queries) -> list[str]:
    found = []
    for sql in queries:
        with connection.cursor() as cursor:
            found.append(" | ".join(row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql)))
    return found


@sqlite_only
def test_sqlite_serves_a_rare_term_from_the_trigram_table(viewer_client, accounts):
    assert fts_usable(connection.alias)
    job(accounts["tencent_vod"], "vod-1", "Evening news 42")
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(reverse("job-list"), {"q": "news 42"})
    assert response.status_code == 200 and len(response.context["rows"]) == 1
    searching = [q["sql"] for q in queries if "MATCH" in q["sql"]]
    reads = [sql for sql in searching if not sql.startswith("SELECT count(*)")]
    assert len(searching) == 3 and len(reads) == 2  # the page's probe, the counts, the page
    for plan in plans(reads):
        # Driven by the index: no scan of the jobs, nor of the newest-first index.
        assert plan.startswith("SCAN jobs_job_search VIRTUAL TABLE"), plan
        assert not re.search(r"\bSCAN jobs_job\b", plan), plan


@sqlite_only
def test_a_common_term_walks_the_newest_first_but_counts_from_the_index(
    viewer_client, accounts, monkeypatch
):
    monkeypatch.setattr(search, "DRIVE_MAX", 2)  # more candidates than that: "common"
    for n in range(5):
        job(accounts["tencent_vod"], f"vod-{n}", f"Evening news {n}")
    job(accounts["tencent_vod"], "vod-x", "Weather")
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get(reverse("job-list"), {"q": "NEWS"})
    assert [r.job.external_id for r in response.context["rows"]] == [
        f"vod-{n}" for n in reversed(range(5))
    ]
    assert {t["label"]: t["count"] for t in response.context["tabs"]}["All"] == 5
    counts, page = [q["sql"] for q in queries if "LIKE" in q["sql"]]
    assert "MATCH" in counts and "MATCH" not in page
    assert "USING INDEX job_recent" in plans([page])[0]


@sqlite_only
def test_without_the_trigram_table_the_search_scans_and_says_so(accounts, monkeypatch, caplog):
    job(accounts["tencent_vod"], "vod-1", "Evening news 42")
    monkeypatch.setattr(search, "_probed", threading.local())  # forget what was seen
    monkeypatch.setattr(search, "_warned", set())
    with connection.cursor() as cursor:  # rolled back with the test
        cursor.execute(f"DROP TABLE {FTS_TABLE}")
    with CaptureQueriesContext(connection) as queries:
        assert found("news 42") == found("ENING") == {"vod-1"}
    assert not [q for q in queries if "MATCH" in q["sql"]]
    assert [r.message for r in caplog.records].count(
        f"job search scans the jobs table: {FTS_TABLE} unusable (no such table: {FTS_TABLE})"
    ) == 1


def test_match_expression_quotes_every_trigram():
    assert match_expression("news") == '"new" AND "ews"'
    assert match_expression("news 42") == '"new" AND "s 4" AND " 42"'  # side by side
    assert match_expression('a"b"') == '"a""b" AND """b"""'
    assert match_expression("aaaa") == '"aaa"'
    assert match_expression("abcdefgh") == '"abc" AND "def" AND "fgh"'


@sqlite_only
def test_the_search_triggers_outlive_every_migration():
    # Django remakes an SQLite table to alter a column, and its triggers go with it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'jobs_job'")
        names = {name for (name,) in cursor.fetchall()}
    assert {f"{FTS_TABLE}_insert", f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update"} <= names


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_the_migration_indexes_the_jobs_that_exist(accounts):
    target = ("jobs", "0013_search_fts")
    executor = MigrationExecutor(connection)
    before = executor.loader.graph.node_map[target].parents
    executor.migrate([(parent.key) for parent in before])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = %s", [FTS_TABLE])
        assert cursor.fetchone() == (0,)  # the reverse migration dropped it
    # The model as it was then: later migrations add columns.
    old_job = executor.loader.project_state([p.key for p in before]).apps.get_model("jobs", "Job")
    old_job.objects.create(
        account_id=accounts["tencent_vod"].pk,
        external_id="older-5285",
        name="Made before the index",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert found("before the") == found("der-52") == {"older-5285"}
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
