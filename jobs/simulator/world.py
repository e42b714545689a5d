"""The simulator's world: the tenants it accepts, the jobs it knows, the faults it injects.

`World` holds that state behind one lock and the clock it is read on; the HTTP server
(server.py) builds on it. Tenants carry their own rate limit (a token bucket), faults
their own countdown, so the dispatcher only asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from jobs.providers import PROVIDERS
from jobs.simulator.base import ProviderSimulator
from jobs.simulator.clock import Phase, SimJob, Snapshot, synthesise
from jobs.simulator.notify import Notifier, Target, target_from
from jobs.simulator.tenants import Tenant
from jobs.simulator.tencent_vod import TencentVodSimulator

FAULT_KINDS = (
    "timeout",  # answer only after `fault_delay` seconds (longer than the client waits)
    "slow_drip",  # headers at once, then the body one byte every `drip_interval` seconds
    "reset",  # close the connection without answering
    "http_500",  # the provider's own internal-error answer
    "http_502_html",  # a proxy's HTML error page
    "truncated",  # a normal answer cut in half
    "not_json",  # 200 with an HTML body
    "wrong_shape",  # valid JSON (or XML) that is not the expected shape
    "huge",  # a body far over any sane cap
    "throttle",  # the provider's rate-limit answer
    "clock_skew",  # the provider's "request time too far from server time" answer
    "bad_signature",  # the provider's signature-mismatch answer
)


@dataclass
class Fault:
    kind: str
    provider: str | None = None  # None: every provider
    remaining: int | None = None  # None: until cleared


class World:
    """Tenants, jobs and faults of all five fake clouds, read on one clock: the state half
    of `Simulator` (server.py), which is what gets built. Each provider with a module
    `jobs/simulator/<code>.py` gets its provider simulator here."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        clock: Callable[[], float] = time.time,
        fault_delay: float = 3.0,
        drip_interval: float = 1.0,
    ) -> None:
        self.latency = latency
        self.clock = clock
        self.clock_offset = 0.0
        self.fault_delay = fault_delay
        self.drip_interval = drip_interval
        self.tenants: dict[tuple[str, str], Tenant] = {}
        self.jobs: dict[tuple[str, str], SimJob] = {}
        self.faults: list[Fault] = []
        self.requests: dict[str, int] = {}
        self.lock = threading.Lock()
        self.providers: dict[str, ProviderSimulator] = {}
        for code in PROVIDERS:
            try:
                module = import_module(f"jobs.simulator.{code}")
            except ModuleNotFoundError as exc:
                if exc.name != f"jobs.simulator.{code}":
                    raise
                continue  # a provider without a simulator is simply not simulated
            self.providers[code] = module.Simulator(self)
        self.notifier = Notifier(self)

    # --- world ----------------------------------------------------------------

    def now(self) -> float:
        return self.clock() + self.clock_offset

    def add_tenant(
        self,
        provider: str,
        credentials: Mapping[str, str] | None = None,
        *,
        options: Mapping[str, str] | None = None,
        rate_limit: float | None = None,
    ) -> Tenant:
        sim = self.providers[provider]
        creds = dict(credentials or sim.demo_credentials)
        tenant = Tenant(provider, creds, dict(options or sim.demo_options), rate_limit)
        with self.lock:
            self.tenants[(provider, creds[sim.key_field])] = tenant
        return tenant

    def add_demo_tenants(self, rate_limits: Mapping[str, float] | None = None) -> None:
        for code in self.providers:
            self.add_tenant(code, rate_limit=(rate_limits or {}).get(code))

    def add_job(self, provider: str, external_id: str, **fields: Any) -> SimJob:
        fields.setdefault("created", self.now())
        if "outcome" in fields:
            fields["outcome"] = Phase(fields["outcome"])
        if fields.get("pinned") is not None:
            fields["pinned"] = Phase(fields["pinned"])
        job = SimJob(provider=provider, external_id=external_id, **fields)
        with self.lock:
            self.jobs[(provider, external_id)] = job
        return job

    def find_job(self, provider: str, external_id: str, tenant: Tenant | None) -> SimJob | None:
        job = self.jobs.get((provider, external_id))
        if job is None:
            job = synthesise(provider, external_id)
            if job is None:
                return None
            self.notifier.saw(job)
        key = self.providers[provider].key_field
        if tenant is not None and job.owner and job.owner != tenant.credentials.get(key):
            return None
        return job

    def jobs_for(self, provider: str, tenant: Tenant) -> list[SimJob]:
        """The explicit jobs a tenant can list (synthesised ones exist only when asked for)."""
        key = self.providers[provider].key_field
        owner = tenant.credentials.get(key)
        return [
            j
            for (code, _), j in list(self.jobs.items())
            if code == provider and (not j.owner or j.owner == owner)
        ]

    def cancel_waiting(self, provider: str, job: SimJob) -> bool:
        """Cancel `job` if it is still waiting (queued) on the simulator's clock; returns
        whether it was. The job then reports the provider's canceled state to every query;
        a job a `sim-…` id describes is kept, so the cancel outlives the request."""
        with self.lock:
            now = self.now()
            if job.snapshot(now).phase is not Phase.QUEUED:
                return False
            job.canceled_at = now
            self.jobs.setdefault((provider, job.external_id), job)
            return True

    def truth(self, provider: str, external_id: str) -> Snapshot | None:
        """What the fake cloud says about a job right now (for tests and benchmarks)."""
        job = self.find_job(provider, external_id, None)
        return job.snapshot(self.now()) if job else None

    # --- faults ---------------------------------------------------------------

    def inject(self, kind: str, provider: str | None = None, count: int | None = None) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append(Fault(kind, provider, count))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # --- notifications ----------------------------------------------------------

    def notify_to(
        self, provider: str, url: str, *, tenant: str | None = None, **options: Any
    ) -> Target:
        """Push `provider`'s notifications to `url` (for `tenant`, its key credential, or
        every tenant); options as notify.OPTIONS. Raises ValueError for a bad option."""
        if provider not in self.providers:
            raise ValueError(f"unknown provider {provider!r}")
        return self.notifier.add(target_from(provider, url, tenant, options))

    def vod_events(
        self,
        tenant: str | None = None,
        enabled: bool = True,
        *,
        hold: float | None = None,
        duplicate: float = 0.0,
    ) -> None:
        """Keep a VOD event queue (PullEvents) for `tenant`'s SecretId, or every tenant."""
        vod = self.providers["tencent_vod"]
        assert isinstance(vod, TencentVodSimulator)
        vod.events.enable(tenant, enabled, hold=hold, duplicate=duplicate)
        if enabled:
            self.notifier.watching("tencent_vod")

    def clear_notifications(self) -> None:
        self.notifier.clear()
        vod = self.providers.get("tencent_vod")
        if isinstance(vod, TencentVodSimulator):
            vod.events.clear()

    def reset(self) -> None:
        self.clear_notifications()
        with self.lock:
            self.jobs.clear()
            self.faults.clear()
            self.requests.clear()
            self.tenants.clear()
            self.clock_offset = 0.0
            self.latency = 0.0
            self.fault_delay = 3.0
            self.drip_interval = 1.0

    def take_fault(self, provider: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.provider in (None, provider):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.faults.remove(fault)
                    return fault.kind
        return None
