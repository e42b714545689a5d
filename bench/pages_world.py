"""The pages benchmark's data: accounts, a superuser, the special job, and jobs with
their events grown in steps, then ANALYZE."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from bench.world import account_name, simulated_account

BATCH = 5000
EVENT_CHUNK = 100_000  # jobs per INSERT ... SELECT of events
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
