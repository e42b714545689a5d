"""The pages benchmark's tables, verdicts and JSON line, per database."""

from __future__ import annotations

import json
import os
from typing import Any

from bench.pages_export import evaluate_export, print_export
from bench.pages_measure import explain, is_job_query, profile

# Targets from the issue.
TARGET_GROWTH = 2.0
TARGET_POLL_MS = 5.0
TARGET_LIST_MS = 50.0
TARGET_RARE_SEARCH_MS = 50.0  # (b2) on SQLite, served by the FTS5 trigram table
TARGET_ADMIN_RATIO = 0.5
TARGET_DETAIL_MS = 30.0  # (d), the special job: 2,000 words, 1,000 events (issue 14)
TARGET_DETAIL_KB = 150.0  # of HTML before gzip
TARGET_FAILURES_MS = 100.0  # the Failures page, its default window (24 h), at 1M jobs
PAGES = ("a", "b", "b2", "c", "d", "e", "failures", "failures 7d", "failures list")


# --- one database ---------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return f"{value:8.2f}"


def print_size_table(db: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n=== {db}: pages (ms; median / p90 of the timed runs; q = SQL queries) ===")
    head = f"{'jobs':>9} {'gen s':>7}"
    for page in PAGES:
        head += f" | {page + ' med':>{max(8, len(page) + 4)}} {'p90':>8} {'q':>3}"
    print(head)
    for row in rows:
        line = f"{row['size']:>9} {row['generation'].get('total_s', 0):>7.1f}"
        for page in PAGES:
            m = row["pages"][page]
            width = max(8, len(page) + 4)
            line += f" | {m['median_ms']:>{width}.2f} {fmt_ms(m['p90_ms'])} {m['queries']:>3}"
        print(line)
    print("\nSQL time of each page (its queries run again alone, ms), rows shown, HTML size:")
    for row in rows:
        parts = [
            f"{p}: sql {row['pages'][p]['sql_ms']:.1f} of {row['pages'][p]['median_ms']:.1f}"
            f", {row['pages'][p]['rows']} rows, {row['pages'][p]['bytes'] / 1000:.1f} KB"
            for p in ("a", "b", "b2", "d", "e", "failures", "failures 7d", "failures list")
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
    detail = [(r["size"], r["pages"]["d"]["median_ms"], r["pages"]["d"]["bytes"]) for r in rows]
    verdicts.append(
        (
            f"(d) median <= {TARGET_DETAIL_MS:g} ms (every size)",
            max(ms for _, ms, _ in detail) <= TARGET_DETAIL_MS,
            ", ".join(f"{size}: {ms:.2f} ms" for size, ms, _ in detail),
        )
    )
    verdicts.append(
        (
            f"(d) HTML <= {TARGET_DETAIL_KB:g} KB before gzip (every size)",
            max(size for _, _, size in detail) <= TARGET_DETAIL_KB * 1000,
            ", ".join(f"{size}: {n / 1000:.1f} KB" for size, _, n in detail),
        )
    )
    rare = last["pages"]["b2"]["median_ms"]
    verdicts.append(
        (
            f"(b2) rare-term search median <= {TARGET_RARE_SEARCH_MS:g} ms at {last['size']}"
            + ("" if db == "sqlite" else " (an SQLite target; informational here)"),
            rare <= TARGET_RARE_SEARCH_MS if db == "sqlite" else None,
            f"goal {TARGET_RARE_SEARCH_MS:g} ms, measured {rare:.1f} ms"
            f" (p90 {last['pages']['b2']['p90_ms']:.1f} ms)",
        )
    )
    failures = [(r["size"], r["pages"]["failures"]) for r in rows]
    verdicts.append(
        (
            f"(failures) median <= {TARGET_FAILURES_MS:g} ms at {last['size']}",
            failures[-1][1]["median_ms"] <= TARGET_FAILURES_MS,
            f"goal {TARGET_FAILURES_MS:g} ms, measured "
            + ", ".join(
                f"{size}: {m['median_ms']:.1f} ms (p90 {m['p90_ms']:.1f}, {m['queries']} q,"
                f" {m['rows']} groups)"
                for size, m in failures
            )
            + "; 7 days and the largest group's list (informational): "
            + ", ".join(
                f"{r['size']}: {r['pages']['failures 7d']['median_ms']:.1f} /"
                f" {r['pages']['failures list']['median_ms']:.1f} ms"
                for r in rows
            ),
        )
    )
    verdicts.append(
        (
            "the Failures page's aggregate does not scan jobs_job",
            not any(r["failures_scan"]["scans"] for r in rows),
            "; ".join(f"{r['size']}: {r['failures_scan']['notes']}" for r in rows)[:600],
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


def report(db: str, rows: list[dict[str, Any]], client: Any, extra: dict[str, Any]) -> None:
    from django.db import connection

    print_size_table(db, rows)
    print_export(db, rows)
    verdicts = [*evaluate(db, rows), evaluate_export(rows)]
    print(f"\n=== {db}: targets ===")
    for name, ok, detail in verdicts:
        label = "PASS" if ok else "n/a " if ok is None else "FAIL"
        print(f"{label}  {name}: {detail}")

    last = rows[-1]
    print(f"\n=== {db}: queries at {last['size']} jobs (ms: each run again alone) ===")
    for page in PAGES:
        m = last["measures"][page]
        print(f"-- ({page}) {m.url}: {m.queries} queries, {m.sql_ms:.1f} ms of SQL")
        for ms, sql in m.sql:
            print(f"   {ms:8.2f}  {sql[:230]}")
    print(f"\n=== {db}: plans of the job queries of (a), (b), (b2), failures at {last['size']} ===")
    for page in ("a", "b", "b2", "failures", "failures 7d", "failures list"):
        for ms, sql in last["measures"][page].sql:
            if is_job_query(sql):
                print(f"\n-- ({page}) {ms:.2f} ms: {sql[:1200]}")
                print(explain(sql))
    print(f"\n=== {db}: cProfile of one request at {last['size']} jobs ===")
    for page in ("a", "d", "e", "failures"):
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
