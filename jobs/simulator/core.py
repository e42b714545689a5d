"""Fake clouds that speak the five real wire protocols over real HTTP: the public face.

The simulator is split by concern: the clock and job model (clock.py), the tenants, jobs
and faults it holds (world.py), one request and answer (wire.py), what jobs produce
(media.py), the HTTP server (server.py), and the shared base of the five provider
modules (base.py). Callers import from here and need not know the split.
"""

from __future__ import annotations

from jobs.simulator.base import ProviderSimulator
from jobs.simulator.clock import OUTCOMES, Phase, SimJob, Snapshot, synthesise
from jobs.simulator.media import WORDS, demo_sentences, silent_wav, srt_for
from jobs.simulator.server import Simulator
from jobs.simulator.tenants import Tenant
from jobs.simulator.wire import Reject, SimRequest, SimResponse
from jobs.simulator.world import FAULT_KINDS, Fault

__all__ = [
    "FAULT_KINDS",
    "OUTCOMES",
    "WORDS",
    "Fault",
    "Phase",
    "ProviderSimulator",
    "Reject",
    "SimJob",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "Snapshot",
    "Tenant",
    "demo_sentences",
    "silent_wav",
    "srt_for",
    "synthesise",
]
