"""The pages benchmark's measures: timed requests with their queries, plans and
profiles, per page and per size."""

from __future__ import annotations

import cProfile
import html
import io
import json
import os
import pstats
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.pages_world import table_sizes
from bench.procs import ROOT

WARMUP = 3
RARE_TERM = "news 42"


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
        rows=body.count('<tr id="job-')
        + body.count('name="_selected_action"')
        + body.count('<tr class="failure-group"'),
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
    results["failures"] = measure(client, "failures", "/failures/", repeat, 200, {})
    results["failures 7d"] = measure(client, "failures 7d", "/failures/?window=7d", repeat, 200, {})
    results["failures list"] = measure(
        client, "failures list", largest_group_link(client), repeat, 200, {}
    )
    return results


def largest_group_link(client: Any) -> str:
    """The job list behind the Failures page's first (largest) group of the last 24 h."""
    response = client.get("/failures/")
    match = re.search(r'class="group-link" href="([^"]*)"', response.content.decode())
    if response.status_code != 200 or not match:
        raise SystemExit("the Failures page shows no group to follow")
    return html.unescape(match.group(1))


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
    failures_scan, failures_notes = counts_scan_jobs(pages["failures"], size)
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
        "failures_scan": {"scans": failures_scan, "notes": failures_notes},
        "measures": pages,
    }
