"""The freshness benchmark's simulator process: the five fake clouds with two tenants each,
one per set of accounts, so each set has its own notification target and rate limit.

    python bench/freshness_sim.py --port P --latency S [--rate-limit CODE=N ...]

A `sim-…` id names its own job but no owner, and a job no tenant owns goes to every
tenant's notification target. So the id's tag says which set it belongs to (SET_TAGS:
"n…" notified, "p…" polling) and the job is owned by that set's tenant: the notified
receiver hears only of its own jobs. Each tenant counts the requests it answered, read at
`GET /_sim/bench` with the POSTs each notification target delivered.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `jobs` must import

from jobs.simulator.core import SimJob, SimRequest, SimResponse, Simulator, Tenant  # noqa: E402

SET_TAGS = {"notified": "n", "polling": "p"}


def second_credentials(demo: dict[str, str]) -> dict[str, str]:
    """The demo credentials with each value's last character moved on by one within its
    class (digit, lower, upper), so every format check the real cloud's keys pass still
    passes, and the key credential names a different tenant."""

    def shifted(value: str) -> str:
        last = value[-1]
        for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
            if last in alphabet:
                return value[:-1] + alphabet[(alphabet.index(last) + 1) % len(alphabet)]
        return value + "0"

    return {name: shifted(value) for name, value in demo.items()}


class CountedTenant(Tenant):
    """A tenant that counts the requests it authenticated (throttled ones included)."""

    answered = 0
    _count_lock = threading.Lock()

    def take_token(self, now: float) -> bool:
        with self._count_lock:
            self.answered += 1
        return super().take_token(now)


class BenchSimulator(Simulator):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owners: dict[tuple[str, str], str] = {}  # (provider, set tag) -> tenant key

    def add_set_tenants(self, rates: dict[str, float]) -> None:
        for code, sim in self.providers.items():
            for name, credentials in (
                ("polling", dict(sim.demo_credentials)),
                ("notified", second_credentials(sim.demo_credentials)),
            ):
                tenant = self.add_tenant(code, credentials, rate_limit=rates.get(code))
                key = credentials[sim.key_field]
                self.tenants[(code, key)] = CountedTenant(
                    tenant.provider, tenant.credentials, tenant.options, tenant.rate_limit
                )
                self.owners[(code, SET_TAGS[name])] = key

    def find_job(self, provider: str, external_id: str, tenant: Tenant | None) -> SimJob | None:
        job = super().find_job(provider, external_id, None)
        if job is not None and job.owner is None:
            job.owner = self.owners.get((provider, external_id.rsplit("-", 1)[-1][:1]))
        key = self.providers[provider].key_field
        if job and tenant is not None and job.owner and job.owner != tenant.credentials[key]:
            return None
        return job

    def _builtin(self, request: SimRequest) -> SimResponse:
        if request.path.rstrip("/") != "/_sim/bench":
            return super()._builtin(request)
        answered: dict[str, dict[str, int]] = {}
        for (code, key), tenant in list(self.tenants.items()):
            answered.setdefault(code, {})[key] = getattr(tenant, "answered", 0)
        delivered = [
            {
                "provider": target.provider,
                "tenant": target.tenant,
                "posts": [
                    [e, s]
                    for e, s, _, status in list(target.log)
                    if status is not None and status < 300
                ],
            }
            for target in list(self.notifier.targets)
        ]
        return SimResponse.json({"answered": answered, "delivered": delivered})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", action="append", default=[], metavar="CODE=N")
    args = parser.parse_args()
    rates = {c: float(n) for c, _, n in (text.partition("=") for text in args.rate_limit)}
    simulator = BenchSimulator(latency=args.latency)
    simulator.add_set_tenants(rates)
    simulator.serve_forever("127.0.0.1", args.port)


if __name__ == "__main__":
    main()
