"""The refresh benchmark's tables, verdicts and JSON line."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from typing import Any

from bench.naive import NaiveProvider
from bench.refresh_pass import Checks, PassResult
from bench.world import LATENCY, RATE_LIMITS, WORKERS

# Issue 14's goals: a pass within 5 % of the rate-limit bound, a millisecond of CPU a job.
TARGET_RATIO = 1.05
TARGET_CPU_MS_PER_JOB = 1.0
TARGET_JOBS_PER_REQUEST = 50
TARGET_RSS_MB = 250


# --- the report -----------------------------------------------------------------------------------


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def timeline_table(result: PassResult, rows: int = 20) -> str:
    """Jobs polled per second by provider, between samples (about `rows` of them)."""
    samples = result.timeline
    step = max(1, math.ceil(len(samples) / rows))
    picked = samples[::step]
    if samples and picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    lines = [["until s", *(p.code for p in result.providers)]]
    for earlier, later in zip(picked, picked[1:], strict=False):
        seconds = later[0] - earlier[0]
        rates = [(b - a) / seconds for a, b in zip(earlier[1:], later[1:], strict=True)]
        lines.append([fmt(later[0], 0), *(fmt(rate, 0) for rate in rates)])
    return "jobs polled per second\n" + table(lines)


def request_rate_table(result: PassResult, first: int = 10, then: int = 5) -> str:
    """Requests per second at the simulator by provider: second by second for the first
    `first` seconds (where a slow start shows), then per `then` seconds to the end."""
    from jobs.refresh.budget import RateBudget

    samples = result.requests
    if not samples:
        return ""

    def sent_by(at: float) -> list[float]:  # the last sample at or before `at`
        last = samples[0][1:]
        for sample in samples:
            if sample[0] > at:
                break
            last = sample[1:]
        return last

    end = samples[-1][0]
    edges = [float(n) for n in range(first + 1) if n <= end]
    edges += [float(n) for n in range(first + then, int(end) + 1, then)]
    if edges[-1] < end:
        edges.append(end)
    lines = [["until s", *(p.code for p in result.providers)]]
    for start, stop in zip(edges, edges[1:], strict=False):
        counts = zip(sent_by(start), sent_by(stop), strict=True)
        lines.append([fmt(stop, 0), *(fmt((b - a) / (stop - start), 0) for a, b in counts)])
    budgets = ["budget", *(fmt(p.rate * RateBudget.HEADROOM, 1) for p in result.providers)]
    return "requests per second at the simulator\n" + table([*lines, budgets])


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def report(
    *,
    args: argparse.Namespace,
    migrate_seconds: float,
    world_seconds: float,
    result: PassResult,
    checks: Checks,
    naive: list[NaiveProvider],
) -> dict[str, Any]:
    jobs = args.jobs
    bound = max(p.bound_seconds for p in result.providers)
    wall = result.wall_seconds
    ratio = wall / bound if wall else None
    naive_total = sum(n.per_job_ms / 1000 * (jobs // len(RATE_LIMITS)) for n in naive)
    naive_sampled = sum(n.sampled for n in naive)
    batched = [p for p in result.providers if p.batch_size > 1]
    # Only a batch provider that finished before its first re-poll gives an exact count;
    # otherwise there is no verdict (None) rather than a wrong one.
    batch_ok = (
        all((p.jobs_per_request or 0) >= TARGET_JOBS_PER_REQUEST for p in batched)
        if all(p.batching_exact for p in batched)
        else None
    )

    print()
    print(
        f"Refresh benchmark: {jobs:,} {args.state} jobs, {args.db}, {WORKERS} workers, "
        f"{LATENCY * 1000:.0f} ms per request, DEBUG={'true' if args.debug else 'false'}"
    )
    print(f"  migrate {migrate_seconds:.1f} s, data generation {world_seconds:.1f} s, ", end="")
    print(f"cluster start {result.cluster_start_seconds:.1f} s (not counted)")
    print()
    rows = [
        [
            "provider",
            "jobs",
            "rate/s",
            "batch",
            "bound s",
            "done s",
            "requests",
            "jobs/req",
            "req in window",
            "failed req",
        ]
    ]
    for p in result.providers:
        rows.append(
            [
                p.code,
                f"{p.jobs:,}",
                fmt(p.rate, 0),
                str(p.batch_size),
                fmt(p.bound_seconds),
                fmt(p.done_seconds),
                "—" if p.requests_at_done is None else f"{p.requests_at_done:,}",
                fmt(p.jobs_per_request) + ("" if p.batching_exact else "~"),
                f"{p.requests_in_window:,}",
                str(p.failed_requests),
            ]
        )
    print(table(rows))
    print("  (requests: counted by the simulator when the provider's last job was seen polled,")
    print("   re-polls included once a job is 10 s past its first poll; jobs/req: before any")
    print("   re-poll, '~' when the pass was longer, so a sample from mid-pass, a bit low;")
    print("   'in window': until the whole pass ended; 'failed req': logged by the engine)")
    print()
    print(timeline_table(result))
    print()
    print(request_rate_table(result))
    print()
    from jobs.refresh.budget import RateBudget  # after django.setup()

    per_job_cpu_ms = 1000 * result.cluster_cpu_seconds / jobs
    summary = [
        ["measure", "value", "target"],
        ["full pass wall time (s)", fmt(wall), f"≤ {fmt(TARGET_RATIO * bound)}"],
        ["rate-limit bound (s)", fmt(bound), ""],
        ["ratio to bound", fmt(ratio, 2), f"≤ {TARGET_RATIO}"],
        # The engine spends 95 % of each limit (RateBudget.HEADROOM): the floor of any pass.
        ["ratio at the budget, the floor", fmt(1 / RateBudget.HEADROOM, 3), ""],
        ["first job polled after (s)", fmt(result.first_poll_seconds), ""],
        ["jobs refreshed per second", fmt(jobs / wall if wall else None, 0), ""],
        ["refresh loops seen", str(result.loops_seen), ""],
        ["peak RSS, loop worker (MB)", fmt(result.peak_loop_worker_mb), f"< {TARGET_RSS_MB}"],
        ["peak RSS, any cluster process (MB)", fmt(result.peak_worker_mb), ""],
        ["peak RSS summed, whole cluster (MB)", fmt(result.peak_cluster_total_mb), ""],
        ["peak PSS summed, whole cluster (MB)", fmt(result.peak_cluster_pss_mb), ""],
        ["cluster CPU during pass (s)", fmt(result.cluster_cpu_seconds), ""],
        ["cluster CPU per job (ms)", fmt(per_job_cpu_ms, 2), f"≤ {TARGET_CPU_MS_PER_JOB}"],
        ["simulator CPU during pass (s)", fmt(result.simulator_cpu_seconds), ""],
        ["bench process CPU during pass (s)", fmt(result.bench_cpu_seconds), ""],
        ["PostgreSQL CPU during pass (s)", fmt(result.postgres_cpu_seconds), ""],
        ["machine CPU in use during pass (%)", fmt(result.machine_busy_pct), ""],
        ["ERROR lines in the cluster log", str(result.error_lines), "0"],
        ["failed or lost updates", str(checks.failures), "0"],
        ["accounts with a provider error", str(len(checks.account_errors)), "0"],
        [f"naive: sampled jobs ({naive_sampled:,})", "", ""],
        ["naive: time per job (ms)", fmt(1000 * naive_total / jobs if jobs else None), ""],
        ["naive: full pass, extrapolated (s)", fmt(naive_total), ""],
        ["speedup over naive", fmt(naive_total / wall if wall else None), ""],
    ]
    print(table(summary))
    print()
    if checks.failures or checks.account_errors:
        print(f"  checks: {json.dumps(asdict(checks))}")
        print()
    naive_rows = [["naive (sample)", "jobs", "ms/job", "http ms/job", "throttled", "failed"]]
    for n in naive:
        naive_rows.append(
            [
                n.code,
                str(n.sampled),
                fmt(n.per_job_ms),
                fmt(1000 * n.http_seconds / n.sampled if n.sampled else None),
                str(n.throttled),
                str(n.failed),
            ]
        )
    print(table(naive_rows))
    print("  (the naive full pass is extrapolated from the sample: ms/job × jobs per provider)")
    print()
    verdicts: dict[str, bool | None] = {
        "pass_within_1.05x_bound": ratio is not None and ratio <= TARGET_RATIO,
        "cluster_cpu_per_job_at_most_1ms": per_job_cpu_ms <= TARGET_CPU_MS_PER_JOB,
        "batch_jobs_per_request_at_least_50": batch_ok,
        "peak_worker_rss_under_250mb": result.peak_loop_worker_mb < TARGET_RSS_MB,
        "zero_failed_or_lost_updates": checks.failures == 0,
        "no_provider_errors": not checks.account_errors,
    }
    for name, ok in verdicts.items():
        print(f"  {'N/A ' if ok is None else 'PASS' if ok else 'FAIL'}  {name}")
    payload = {
        "jobs": jobs,
        "db": args.db,
        "state": args.state,
        "debug": args.debug,
        "workers": WORKERS,
        "latency_s": LATENCY,
        "migrate_s": round(migrate_seconds, 2),
        "data_generation_s": round(world_seconds, 2),
        "bound_s": round(bound, 2),
        "ratio": None if ratio is None else round(ratio, 3),
        "naive_sampled": naive_sampled,
        "naive_extrapolated_s": round(naive_total, 1),
        "speedup": round(naive_total / wall, 1) if wall else None,
        "cluster_cpu_ms_per_job": round(per_job_cpu_ms, 3),
        "verdicts": verdicts,
        "pass": asdict(result),
        "checks": asdict(checks),
        "naive": [asdict(n) for n in naive],
    }
    print(json.dumps(payload, separators=(",", ":")))
    return payload
