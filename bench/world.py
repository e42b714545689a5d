"""The refresh benchmark's world: its environment and database, the simulator it
talks to, and the accounts and synthetic jobs it polls."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from importlib import import_module
from pathlib import Path
from typing import Any

from bench.procs import tail

LATENCY = 0.05
# The limits, enforced by the simulator and set on the accounts alike.
RATE_LIMITS: dict[str, float] = {
    "tencent_ivh": 50.0,
    "tencent_vod": 100.0,
    "tencent_ci": 20.0,
    "huawei_metastudio": 10.0,
    "aliyun_ice": 50.0,
}
LOOPS = 2  # CLAPBOARD_REFRESH_LOOPS's default
WORKERS = LOOPS + 1  # Q_WORKERS's default: a worker per loop and one spare
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "clapboard_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
# The synthetic jobs' "<queue s>-<run s>" (jobs/simulator/core.py), by the state they
# answer with for the whole run. `running` stays at progress 0 for ~28 hours, so a re-poll
# (every 10 s without progress history) reports nothing new and must add no event.
# `queued` sits at a queue position around 250,000 that drops by one every 4 s: the next
# poll is 120 s away where the provider reports the position, 15 s where it does not.
# Both stay short enough for 50 ids to fit one Cloud Infinite batch path (2,000 chars).
JOB_SHAPES = {"running": "0-10000000", "queued": "1000000-1"}
CREATED_AGO = 60


def prepare_environment(db: str, data_dir: Path, *, debug: bool) -> dict[str, str]:
    """The environment every process of the run shares; creates the empty database."""
    import secrets

    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for inherited in ("DATABASE_URL", "REDIS_URL", "CLAPBOARD_ENCRYPTION_KEY_FILE"):
        env.pop(inherited, None)  # never benchmark (or wipe) whatever the shell points at
    env.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        # DEBUG keeps the last 9,000 queries per database connection (one per poller
        # thread): --no-debug shows the memory and CPU production would see.
        DEBUG="true" if debug else "false",
        SECRET_KEY=secrets.token_urlsafe(50),
        CLAPBOARD_DATA_DIR=str(data_dir),
        CLAPBOARD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        CLAPBOARD_ALLOW_LOOPBACK_FETCH="true",
        CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS="true",  # the accounts point at the simulator
        Q_WORKERS=str(WORKERS),
        LOG_LEVEL="WARNING",
    )
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        return env
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_NAME}")
    redis.Redis.from_url(REDIS_URL).flushdb()  # a killed earlier run may have left tasks
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{PG_NAME}"
    env["REDIS_URL"] = REDIS_URL
    return env


def drop_postgres() -> None:
    import psycopg
    import redis

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
    redis.Redis.from_url(REDIS_URL).flushdb()


def clean_up(children: list[subprocess.Popen[bytes]], db: str, data_dir: Path, keep: bool) -> None:
    """Stop a run's children, newest first, then drop its data dir and database (or say
    where they were kept)."""
    from bench.procs import stop

    for child in reversed(children):
        stop(child)
    if keep:
        print(f"kept {data_dir}" + (f" and database {PG_NAME}" if db == "postgres" else ""))
        return
    if db == "postgres":
        from django.db import connections

        with contextlib.suppress(Exception):  # Django may never have been set up
            connections.close_all()  # PostgreSQL refuses to drop a database in use
        with contextlib.suppress(Exception):
            drop_postgres()
    shutil.rmtree(data_dir, ignore_errors=True)


def simulator_requests(url: str) -> dict[str, int]:
    from jobs import http

    # The bench's simulator is on loopback, and this runs before Django has settings to
    # say whether private endpoints are allowed.
    response = http.request("GET", f"{url}/_sim/health", timeout=(2.0, 5.0), purpose="loopback")
    return dict(json.loads(response.body)["requests"])


def wait_for_simulator(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    from jobs import http

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited:\n{tail(log)}")
        with contextlib.suppress(http.OutboundError):
            simulator_requests(url)
            return
        time.sleep(0.2)
    raise SystemExit(f"the simulator did not answer within 30 s:\n{tail(log)}")


# --- the world ------------------------------------------------------------------------------


def external_id(created: int, serial: int, state: str) -> str:
    """A synthetic id the separately started simulator answers without shared state."""
    return f"sim-{created}-{JOB_SHAPES[state]}-ok-b{serial:x}"


def account_name(code: str) -> str:
    return f"bench-{code.replace('_', '-')}"


def simulated_account(
    code: str,
    *,
    name: str,
    endpoint: str = "",
    rate_limit: float | None = None,
    credentials: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
) -> Any:
    """A new account of provider `code` with the simulator's demo credentials (or another
    tenant's), options (with `options` added) and region: the simulator started beside
    the bench answers it."""
    from jobs.services import account_create

    simulated = import_module(f"jobs.simulator.{code}").Simulator
    return account_create(
        name=name,
        provider=code,
        credentials=credentials or simulated.demo_credentials,
        options={**simulated.demo_options, **(options or {})},
        region=simulated.demo_region,
        endpoint=endpoint,
        rate_limit=rate_limit,
    )


def create_world(*, jobs: int, state: str, simulator_url: str) -> dict[str, int]:
    """One account per provider and `jobs` / 5 jobs each; returns account ids by provider."""
    from jobs.models import Job

    created = int(time.time()) - CREATED_AGO
    per_account = jobs // len(RATE_LIMITS)
    accounts: dict[str, int] = {}
    serial = 0
    for code, rate in RATE_LIMITS.items():
        account = simulated_account(
            code, name=account_name(code), endpoint=simulator_url, rate_limit=rate
        )
        accounts[code] = account.pk
        rows = []
        for _ in range(per_account):
            rows.append(Job(account=account, external_id=external_id(created, serial, state)))
            serial += 1
        Job.objects.bulk_create(rows, batch_size=2000)
    return accounts
