"""The fake clouds' push notifications: notice job changes, deliver them with faults.

A watcher thread reads every job of a provider that has a notification target (or, for
VOD, an event queue) a few times a second and records each change of phase, with the
simulator-clock time it happened, in `changes`. A change the cloud announces
(notices.announces) is queued, and each target's own sender thread POSTs its notifications
in order, so neither the server, the watcher nor another target waits on a slow receiver
(one thread for all fell behind at 20 POSTs a second, as no cloud would). Targets inject their own faults: drop,
duplicate, delay and reorder; each counts what it did.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from jobs.simulator import notices
from jobs.simulator.base import ProviderSimulator
from jobs.simulator.clock import Phase, SimJob, Snapshot
from jobs.simulator.tenants import Tenant
from jobs.simulator.tencent_vod import TencentVodSimulator


class WatchedWorld(Protocol):
    """What the notifier reads of the world (world.py builds it), typed here so this
    module never imports the world that owns it."""

    lock: threading.Lock
    jobs: dict[tuple[str, str], SimJob]
    tenants: dict[tuple[str, str], Tenant]
    providers: dict[str, ProviderSimulator]

    def now(self) -> float: ...

    def find_job(self, provider: str, external_id: str, tenant: Tenant | None) -> SimJob | None: ...


log = logging.getLogger(__name__)
SCAN_SECONDS = 0.1
_CLOSE = "close"  # to a target's sender thread: its target is gone
SEND_TIMEOUT = 5.0
HOLD_BACK_SECONDS = 1.0  # a reordered notification waits this long for a successor
OPTIONS = ("format", "key", "auth_key", "drop", "duplicate", "delay", "reorder", "seed")


@dataclass
class Target:
    """Where one provider's (or one tenant's) notifications go, and how they misbehave."""

    provider: str
    url: str
    tenant: str | None = None  # the tenant's key credential; None: every tenant
    format: str = "xml"  # tencent_ci only: "xml" or "json"
    key: str = ""  # huawei_metastudio MSS_A key (empty: auth_type NONE)
    auth_key: str = ""  # aliyun_ice AuthKey (empty: AuthSwitch off)
    drop: float = 0.0
    duplicate: float = 0.0
    delay: tuple[float, float] = (0.0, 0.0)
    reorder: bool = False
    seed: int | None = None  # makes the faults repeatable
    sent: int = 0  # POSTs that got an HTTP answer (a duplicate counts twice)
    dropped: int = 0
    duplicated: int = 0
    failed: int = 0  # POSTs that got no answer (refused, timed out)
    # (external id, state, change time, HTTP status or None) per POST, newest last.
    log: deque[tuple[str, str, float, int | None]] = field(
        default_factory=lambda: deque(maxlen=10_000)
    )
    _held: Any = None
    _mailbox: Any = None  # its sender thread's queue, made with the thread

    def __post_init__(self) -> None:
        # Two streams: the watcher draws drop/duplicate/delay, the sender reorder, so
        # neither thread's timing shifts the other's draws.
        self._random = random.Random(self.seed)
        self._reorder_random = random.Random(self.seed)

    def covers(self, job: SimJob) -> bool:
        return self.tenant is None or not job.owner or job.owner == self.tenant

    def counts(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "url": self.url,
            "tenant": self.tenant,
            "signed": bool(self.key or self.auth_key),  # the keys themselves stay here
            "sent": self.sent,
            "dropped": self.dropped,
            "duplicated": self.duplicated,
            "failed": self.failed,
        }


def target_from(provider: str, url: str, tenant: str | None, options: Mapping[str, Any]) -> Target:
    """A Target from the control endpoint's or the Python API's options; ValueError for
    anything out of range."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"unknown notification options: {', '.join(sorted(unknown))}")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url must be an http(s) URL")
    if options.get("format", "xml") not in ("xml", "json"):
        raise ValueError('format must be "xml" or "json"')
    drop, duplicate = float(options.get("drop", 0.0)), float(options.get("duplicate", 0.0))
    if not (0.0 <= drop <= 1.0 and 0.0 <= duplicate <= 1.0):
        raise ValueError("drop and duplicate must lie between 0.0 and 1.0")
    low, high = (float(x) for x in options.get("delay", (0.0, 0.0)))
    if not 0.0 <= low <= high:
        raise ValueError("delay must be [min_s, max_s] with 0 <= min_s <= max_s")
    return Target(
        provider,
        url,
        tenant,
        format=str(options.get("format", "xml")),
        key=str(options.get("key") or ""),
        auth_key=str(options.get("auth_key") or ""),
        delay=(low, high),
        reorder=bool(options.get("reorder", False)),
        seed=None if options.get("seed") is None else int(options["seed"]),
        drop=drop,
        duplicate=duplicate,
    )


@dataclass(frozen=True)
class _Delivery:
    target: Target
    url: str
    headers: dict[str, str]
    body: notices.Body
    external_id: str
    state: str
    changed_at: float


class Notifier:
    """Targets, the changes seen and the threads (a watcher, a timer, a sender per
    target), for one World."""

    def __init__(self, world: WatchedWorld) -> None:
        self.world = world
        self.targets: list[Target] = []
        # (provider, external id, phase, simulator-clock change time), oldest first.
        self.changes: deque[tuple[str, str, str, float]] = deque(maxlen=100_000)
        self._seen: dict[tuple[str, str], Phase] = {}
        self._since: dict[str, float] = {}  # provider -> when watching it began
        self._watched: dict[tuple[str, str], SimJob] = {}  # `sim-…` jobs to watch too
        self._lock = threading.Lock()
        self._outbox: list[tuple[float, int, _Delivery]] = []
        self._wake = threading.Condition(self._lock)
        self._order = itertools.count()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Bumped by clear(): a scan that began before a reset records nothing after it.
        self._generation = 0

    # --- control ------------------------------------------------------------------

    def add(self, target: Target) -> Target:
        with self._lock:
            self.targets.append(target)
        self.watching(target.provider)
        return target

    def watching(self, provider: str) -> None:
        with self._lock:
            self._since.setdefault(provider, self.world.now())

    def watch(self, provider: str, external_ids: list[str]) -> None:
        """Also watch jobs a `sim-…` id describes (the world holds no such job)."""
        for external_id in external_ids:
            job = self.world.find_job(provider, external_id, None)
            if job is not None:
                with self._lock:
                    self._watched.setdefault((provider, external_id), job)

    def saw(self, job: SimJob) -> None:
        """A `sim-…` job was asked about: watch it if its provider is watched."""
        if job.provider in self._since:
            self._watched.setdefault((job.provider, job.external_id), job)

    def clear(self) -> None:
        with self._lock:
            self._close_senders()
            self.targets.clear()
            self.changes.clear()
            self._seen.clear()
            self._since.clear()
            self._watched.clear()
            self._outbox.clear()
            self._generation += 1

    # --- threads ------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._watch_loop, name="sim-notify-watch", daemon=True),
            threading.Thread(target=self._send_loop, name="sim-notify-send", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=SEND_TIMEOUT + 1)
        self._threads = []
        with self._lock:
            self._close_senders()  # a restart makes new ones

    def _close_senders(self) -> None:
        for target in self.targets:
            if target._mailbox is not None:
                target._mailbox.put(_CLOSE)
                target._mailbox = None

    def _watch_loop(self) -> None:
        while not self._stop.wait(SCAN_SECONDS):
            try:
                self.scan()
            except Exception:  # a simulator bug must not end notifications for the session
                log.exception("simulator notification scan failed")

    def scan(self) -> None:
        """Notice every change since the last scan and queue what it announces."""
        with self._lock:
            providers = dict(self._since)
            watched = list(self._watched.items())
            generation = self._generation
        if not providers:
            return
        with self.world.lock:
            jobs = [(k, j) for k, j in self.world.jobs.items() if k[0] in providers]
        now = self.world.now()
        for key, job in itertools.chain(jobs, watched):
            if generation != self._generation:
                return
            before = self._seen.get(key)
            if before in notices.TERMINAL and job.pinned is None:
                continue  # the clock moves a finished job no further
            if before is None:
                # A job born after watching began was seen queued; an older one is news
                # only from its next change on.
                before = Phase.QUEUED if job.created >= providers[key[0]] else None
            snap = job.snapshot(now)
            before = before or snap.phase
            self._seen[key] = snap.phase
            if snap.phase is before:
                continue
            if before is Phase.QUEUED and snap.phase in notices.TERMINAL and job.pinned is None:
                # The clock jumped over the whole run: it still started first.
                if snap.started is not None:
                    self._changed(job, Phase.RUNNING, snap, now)
            self._changed(job, snap.phase, snap, now)

    def _changed(self, job: SimJob, phase: Phase, snap: Snapshot, now: float) -> None:
        if job.pinned is not None and job.canceled_at is None:
            changed_at = now  # a test moved it: it changed when we saw it
        elif phase is Phase.RUNNING:
            changed_at = min(now, snap.started or now)
        else:
            changed_at = min(now, snap.finished or now)
        self.changes.append((job.provider, job.external_id, phase.value, changed_at))
        sim = self.world.providers[job.provider]
        if not notices.announces(sim, job, phase):
            return
        moment = Snapshot(phase, snap.progress, 0, snap.created, snap.started, snap.finished)
        vod = sim if isinstance(sim, TencentVodSimulator) else None
        if vod is not None and vod.events.active:
            tenants = [t for (code, t) in list(self.world.tenants) if code == job.provider]
            vod.events.publish(notices.vod_event(vod, job, moment), job.owner, tenants)
        with self._lock:
            targets = [t for t in self.targets if t.provider == job.provider and t.covers(job)]
        for target in targets:
            tenant = self._tenant(target, job)
            body = notices.render(sim, job, moment, tenant, target.format)
            options = {"key": target.key, "auth_key": target.auth_key}
            url, headers = notices.sign(job.provider, target.url, options, self.world.now())
            delivery = _Delivery(
                target, url, headers, body, job.external_id, phase.value, changed_at
            )
            self._queue(delivery)

    def _tenant(self, target: Target, job: SimJob) -> Tenant | None:
        key = target.tenant or job.owner
        return self.world.tenants.get((job.provider, key)) if key else None

    def _queue(self, delivery: _Delivery) -> None:
        target = delivery.target
        if target._random.random() < target.drop:
            target.dropped += 1
            return
        copies = 1
        if target._random.random() < target.duplicate:
            target.duplicated += 1
            copies = 2
        low, high = target.delay
        due = time.monotonic() + (target._random.uniform(low, high) if high else 0.0)
        with self._wake:
            for _ in range(copies):
                heapq.heappush(self._outbox, (due, next(self._order), delivery))
            self._wake.notify_all()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            delivery, overdue = None, []
            with self._wake:
                now = time.monotonic()
                if self._outbox and self._outbox[0][0] <= now:
                    _, _, delivery = heapq.heappop(self._outbox)
                else:
                    wait = self._outbox[0][0] - now if self._outbox else SCAN_SECONDS
                    self._wake.wait(min(wait, SCAN_SECONDS))
                    now = time.monotonic()
                    overdue = [t for t in self.targets if t._held and t._held[0] <= now]
            for target in overdue:
                self._mail(target, None)  # None: post the one held back
            if delivery is not None:
                self._mail(delivery.target, delivery)

    def _mail(self, target: Target, delivery: _Delivery | None) -> None:
        with self._lock:
            if self._stop.is_set() or not any(t is target for t in self.targets):
                return  # cleared or stopped meanwhile
            if target._mailbox is None:
                target._mailbox = queue.SimpleQueue()
                sender = threading.Thread(
                    target=self._post_loop, args=(target,), name="sim-notify-post", daemon=True
                )
                self._threads.append(sender)
                sender.start()
            target._mailbox.put(delivery)

    def _post_loop(self, target: Target) -> None:
        session = requests.Session()  # a thread's own: a Session is not thread-safe
        mailbox = target._mailbox
        while (item := mailbox.get()) != _CLOSE:
            if item is None:
                self._release(target, session)
            else:
                self._send_in_order(item, session)

    def _send_in_order(self, delivery: _Delivery, session: requests.Session) -> None:
        target = delivery.target
        if target.reorder and target._held is None and target._reorder_random.random() < 0.5:
            # Held back until the next notification for this target has gone.
            target._held = (time.monotonic() + HOLD_BACK_SECONDS, delivery)
            return
        self._post(delivery, session)
        self._release(target, session)

    def _release(self, target: Target, session: requests.Session) -> None:
        held, target._held = target._held, None
        if held is not None:
            self._post(held[1], session)

    def _post(self, delivery: _Delivery, session: requests.Session) -> None:
        target = delivery.target
        # The fake cloud calls out over plain requests: it is not Clapboard's outbound
        # traffic (jobs/http.py), and a receiver's failure is only counted.
        try:
            response = session.post(
                delivery.url,
                data=delivery.body.content,
                headers={"Content-Type": delivery.body.content_type, **delivery.headers},
                timeout=SEND_TIMEOUT,
            )
            status: int | None = response.status_code
            target.sent += 1
        except requests.RequestException:
            status = None
            target.failed += 1
        target.log.append((delivery.external_id, delivery.state, delivery.changed_at, status))

    # --- reading ------------------------------------------------------------------

    def changes_for(self, provider: str | None) -> list[dict[str, Any]]:
        return [
            {"provider": p, "external_id": e, "state": s, "changed_at": at}
            for p, e, s, at in list(self.changes)
            if provider in (None, p)
        ]
