"""The load test's tables and JSON lines: latency by page, then poll lag by provider."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(
    results: list[tuple[str, int, float]],
    elapsed: float,
    args: argparse.Namespace,
    checked: int,
    mismatched: int,
    examples: list[str],
    locked: int,
    logs: dict[str, Path],
) -> None:
    by_kind: dict[str, list[float]] = {}
    statuses: dict[int, int] = {}
    for kind, status, seconds in results:
        by_kind.setdefault(kind, []).append(seconds * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    every = [ms for values in by_kind.values() for ms in values]
    print(
        f"\nLoad: {args.clients} clients for {elapsed:.0f} s, {args.jobs} jobs, SQLite + ORM broker"
    )
    print(f"{'page':<14}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for kind, values in sorted(by_kind.items()):
        print(
            f"{kind:<14}{len(values):>10}{statistics.median(values):>10.1f}"
            f"{percentile(values, 95):>10.1f}{percentile(values, 99):>10.1f}"
        )
    print(
        f"{'all':<14}{len(every):>10}{statistics.median(every):>10.1f}"
        f"{percentile(every, 95):>10.1f}{percentile(every, 99):>10.1f}"
    )
    print(
        f"throughput: {len(every) / elapsed:.0f} requests/s; statuses: {dict(sorted(statuses.items()))}"
    )
    server_errors = sum(n for status, n in statuses.items() if status >= 500 or status == 0)
    print(f"5xx or failed requests: {server_errors}; 'database is locked' in logs: {locked}")
    print(f"final states: {checked - mismatched}/{checked} match the simulator")
    for line in examples:
        print("  mismatch:", line)
    print(
        json.dumps(
            {
                "clients": args.clients,
                "seconds": round(elapsed, 1),
                "jobs": args.jobs,
                "requests": len(every),
                "p50_ms": round(statistics.median(every), 1),
                "p95_ms": round(percentile(every, 95), 1),
                "p99_ms": round(percentile(every, 99), 1),
                "statuses": statuses,
                "server_errors": server_errors,
                "database_locked": locked,
                "jobs_checked": checked,
                "jobs_mismatched": mismatched,
            }
        )
    )


def report_lag(
    samples: dict[str, list[float]], requests: dict[str, int], args: argparse.Namespace
) -> None:
    slow = f", {args.slow_provider} slow ({args.slow_mode})" if args.slow_provider else ""
    print(f"\npoll lag (s past next_poll_at of the most overdue job, every 2 s){slow}")
    print(f"{'provider':<20}{'p50':>8}{'p95':>8}{'max':>8}{'requests':>10}")
    summary = {}
    for code, values in sorted(samples.items()):
        if not values:
            continue
        row = {
            "p50": round(statistics.median(values), 1),
            "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1),
            "requests": requests.get(code, 0),
        }
        summary[code] = row
        mark = "  <- slow" if code == args.slow_provider else ""
        print(f"{code:<20}{row['p50']:>8}{row['p95']:>8}{row['max']:>8}{row['requests']:>10}{mark}")
    print(json.dumps({"slow_provider": args.slow_provider, "poll_lag": summary}))
