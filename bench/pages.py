"""Benchmark the operator pages against 10k, 100k and 1M jobs, and the admin beside them.

    .venv/bin/python bench/pages.py [--db sqlite|postgres|both] [--sizes 10000,100000,1000000]
                                    [--repeat 25] [--term news] [--keep]
    .venv/bin/python bench/pages.py --reuse DATABASE_URL [--repeat 25]

`--keep` keeps the database (and prints the URL); `--reuse` measures such a kept database
as it is now, after `migrate` and ANALYZE, at its one size and without generating
anything: the quick way to see what a new index or counter does at 1M jobs.

What it does, per database (`both`, the default, runs SQLite then PostgreSQL, each in a
child process of its own since Django binds one database per process):

1. A fresh database: an SQLite file in a temp dir, or PostgreSQL `clapboard_pages`
   (dropped and created), migrated with `migrate`, with `dashboard.settings_test`.
2. Five accounts, one per provider (the simulators' demo credentials), a superuser, and
   one special job with 1,000 events, 2,000 IVH word timings and subtitles, for (d).
3. Jobs grown in steps up to each size: `Job.objects.bulk_create(batch_size=5000)` with a
   mix of states (succeeded 60 %, failed 12 %, running 10 %, queued 10 %, canceled 5 %,
   paused 2 %, unknown 1 %), names like "Evening news 123", tracked over 30 days, the
   provider's failure codes on failed jobs and IVH word timings on 5 % of all jobs; then
   5 to 15 events per job (10 on average) with one set-based `INSERT ... SELECT` per
   100,000 jobs (generate_series on PostgreSQL, a recursive CTE on SQLite); then
   ANALYZE. Every part is timed.
4. At each size, in-process with the Django test client logged in as the superuser,
   3 warm-up requests then `--repeat` timed ones per page, and one more under
   CaptureQueriesContext for the query count (each captured query is then run again
   alone, to its last row, for its time):
     (a) the job list, first page, no filter
     (b) the list filtered by state=failed and the search term (`--term`, default "news":
         one job in eight, so the first page is full at every size)
     (b2) the same with a rare term, "news 42" (informational, no target)
     (c) an HTMX poll of the list when nothing changed (must answer 204)
     (d) the detail of the special job
     (e) the Django admin changelist of jobs, its first page (100 rows, the default)
5. A table per size, the growth from the smallest to the largest size, PASS/FAIL per
   target, EXPLAIN (ANALYZE, BUFFERS on PostgreSQL) of the job queries of (a) and (b) at
   the largest size, a cProfile of (a), (d) and (e), and last one JSON line with every
   number (and the commit and file hashes measured: others may edit the app meanwhile).

Timings are wall-clock in one process; the test client bypasses the network and keeps
its database connection open between requests (CONN_MAX_AGE does not apply), and the
template rendering instrumentation of the test runner is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import html
import io
import json
import os
import pstats
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

from bench.refresh import account_name, simulated_account  # noqa: E402 - after the path fix

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = os.environ.get("CLAPBOARD_PAGES_PG_NAME", "clapboard_pages")  # dropped, created
BATCH = 5000
EVENT_CHUNK = 100_000  # jobs per INSERT ... SELECT of events
WARMUP = 3
RARE_TERM = "news 42"

# (state, weight in %)
STATE_MIX = (
    ("succeeded", 60),
    ("failed", 12),
    ("running", 10),
    ("queued", 10),
    ("canceled", 5),
    ("paused", 2),
    ("unknown", 1),
)
TERMINAL = {"succeeded", "failed", "canceled"}
NAMES = (
    "Evening news",
    "Product demo",
    "Weather report",
    "Lesson",
    "Quarterly results",
    "Onboarding video",
    "Trailer cut",
    "Podcast episode",
)
WORD_SHARE = 0.05  # of all jobs, put on IVH jobs that succeeded
VOCABULARY = (
    "the quick brown fox jumps over a lazy dog while our anchor reads tonight's headlines "
    "markets rallied after the central bank held rates steady and analysts expect growth "
    "weather turns cold in the north with snow on higher ground by the weekend"
).split()
# Targets from the issue.
TARGET_GROWTH = 2.0
TARGET_POLL_MS = 5.0
TARGET_LIST_MS = 50.0
TARGET_ADMIN_RATIO = 0.5
FILES = (
    "dashboard/jobs/views.py",
    "dashboard/jobs/forms.py",
    "dashboard/jobs/presenters.py",
    "jobs/selectors.py",
    "jobs/models.py",
    "jobs/admin.py",
    "templates/jobs/list.html",
    "templates/jobs/detail.html",
    "templates/jobs/_media.html",
)


# --- environment ----------------------------------------------------------------------


def prepare_database(db: str, data_dir: Path) -> str:
    """A fresh, empty database; returns its DATABASE_URL."""
    if db == "sqlite":
        return f"sqlite:///{data_dir / 'bench.sqlite3'}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_NAME}")
    return f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"


def drop_database(db: str) -> None:
    if db != "postgres":
        return
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


def setup_django(database_url: str, data_dir: Path) -> None:
    for inherited in ("REDIS_URL", "CLAPBOARD_ENCRYPTION_KEY_FILE", "SECRET_KEY_FILE"):
        os.environ.pop(inherited, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings_test",
        DATABASE_URL=database_url,
        CLAPBOARD_DATA_DIR=str(data_dir),
        DEBUG="false",
        ALLOWED_HOSTS="testserver",  # what the test client sends
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


def code_fingerprint() -> dict[str, str]:
    """Which version of the app code was measured (others edit it while this runs): the
    commit (read-only `git rev-parse`) and a hash of each file the pages depend on."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {"HEAD": head or "?"} | {
        name: hashlib.sha256((ROOT / name).read_bytes()).hexdigest()[:12]
        for name in FILES
        if (ROOT / name).exists()
    }


# --- data -----------------------------------------------------------------------------


@dataclass
class Provider:
    account: Any
    code: str
    kinds: tuple[str, ...]
    failures: tuple[tuple[str, str], ...]
    can_cancel: bool


def create_world() -> tuple[list[Provider], Any]:
    from django.contrib.auth import get_user_model

    from jobs.providers import PROVIDERS

    providers = []
    for code in PROVIDERS:
        simulated = import_module(f"jobs.simulator.{code}").Simulator
        account = simulated_account(code, name=account_name(code))
        providers.append(
            Provider(
                account,
                code,
                tuple(simulated.demo_kinds),
                tuple(simulated.failure_codes),
                simulated.can_cancel,
            )
        )
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", None)
    return providers, user


def word_payload(rng: random.Random, n_words: int, per_sentence: int = 14) -> list[dict]:
    """IVH-style word timings: sentences of [word, start_ms, end_ms]."""
    sentences, words, t = [], [], 0
    for i in range(n_words):
        start = t + rng.randint(20, 120)
        end = start + rng.randint(150, 600)
        t = end
        words.append([rng.choice(VOCABULARY), start, end])
        if len(words) == per_sentence or i == n_words - 1:
            sentences.append({"text": " ".join(w[0] for w in words) + ".", "words": words})
            words = []
    return sentences


def srt_for(sentences: list[dict]) -> str:
    def stamp(ms: int) -> str:
        return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02},{ms % 1000:03}"

    blocks = []
    for number, sentence in enumerate(sentences, 1):
        start, end = sentence["words"][0][1], sentence["words"][-1][2]
        blocks.append(f"{number}\n{stamp(start)} --> {stamp(end)}\n{sentence['text']}\n")
    return "\n".join(blocks)


def make_job(seq: int, rng: random.Random, providers: list[Provider], now: datetime) -> Any:
    from jobs.models import Job

    provider = providers[seq % len(providers)]
    state = rng.choices([s for s, _ in STATE_MIX], weights=[w for _, w in STATE_MIX])[0]
    if state == "canceled" and not provider.can_cancel:
        state = "failed" if rng.random() < 0.5 else "succeeded"
    tracked = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
    created = None if rng.random() < 0.03 else tracked - timedelta(seconds=rng.uniform(0, 120))
    queue_wait = timedelta(seconds=rng.uniform(5, 900))
    run = rng.randint(10_000, 900_000)
    job = Job(
        account=provider.account,
        external_id=f"{provider.code[:3]}-{seq:08d}-{rng.getrandbits(48):012x}",
        kind=rng.choice(provider.kinds),
        name=f"{NAMES[seq % len(NAMES)]} {seq}",
        state=state,
        provider_state=state.upper(),
        tracked_at=tracked,
        created_at=created,
        next_poll_at=None if state in TERMINAL else now + timedelta(seconds=rng.randint(5, 120)),
        raw={
            "TaskId": f"{seq}",
            "Status": state.upper(),
            "RequestId": f"{rng.getrandbits(64):016x}",
            "Input": {"Template": rng.randint(1, 40), "Region": "ap-guangzhou"},
        },
        version=5 + (seq * 7) % 11,
    )
    started = (created or tracked) + queue_wait
    if state == "queued":
        job.queue_position = rng.randint(1, 500)
    elif state in ("running", "paused"):
        job.started_at = started
        job.progress = None if rng.random() < 0.1 else rng.randint(0, 99)
    elif state in TERMINAL:
        job.started_at = started
        job.finished_at = started + timedelta(milliseconds=run)
        if state == "succeeded":
            job.progress = 100
            job.duration_ms = run
            job.media_url = f"https://media.example.com/{provider.code}/{seq}.mp4"
            job.cover_url = f"https://media.example.com/{provider.code}/{seq}.jpg"
        elif state == "failed":
            job.failure_code, job.failure_message = rng.choice(provider.failures)
    if state not in TERMINAL:
        job.last_polled_at = now - timedelta(seconds=rng.uniform(0, 60))
        if rng.random() < 0.01:
            job.poll_errors = rng.randint(1, 5)
            job.last_poll_error = "timeout after 10 s"
    else:
        job.last_polled_at = job.finished_at
    if state == "unknown" and rng.random() < 0.3:
        job.stopped_reason = "the provider no longer knows this task"
    return job


def add_jobs(
    start: int, count: int, providers: list[Provider], word_pool: list[list[dict]]
) -> float:
    """Jobs start..start+count-1; returns the seconds spent in bulk_create itself."""
    from jobs.models import Job

    inserting = 0.0
    rng = random.Random(start)
    now = datetime.now(UTC)
    ivh_share = sum(p.code == "tencent_ivh" for p in providers) / len(providers)
    word_chance = WORD_SHARE / (ivh_share * 0.6)  # IVH jobs that succeeded
    for offset in range(0, count, BATCH):
        batch = []
        for seq in range(start + offset, start + min(count, offset + BATCH)):
            job = make_job(seq, rng, providers, now)
            if (
                job.state == "succeeded"
                and job.account.provider == "tencent_ivh"
                and rng.random() < word_chance
            ):
                job.words = rng.choice(word_pool)
            batch.append(job)
        t0 = time.perf_counter()
        Job.objects.bulk_create(batch, batch_size=BATCH)
        inserting += time.perf_counter() - t0
    return inserting


EVENT_COLUMNS = (
    "job_id, at, state, provider_state, progress, queue_position, failure_code, "
    "failure_message, note, kind"
)
# From the per-event rows `e` (job_id, at, st, k, n, final, fc, fm): a queued start, a
# run with progress, and the job's own state last; queued jobs only ever queued. All are
# status events (kind ""): raw SQL gets no model default.
EVENT_SELECT = f"""
INSERT INTO jobs_jobevent ({EVENT_COLUMNS})
{{cte}}
SELECT e.job_id, e.at, e.st, UPPER(e.st),
       CASE WHEN e.st = 'running' THEN ((e.k - 1) * 100) / (e.n - 1)
            WHEN e.st = 'succeeded' THEN 100 END,
       CASE WHEN e.st = 'queued' THEN (e.n - e.k + 1) * 7 END,
       CASE WHEN e.k = e.n AND e.final = 'failed' THEN e.fc ELSE '' END,
       CASE WHEN e.k = e.n AND e.final = 'failed' THEN e.fm ELSE '' END,
       '', ''
FROM (
  SELECT j.id AS job_id, {{at}} AS at,
         CASE WHEN j.state = 'queued' OR s.k = 1 THEN 'queued'
              WHEN s.k = j.n THEN j.state ELSE 'running' END AS st,
         s.k AS k, j.n AS n, j.state AS final, j.failure_code AS fc, j.failure_message AS fm
  FROM (SELECT id, state, tracked_at, failure_code, failure_message,
               5 + (id * 7) %% 11 AS n
        FROM jobs_job WHERE id > %s AND id <= %s) j
  {{series}}
) e
"""
EVENT_SQL = {
    "postgresql": EVENT_SELECT.format(
        cte="",
        at="j.tracked_at + make_interval(secs => s.k * 30)",
        series="CROSS JOIN LATERAL generate_series(1, j.n) AS s(k)",
    ),
    "sqlite": EVENT_SELECT.format(
        cte="WITH RECURSIVE seq(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM seq WHERE k < 15)",
        at="strftime('%%Y-%%m-%%d %%H:%%M:%%f', j.tracked_at, '+' || (s.k * 30) || ' seconds')",
        series="JOIN seq s ON s.k <= j.n",
    ),
}


def add_events(after_id: int, last_id: int) -> int:
    """Events for jobs after_id < id <= last_id, set-based; returns how many."""
    from django.db import connection, transaction

    sql = EVENT_SQL[connection.vendor]
    total = 0
    for lo in range(after_id, last_id, EVENT_CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [lo, min(last_id, lo + EVENT_CHUNK)])
            total += cursor.rowcount
    return total


def create_special_job(providers: list[Provider]) -> Any:
    """The job for (d): 1,000 events, 2,000 words, subtitles; IVH, succeeded."""
    from jobs.models import Job, JobEvent

    rng = random.Random(7)
    ivh = next(p for p in providers if p.code == "tencent_ivh")
    words = word_payload(rng, 2000, per_sentence=40)
    now = datetime.now(UTC)
    start = now - timedelta(days=2)
    job = Job.objects.create(
        account=ivh.account,
        external_id="ivh-special-1000-events",
        kind="videomaker",
        name="Evening news special: 1,000 events",
        state="succeeded",
        provider_state="SUCCESS",
        progress=100,
        created_at=start,
        started_at=start + timedelta(minutes=5),
        finished_at=start + timedelta(hours=20),
        tracked_at=start,
        duration_ms=words[-1]["words"][-1][2],
        media_url="https://media.example.com/ivh/special.mp4",
        cover_url="https://media.example.com/ivh/special.jpg",
        words=words,
        subtitles=srt_for(words),
        raw={"TaskId": "special", "Status": "SUCCESS"},
        next_poll_at=None,
        version=1000,
    )
    events = []
    for k in range(1000):
        state = "queued" if k < 100 else "running" if k < 999 else "succeeded"
        events.append(
            JobEvent(
                job=job,
                at=start + timedelta(seconds=72 * k),
                state=state,
                provider_state=state.upper(),
                progress=(k - 100) * 100 // 900 if state == "running" else None,
                queue_position=100 - k if state == "queued" else None,
                note="re-queued by the provider" if k % 97 == 0 else "",
            )
        )
    JobEvent.objects.bulk_create(events, batch_size=BATCH)
    return job


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")


def table_sizes() -> dict[str, float]:
    """MB on disk: per table on PostgreSQL (with indexes and TOAST), the file on SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relname IN ('jobs_job', 'jobs_jobevent')"
            )
            return {name: round(size / 2**20, 1) for name, size in cursor.fetchall()}
    path = Path(connection.settings_dict["NAME"])
    return {"file": round(path.stat().st_size / 2**20, 1)}


def grow(
    target: int, have: int, providers: list[Provider], word_pool: list[list[dict]]
) -> dict[str, float]:
    from django.db.models import Max

    from jobs.models import Job, JobEvent

    last_before = Job.objects.aggregate(n=Max("id"))["n"] or 0
    t0 = time.perf_counter()
    inserting = add_jobs(have, target - have, providers, word_pool)
    t1 = time.perf_counter()
    last = Job.objects.aggregate(n=Max("id"))["n"]
    n_events = add_events(last_before, last)
    t2 = time.perf_counter()
    analyze()
    t3 = time.perf_counter()
    return {
        "jobs_added": target - have,
        "jobs_s": round(t1 - t0, 1),
        "jobs_per_s": round((target - have) / max(t1 - t0, 1e-9)),
        "jobs_bulk_create_s": round(inserting, 1),
        "events_added": n_events,
        "events_s": round(t2 - t1, 1),
        "events_per_s": round(n_events / max(t2 - t1, 1e-9)),
        "analyze_s": round(t3 - t2, 1),
        "total_s": round(t3 - t0, 1),
        "events_total": JobEvent.objects.count(),
    }


# --- measuring ------------------------------------------------------------------------


@dataclass
class Measure:
    page: str
    url: str
    status: int
    median_ms: float
    p90_ms: float
    min_ms: float
    queries: int
    sql_ms: float
    rows: int
    bytes: int
    sql: list[tuple[float, str]] = field(default_factory=list)


def timed_get(client: Any, url: str, headers: dict[str, str]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    response = client.get(url, headers=headers)
    return (time.perf_counter() - t0) * 1000, response


def measure(
    client: Any, page: str, url: str, repeat: int, expect: int, headers: dict[str, str]
) -> Measure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(WARMUP):
        _, response = timed_get(client, url, headers)
        if response.status_code != expect:
            raise SystemExit(f"{page}: {url} answered {response.status_code}, not {expect}")
    times = []
    for _ in range(repeat):
        ms, response = timed_get(client, url, headers)
        if response.status_code != expect:
            raise SystemExit(f"{page}: {url} answered {response.status_code}, not {expect}")
        times.append(ms)
    with CaptureQueriesContext(connection) as ctx:
        _, response = timed_get(client, url, headers)
    times.sort()
    body = response.content.decode()
    sql = [(rerun_ms(q["sql"]), q["sql"]) for q in ctx.captured_queries]
    return Measure(
        page=page,
        url=url,
        status=response.status_code,
        median_ms=round(statistics.median(times), 2),
        p90_ms=round(times[min(len(times) - 1, int(len(times) * 0.9))], 2),
        min_ms=round(times[0], 2),
        queries=len(ctx.captured_queries),
        sql_ms=round(sum(ms for ms, _ in sql), 2),
        rows=body.count('<tr id="job-') + body.count('name="_selected_action"'),
        bytes=len(response.content),
        sql=sql,
    )


def rerun_ms(sql: str) -> float:
    """One captured query run again to its last row, in ms.

    Timing `execute()` inside the request would undercount on SQLite, whose cursor
    computes rows lazily while they are fetched (a GROUP BY walking an index returns its
    first group early). A server-side cursor's DECLARE is run as its plain SELECT."""
    from django.db import connection

    match = re.match(r"DECLARE .*? CURSOR WITH(?:OUT)? HOLD FOR (.*)", sql, re.S)
    sql = match.group(1) if match else sql
    if not sql.lstrip().upper().startswith("SELECT"):
        return 0.0
    with connection.cursor() as cursor:
        t0 = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        return (time.perf_counter() - t0) * 1000


def live_url(client: Any) -> str:
    """The poll URL the list page hands to htmx (its token holds the current minute)."""
    if time.time() % 60 > 50:  # keep the whole (c) series inside one minute
        time.sleep(61 - time.time() % 60)
    response = client.get("/", headers={"HX-Request": "true"})
    match = re.search(r'id="job-live"[^>]*hx-get="([^"]*)"', response.content.decode())
    if response.status_code != 200 or not match:
        raise SystemExit("the list partial has no hx-get poll URL")
    return "/" + html.unescape(match.group(1))


def measure_all(client: Any, special_code: str, repeat: int, term: str) -> dict[str, Measure]:
    from urllib.parse import urlencode

    hx = {"HX-Request": "true"}
    results = {
        "a": measure(client, "a", "/", repeat, 200, {}),
        "b": measure(
            client, "b", "/?" + urlencode({"state": "failed", "q": term}), repeat, 200, {}
        ),
        "b2": measure(
            client, "b2", "/?" + urlencode({"state": "failed", "q": RARE_TERM}), repeat, 200, {}
        ),
    }
    results["c"] = measure(client, "c", live_url(client), repeat, 204, hx)
    results["d"] = measure(client, "d", f"/jobs/{special_code}/", repeat, 200, {})
    results["e"] = measure(client, "e", "/admin/jobs/job/", repeat, 200, {})
    return results


# --- plans and profiles ---------------------------------------------------------------


def is_job_query(sql: str) -> bool:
    return "jobs_" in sql and sql.lstrip().upper().startswith("SELECT")


def is_count_query(sql: str) -> bool:
    upper = sql.upper()
    return "COUNT(" in upper or "SUM(" in upper or "GROUP BY" in upper


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return "\n".join(f"{row[0]}/{row[1]} {row[3]}" for row in cursor.fetchall())


def rows_read_from_jobs(sql: str) -> tuple[int, list[str]]:
    """Rows the plan reads from jobs_job (PostgreSQL), and the scan node types."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    total, kinds = 0, []

    def walk(node: dict) -> None:
        nonlocal total
        if node.get("Relation Name") == "jobs_job":
            loops = node.get("Actual Loops", 1)
            total += int(
                (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
            )
            kinds.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total, kinds


def counts_scan_jobs(m: Measure, n_jobs: int) -> tuple[bool, list[str]]:
    """Whether a counting query of the page reads (a large part of) the jobs table."""
    from django.db import connection

    scans, notes = False, []
    for _, sql in m.sql:
        if not (is_job_query(sql) and is_count_query(sql)):
            continue
        if connection.vendor == "postgresql":
            read, kinds = rows_read_from_jobs(sql)
            scanned = read > max(1000, n_jobs // 10)
            notes.append(f"{read} job rows read via {', '.join(kinds) or 'no jobs_job node'}")
        else:
            plan = explain(sql)
            scanned = bool(re.search(r"\bSCAN (jobs_job|j)\b", plan))
            notes.append(plan.replace("\n", " | "))
        scans = scans or scanned
    return scans, notes


def profile(client: Any, url: str, headers: dict[str, str], top: int = 12) -> str:
    """Where one request's time goes: SQL, template rendering, the rest; top functions."""
    client.get(url, headers=headers)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    client.get(url, headers=headers)
    profiler.disable()
    wall = (time.perf_counter() - t0) * 1000
    stats = pstats.Stats(profiler)
    entries = stats.stats  # type: ignore[attr-defined]

    def cumulative(path_end: str, name: str, *, total: bool = False) -> float:
        found = [
            ct
            for (path, _, func), (_, _, _, ct, _) in entries.items()
            if path.endswith(path_end) and func == name
        ]
        return 1000 * (sum(found) if total else max(found, default=0.0))

    everything = 1000 * max(ct for (_, _, _, ct, _) in entries.values())
    sql = cumulative("django/db/backends/utils.py", "_execute", total=True)
    render = cumulative("django/template/backends/django.py", "render")
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return (
        f"profiled {everything:.1f} ms (wall {wall:.1f} ms with the profiler): "
        f"SQL execute {sql:.1f} ms, template render {render:.1f} ms (any SQL run from "
        "the template counts in both)\n"
        + "\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:])
    )


# --- one database ---------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return f"{value:8.2f}"


def print_size_table(db: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n=== {db}: pages (ms; median / p90 of the timed runs; q = SQL queries) ===")
    head = f"{'jobs':>9} {'gen s':>7}"
    for page in ("a", "b", "b2", "c", "d", "e"):
        head += f" | {page + ' med':>8} {'p90':>8} {'q':>3}"
    print(head)
    for row in rows:
        line = f"{row['size']:>9} {row['generation'].get('total_s', 0):>7.1f}"
        for page in ("a", "b", "b2", "c", "d", "e"):
            m = row["pages"][page]
            line += f" | {fmt_ms(m['median_ms'])} {fmt_ms(m['p90_ms'])} {m['queries']:>3}"
        print(line)
    print("\nSQL time of each page (its queries run again alone, ms) and rows shown:")
    for row in rows:
        parts = [
            f"{p}: sql {row['pages'][p]['sql_ms']:.1f} of {row['pages'][p]['median_ms']:.1f}"
            f", {row['pages'][p]['rows']} rows"
            for p in ("a", "b", "b2", "d", "e")
        ]
        print(f"{row['size']:>9}  " + "; ".join(parts))
    print("\nGeneration (bulk_create of jobs, INSERT ... SELECT of events, ANALYZE):")
    for row in rows:
        g = row["generation"]
        if not g:
            print(f"{row['size']:>9}  reused database, nothing generated; size {row['disk_mb']} MB")
            continue
        print(
            f"{row['size']:>9}  +{g['jobs_added']} jobs {g['jobs_s']} s ({g['jobs_per_s']}/s, "
            f"{g.get('jobs_bulk_create_s', '?')} s of it in bulk_create), "
            f"+{g['events_added']} events {g['events_s']} s ({g['events_per_s']}/s), "
            f"analyze {g['analyze_s']} s; {g['events_total']} events in all; "
            f"size {row['disk_mb']} MB; load average {row['loadavg']} on {os.cpu_count()} CPUs"
        )


def evaluate(db: str, rows: list[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    first, last = rows[0], rows[-1]
    span = f"{first['size']}→{last['size']}"
    verdicts: list[tuple[str, bool | None, str]] = []
    counts = {p: [r["pages"][p]["queries"] for r in rows] for p in ("a", "b", "c", "d")}
    verdicts.append(
        (
            "query count of (a)-(d) constant",
            all(len(set(v)) == 1 for v in counts.values()),
            ", ".join(f"{p}: {v}" for p, v in counts.items()),
        )
    )
    growth = {
        p: last["pages"][p]["median_ms"] / max(first["pages"][p]["median_ms"], 1e-9)
        for p in ("a", "b", "b2", "c", "d", "e")
    }
    verdicts.append(
        (
            f"(a)-(c) grow < {TARGET_GROWTH:g}x, {span}",
            all(growth[p] < TARGET_GROWTH for p in ("a", "b", "c")) if len(rows) > 1 else None,
            ", ".join(f"{p}: {growth[p]:.2f}x" for p in growth),
        )
    )
    a, e = last["pages"]["a"]["median_ms"], last["pages"]["e"]["median_ms"]
    verdicts.append(
        (
            f"(a) <= {TARGET_ADMIN_RATIO:g} x (e) at {last['size']}",
            a <= TARGET_ADMIN_RATIO * e,
            f"(a)/(e) = {a:.1f}/{e:.1f} = {a / e:.2f}; per size: "
            + ", ".join(
                f"{r['size']}: {r['pages']['a']['median_ms'] / r['pages']['e']['median_ms']:.2f}"
                for r in rows
            ),
        )
    )
    polls = [r["pages"]["c"]["median_ms"] for r in rows]
    verdicts.append(
        (
            f"(c) median < {TARGET_POLL_MS:g} ms (every size)",
            max(polls) < TARGET_POLL_MS,
            ", ".join(f"{v:.2f}" for v in polls),
        )
    )
    ab = (last["pages"]["a"]["median_ms"], last["pages"]["b"]["median_ms"])
    verdicts.append(
        (
            f"(a), (b) median < {TARGET_LIST_MS:g} ms at {last['size']}"
            + ("" if db == "postgres" else " (a PostgreSQL target; informational here)"),
            max(ab) < TARGET_LIST_MS if db == "postgres" else None,
            f"a {ab[0]:.1f} ms, b {ab[1]:.1f} ms",
        )
    )
    scans = [r["counts_scan"] for r in rows]
    verdicts.append(
        (
            "per-state counts of (a) do not scan jobs_job",
            not any(s["scans"] for s in scans),
            "; ".join(
                f"{r['size']}: {r['counts_scan']['notes'] or 'no count query'}" for r in rows
            )[:600],
        )
    )
    return verdicts


def measure_size(
    db: str,
    client: Any,
    special_code: str,
    size: int,
    repeat: int,
    term: str,
    generation: dict[str, Any] | None,
) -> dict[str, Any]:
    pages = measure_all(client, special_code, repeat, term)
    scans, notes = counts_scan_jobs(pages["a"], size)
    print(
        f"# {db} {size}: "
        + ", ".join(f"{p} {m.median_ms:.2f} ms/{m.queries} q" for p, m in pages.items()),
        flush=True,
    )
    return {
        "size": size,
        "generation": generation or {},
        "disk_mb": table_sizes(),
        "loadavg": [round(x, 1) for x in os.getloadavg()],
        "pages": {p: {k: v for k, v in asdict(m).items() if k != "sql"} for p, m in pages.items()},
        "counts_scan": {"scans": scans, "notes": notes},
        "measures": pages,
    }


def report(db: str, rows: list[dict[str, Any]], client: Any, extra: dict[str, Any]) -> None:
    from django.db import connection

    print_size_table(db, rows)
    verdicts = evaluate(db, rows)
    print(f"\n=== {db}: targets ===")
    for name, ok, detail in verdicts:
        label = "PASS" if ok else "n/a " if ok is None else "FAIL"
        print(f"{label}  {name}: {detail}")

    last = rows[-1]
    print(f"\n=== {db}: queries at {last['size']} jobs (ms: each run again alone) ===")
    for page in ("a", "b", "b2", "c", "d", "e"):
        m = last["measures"][page]
        print(f"-- ({page}) {m.url}: {m.queries} queries, {m.sql_ms:.1f} ms of SQL")
        for ms, sql in m.sql:
            print(f"   {ms:8.2f}  {sql[:230]}")
    print(f"\n=== {db}: plans of the job queries of (a), (b), (b2) at {last['size']} jobs ===")
    for page in ("a", "b", "b2"):
        for ms, sql in last["measures"][page].sql:
            if is_job_query(sql):
                print(f"\n-- ({page}) {ms:.2f} ms: {sql[:1200]}")
                print(explain(sql))
    print(f"\n=== {db}: cProfile of one request at {last['size']} jobs ===")
    for page in ("a", "d", "e"):
        m = last["measures"][page]
        print(f"\n-- ({page}) {m.url}")
        print(profile(client, m.url, {}))
    summary = {
        "db": db,
        "vendor": connection.vendor,
        **extra,
        "sizes": [{k: v for k, v in r.items() if k != "measures"} for r in rows],
        "targets": [{"target": n, "ok": ok, "detail": d} for n, ok, d in verdicts],
    }
    print("\nJSON " + json.dumps(summary), flush=True)


def run_one(db: str, sizes: list[int], repeat: int, term: str, keep: bool) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="clapboard-pages-"))
    database_url = prepare_database(db, data_dir)
    setup_django(database_url, data_dir)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    code_at_start = code_fingerprint()
    print(f"# {db}: {database_url}  (code: {code_at_start})", flush=True)
    try:
        call_command("migrate", verbosity=0)
        providers, user = create_world()
        special = create_special_job(providers)
        word_pool = [word_payload(random.Random(i), 40) for i in range(200)]
        client = Client()
        client.force_login(user)
        rows: list[dict[str, Any]] = []
        have = 1  # the special job
        for size in sizes:
            print(f"# {db}: growing to {size} jobs...", flush=True)
            generation = grow(size, have, providers, word_pool)
            have = size
            print(f"# {db}: generated {generation}", flush=True)
            rows.append(measure_size(db, client, str(special.code), size, repeat, term, generation))
        changed = sorted(
            name for name, digest in code_fingerprint().items() if code_at_start.get(name) != digest
        )
        report(
            db,
            rows,
            client,
            {"repeat": repeat, "term": term, "code": code_at_start, "code_changed": changed},
        )
    finally:
        connection.close()
        if keep:
            print(f"# kept {data_dir} (--reuse {database_url})", flush=True)
        else:
            drop_database(db)
            shutil.rmtree(data_dir, ignore_errors=True)


def reuse(database_url: str, repeat: int, term: str) -> None:
    """Measure a database kept by an earlier --keep run as it is now, after `migrate` (so
    new indexes or counters are in place): one size, no generation."""
    data_dir = Path(tempfile.mkdtemp(prefix="clapboard-pages-"))
    setup_django(database_url, data_dir)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from jobs.models import Job

    db = "postgres" if database_url.startswith("postgres") else "sqlite"
    code = code_fingerprint()
    print(f"# {db}: reusing {database_url}  (code: {code})", flush=True)
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    analyze()
    print(f"# migrate and analyze: {time.perf_counter() - t0:.1f} s", flush=True)
    special = Job.objects.get(external_id="ivh-special-1000-events")
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    size = Job.objects.count()
    row = measure_size(db, client, str(special.code), size, repeat, term, None)
    report(db, [row], client, {"repeat": repeat, "term": term, "code": code, "reused": True})
    shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--term", default="news", help="search term of (b)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        metavar="DATABASE_URL",
        help="measure a database kept by --keep as it is now (after migrate); no generation",
    )
    args = parser.parse_args()
    if args.reuse:
        reuse(args.reuse, args.repeat, args.term)
        return
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if args.repeat < 1 or not sizes or sizes[0] < 2:
        parser.error("--repeat must be positive and every size at least 2")
    if args.db == "both":
        # One process per database: Django binds its connections at setup.
        for db in ("sqlite", "postgres"):
            argv = [sys.executable, __file__, "--db", db, "--sizes", args.sizes]
            argv += ["--repeat", str(args.repeat), "--term", args.term]
            argv += ["--keep"] if args.keep else []
            with contextlib.suppress(KeyboardInterrupt):
                subprocess.run(argv, check=False)
        return
    run_one(args.db, sizes, args.repeat, args.term, args.keep)


if __name__ == "__main__":
    main()
