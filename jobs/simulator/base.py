"""The shared base of the five fake clouds: what every provider simulator has in common.

A provider module (`jobs/simulator/<provider code>.py`, exporting `Simulator`) holds only
its cloud's wire format and rules: which requests it claims, how it checks a signature,
how it renders a job, and the cloud's own error envelope and refusal table. Looking up
tenants and jobs, choosing failure codes and building media URLs live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from jobs.simulator.clock import SimJob, Snapshot
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import Reject, SimRequest, SimResponse


class SimulatorWorld(Protocol):
    """What a provider module reads of the simulator it belongs to (jobs/simulator/server.py
    builds it): typed here so the base never imports the server that loads it."""

    url: str
    tenants: dict[tuple[str, str], Tenant]

    def now(self) -> float: ...

    def find_job(self, provider: str, external_id: str, tenant: Tenant | None) -> SimJob | None: ...

    def jobs_for(self, provider: str, tenant: Tenant) -> list[SimJob]: ...

    def add_job(self, provider: str, external_id: str, **fields: Any) -> SimJob: ...

    def cancel_waiting(self, provider: str, job: SimJob) -> bool: ...


# A refusal as the cloud sends it: (HTTP status, the cloud's error code, its message).
Refusal = tuple[int, str | int, str]


class ProviderSimulator:
    """One fake cloud API. Subclasses live in `jobs/simulator/<provider code>.py`
    as the module attribute `Simulator`."""

    code: ClassVar[str]
    # The credential field that identifies a tenant (appkey, secret_id, access_key...).
    key_field: ClassVar[str]
    # Credentials and options the demo world and benchmarks use (made up, never real).
    demo_credentials: ClassVar[dict[str, str]]
    demo_options: ClassVar[dict[str, str]] = {}
    demo_region: ClassVar[str] = ""
    demo_kinds: ClassVar[tuple[str, ...]] = ("",)
    # Whether the provider has a canceled state at all (IVH and ICE document none).
    can_cancel: ClassVar[bool] = True
    # (code, message) pairs a failed job of this provider reports.
    failure_codes: ClassVar[tuple[tuple[str, str], ...]] = (("Failed", "The job failed"),)
    # The cloud's answers to refused requests, by reason: "signature", "expired" (clock
    # skew), "unknown_key", "throttled" and "internal", plus any of the cloud's own.
    refusals: ClassVar[Mapping[str, Refusal]] = {}

    def __init__(self, sim: SimulatorWorld) -> None:
        self.sim = sim

    def matches(self, request: SimRequest) -> bool:
        raise NotImplementedError

    def authenticate(self, request: SimRequest) -> Tenant:
        """Verify the request's signature; raise Reject with the provider's answer."""
        raise NotImplementedError

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        raise NotImplementedError

    def error(self, status: int, code: str | int, message: str) -> SimResponse:
        """The cloud's own error envelope around one code and message."""
        raise NotImplementedError

    # Provider-shaped failures, used for rate limits and injected faults.
    def auth_error(self, reason: str) -> SimResponse:
        """reason: 'signature', 'expired' (clock skew) or 'unknown_key'; an unlisted
        reason gets the cloud's signature-mismatch answer."""
        return self.error(*self.refusals.get(reason, self.refusals["signature"]))

    def throttled(self) -> SimResponse:
        return self.error(*self.refusals["throttled"])

    def internal_error(self) -> SimResponse:
        return self.error(*self.refusals["internal"])

    def wrong_shape(self) -> SimResponse:
        return SimResponse.json({"Unexpected": [1, 2, 3], "Status": {"nested": True}})

    def refuse(self, reason: str) -> Reject:
        """The exception that answers with `auth_error(reason)`: `raise self.refuse(...)`."""
        return Reject(self.auth_error(reason))

    # Helpers for subclasses.
    def now(self) -> float:
        return self.sim.now()

    def snapshot(self, job: SimJob) -> Snapshot:
        """The job as it stands on the simulator's clock right now."""
        return job.snapshot(self.sim.now())

    def tenant(self, key_id: str) -> Tenant:
        tenant = self.sim.tenants.get((self.code, key_id))
        if tenant is None:
            raise self.refuse("unknown_key")
        return tenant

    def job(self, external_id: str, tenant: Tenant) -> SimJob | None:
        return self.sim.find_job(self.code, external_id, tenant)

    def cancel_waiting(self, job: SimJob) -> bool:
        """Cancel `job` if it is still waiting; False (nothing changed) once it has started."""
        return self.sim.cancel_waiting(self.code, job)

    def jobs(self, tenant: Tenant) -> list[SimJob]:
        """The explicit jobs this tenant can list."""
        return self.sim.jobs_for(self.code, tenant)

    def failure_for(self, job: SimJob) -> tuple[str, str]:
        if job.failure_code:
            return job.failure_code, job.failure_message
        return self.failure_codes[job.seed % len(self.failure_codes)]

    def media_url(self, job: SimJob) -> str:
        return f"{self.sim.url}/_sim/media/{self.code}/{job.external_id}.wav"

    def subtitles_url(self, job: SimJob) -> str:
        return f"{self.sim.url}/_sim/subtitles/{self.code}/{job.external_id}.srt"

    def cover_url(self, job: SimJob) -> str:
        return f"{self.sim.url}/_sim/cover/{self.code}/{job.external_id}.svg"
