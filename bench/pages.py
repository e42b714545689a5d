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
     (b2) the same with a rarer term, "news 42" (on SQLite served by the FTS5 trigram
          table of migration 0013: median <= 50 ms at the largest size)
     (c) an HTMX poll of the list when nothing changed (must answer 204)
     (d) the detail of the special job
     (e) the Django admin changelist of jobs, its first page (100 rows, the default)
     (f) the CSV export of every job (/jobs.csv), over HTTP from one gunicorn worker of
         its own: time to the last byte, bytes, and the worker's peak RSS over its RSS
         before, plain and gzip (bench/pages_export.py). Goal, constant memory: the
         growth at the largest size at most 50 MB over the growth at the smallest.
     (failures) the Failures page, its default window (24 h): the target is a median
          <= 100 ms at the largest size; "failures 7d" (its widest window) and "failures
          list" (the job list behind its largest group's link) beside it, informational
5. A table per size, the growth from the smallest to the largest size, PASS/FAIL per
   target, EXPLAIN (ANALYZE, BUFFERS on PostgreSQL) of the job queries of (a), (b), (b2)
   and the failures cases at the largest size, a cProfile of (a), (d), (e) and
   (failures), and last one JSON line with every number (and the commit and file hashes
   measured: others may edit the app meanwhile).
   The targets of (d) are a median <= 30 ms and <= 150 KB of HTML before gzip.

Timings are wall-clock in one process; the test client bypasses the network and keeps
its database connection open between requests (CONN_MAX_AGE does not apply), and the
template rendering instrumentation of the test runner is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import


from bench import pages_world as world  # noqa: E402 - after the path fix
from bench.pages_export import measure_export  # noqa: E402
from bench.pages_measure import measure_size  # noqa: E402
from bench.pages_report import report  # noqa: E402

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = os.environ.get("CLAPBOARD_PAGES_PG_NAME", "clapboard_pages")  # dropped, created
FILES = (
    "dashboard/jobs/views.py",
    "dashboard/jobs/forms.py",
    "dashboard/jobs/submit_form.py",
    "dashboard/jobs/presenters.py",
    "dashboard/jobs/history.py",
    "dashboard/jobs/timings.py",
    "dashboard/jobs/payload.py",
    "dashboard/jobs/export.py",
    "dashboard/failures/views.py",
    "dashboard/failures/presenters.py",
    "jobs/selectors.py",
    "jobs/search.py",
    "jobs/models/jobs.py",
    "jobs/models/accounts.py",
    "jobs/admin.py",
    "templates/jobs/list.html",
    "templates/jobs/detail.html",
    "templates/jobs/_media.html",
    "templates/jobs/_timeline.html",
    "templates/failures/failures.html",
    "static/js/player.js",
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
        providers, user = world.create_world()
        special = world.create_special_job(providers)
        word_pool = [world.word_payload(random.Random(i), 40) for i in range(200)]
        client = Client()
        client.force_login(user)
        rows: list[dict[str, Any]] = []
        have = 1  # the special job
        for size in sizes:
            print(f"# {db}: growing to {size} jobs...", flush=True)
            generation = world.grow(size, have, providers, word_pool)
            have = size
            print(f"# {db}: generated {generation}", flush=True)
            rows.append(measure_size(db, client, str(special.code), size, repeat, term, generation))
            rows[-1]["export"] = measure_export(size, data_dir)
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
    world.analyze()
    print(f"# migrate and analyze: {time.perf_counter() - t0:.1f} s", flush=True)
    special = Job.objects.get(external_id="ivh-special-1000-events")
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    size = Job.objects.count()
    row = measure_size(db, client, str(special.code), size, repeat, term, None)
    row["export"] = measure_export(size, data_dir)
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
