"""Fake clouds that speak the five real wire protocols over real HTTP.

One threaded HTTP server answers for every provider: each request is routed to the
provider simulator whose `matches()` claims it (by path or by its action header), which
verifies the signature with the tenant's credentials exactly as the real API would, and
answers in the provider's own shapes. Jobs move with the simulator's clock.

Jobs come from two places: tests add them explicitly (`add_job`), and any external id of
the form `sim-<created>-<queue s>-<run s>-<ok|fail|cancel>-<tag>` is synthesised on demand,
so a separately started simulator (demo, benchmarks) needs no shared state with Django.
"""

from __future__ import annotations

import enum
import hashlib
import io
import json
import math
import random
import re
import threading
import time
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from jobs.providers import PROVIDERS


class Phase(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


OUTCOMES = {"ok": Phase.SUCCEEDED, "fail": Phase.FAILED, "cancel": Phase.CANCELED}
_SYNTHETIC = re.compile(r"^sim-(\d+)-(\d+)-(\d+)-(ok|fail|cancel)-[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Snapshot:
    """What a job looks like at one instant; provider simulators render this."""

    phase: Phase
    progress: int
    queue_position: int
    created: float
    started: float | None
    finished: float | None


@dataclass
class SimJob:
    provider: str
    external_id: str
    created: float
    queue_seconds: float = 5.0
    run_seconds: float = 20.0
    queue_ahead: int = 3
    outcome: Phase = Phase.SUCCEEDED
    failure_code: str = ""
    failure_message: str = ""
    kind: str = ""
    name: str = ""
    # Tenant key id that owns the job; None means any tenant of the provider may see it.
    owner: str | None = None
    # Tests pin a job to a phase (and progress) instead of letting the clock move it.
    pinned: Phase | None = None
    pinned_progress: int | None = None
    # A raw provider state to report verbatim (e.g. one Clapboard has never seen).
    raw_state: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def snapshot(self, now: float) -> Snapshot:
        started = self.created + self.queue_seconds
        finished = started + self.run_seconds
        if self.pinned is not None:
            phase = self.pinned
            progress = (
                self.pinned_progress
                if self.pinned_progress is not None
                else (100 if phase is Phase.SUCCEEDED else 0)
            )
            queue_position = self.queue_ahead if phase is Phase.QUEUED else 0
            return Snapshot(
                phase,
                progress,
                queue_position,
                self.created,
                None if phase is Phase.QUEUED else started,
                finished if phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELED) else None,
            )
        elapsed = now - self.created
        if elapsed < self.queue_seconds:
            left = 1 - elapsed / self.queue_seconds if self.queue_seconds else 0
            return Snapshot(
                Phase.QUEUED, 0, math.ceil(self.queue_ahead * left), self.created, None, None
            )
        if elapsed < self.queue_seconds + self.run_seconds:
            done = (elapsed - self.queue_seconds) / self.run_seconds
            return Snapshot(Phase.RUNNING, min(99, int(done * 100)), 0, self.created, started, None)
        progress = 100 if self.outcome is Phase.SUCCEEDED else 50
        return Snapshot(self.outcome, progress, 0, self.created, started, finished)

    @property
    def seed(self) -> int:
        """A stable number per job for choosing names, codes and words."""
        return int.from_bytes(hashlib.sha256(self.external_id.encode()).digest()[:8], "big")


@dataclass
class Tenant:
    """One set of credentials the fake cloud accepts (an appkey, a SecretId, an AK...)."""

    provider: str
    credentials: dict[str, str]
    options: dict[str, str] = field(default_factory=dict)
    rate_limit: float | None = None
    _tokens: float = 0.0
    _stamp: float = 0.0

    def take_token(self, now: float) -> bool:
        """Token bucket with a one-second burst; False means answer 'throttled'."""
        if not self.rate_limit:
            return True
        if not self._stamp:
            self._tokens, self._stamp = self.rate_limit, now
        self._tokens = min(self.rate_limit, self._tokens + (now - self._stamp) * self.rate_limit)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str  # percent-encoded, as sent
    query: str  # raw query string, as sent
    headers: Message
    body: bytes

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds between body bytes: a provider that answers, then trickles (0: all at once).
    drip: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> SimResponse:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def xml(cls, text: str, status: int = 200, **headers: str) -> SimResponse:
        return cls(status, text.encode(), {"Content-Type": "application/xml", **headers})


class Reject(Exception):
    """Raised by a provider simulator to answer with an error response right away."""

    def __init__(self, response: SimResponse) -> None:
        super().__init__(response.status)
        self.response = response


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

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def matches(self, request: SimRequest) -> bool:
        raise NotImplementedError

    def authenticate(self, request: SimRequest) -> Tenant:
        """Verify the request's signature; raise Reject with the provider's answer."""
        raise NotImplementedError

    def handle(self, request: SimRequest, tenant: Tenant) -> SimResponse:
        raise NotImplementedError

    # Provider-shaped failures, used for rate limits and injected faults.
    def auth_error(self, reason: str) -> SimResponse:
        """reason: 'signature', 'expired' (clock skew) or 'unknown_key'."""
        raise NotImplementedError

    def throttled(self) -> SimResponse:
        raise NotImplementedError

    def internal_error(self) -> SimResponse:
        raise NotImplementedError

    def wrong_shape(self) -> SimResponse:
        return SimResponse.json({"Unexpected": [1, 2, 3], "Status": {"nested": True}})

    # Helpers for subclasses.
    def tenant(self, key_id: str) -> Tenant:
        tenant = self.sim.tenants.get((self.code, key_id))
        if tenant is None:
            raise Reject(self.auth_error("unknown_key"))
        return tenant

    def job(self, external_id: str, tenant: Tenant) -> SimJob | None:
        return self.sim.find_job(self.code, external_id, tenant)

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


# --- faults -------------------------------------------------------------------------

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


# --- media served by the simulator ----------------------------------------------------


def silent_wav(seconds: float = 12.0, rate: int = 8000) -> bytes:
    """A small playable WAV (a quiet tone) so players and word previews can run."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        frames = bytearray(
            128 + int(4 * math.sin(2 * math.pi * 220 * i / rate))
            for i in range(int(seconds * rate))
        )
        out.writeframes(bytes(frames))
    return buffer.getvalue()


WORDS = (
    "welcome to the evening news our virtual anchor reads the headlines "
    "markets rose today while the weather turns cold across the north"
).split()


def demo_sentences(job: SimJob, count: int = 3) -> list[list[tuple[str, int, int]]]:
    """Deterministic sentences of (word, start_ms, end_ms) for a job."""
    sentences, cursor = [], 0
    rng = random.Random(job.seed)
    for _ in range(count):
        words = []
        for _ in range(rng.randint(5, 9)):
            word = rng.choice(WORDS)
            length = 180 + 40 * len(word)
            words.append((word, cursor, cursor + length))
            cursor += length + 60
        sentences.append(words)
        cursor += 300
    return sentences


def srt_for(job: SimJob) -> str:
    def stamp(ms: int) -> str:
        return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02},{ms % 1000:03}"

    blocks = []
    for number, words in enumerate(demo_sentences(job), 1):
        text = " ".join(w for w, _, _ in words)
        blocks.append(f"{number}\n{stamp(words[0][1])} --> {stamp(words[-1][2])}\n{text}\n")
    return "\n".join(blocks)


# --- the simulator --------------------------------------------------------------------


class Simulator:
    """All five fake clouds behind one HTTP server.

    `start()` serves on 127.0.0.1 (port 0 picks a free one) in a daemon thread;
    `url` is the base URL to put in accounts' `endpoint`.
    """

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
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self.providers: dict[str, ProviderSimulator] = {}
        for code in PROVIDERS:
            try:
                module = import_module(f"jobs.simulator.{code}")
            except ModuleNotFoundError as exc:
                if exc.name != f"jobs.simulator.{code}":
                    raise
                continue  # a provider without a simulator is simply not simulated
            self.providers[code] = module.Simulator(self)
        self._wav = silent_wav()

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
        job = self.jobs.get((provider, external_id)) or self._synthesise(provider, external_id)
        if job is None:
            return None
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

    def _synthesise(self, provider: str, external_id: str) -> SimJob | None:
        match = _SYNTHETIC.match(external_id)
        if not match:
            return None
        created, queue, run, outcome = match.groups()
        queue_seconds = float(queue)
        return SimJob(
            provider=provider,
            external_id=external_id,
            created=float(created),
            queue_seconds=queue_seconds,
            run_seconds=max(1.0, float(run)),
            queue_ahead=int(queue_seconds // 4),
            outcome=OUTCOMES[outcome],
        )

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

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.faults.clear()
            self.requests.clear()
            self.tenants.clear()
            self.clock_offset = 0.0
            self.latency = 0.0
            self.fault_delay = 3.0
            self.drip_interval = 1.0

    def _take_fault(self, provider: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.provider in (None, provider):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self.faults.remove(fault)
                    return fault.kind
        return None

    # --- dispatch -------------------------------------------------------------

    def dispatch(self, request: SimRequest) -> SimResponse | None:
        """Answer one request; None means drop the connection without an answer."""
        if request.path.startswith("/_sim/"):
            return self._builtin(request)
        code, provider = next(
            ((c, p) for c, p in self.providers.items() if p.matches(request)), ("", None)
        )
        if provider is None:
            return SimResponse.json({"error": "no simulated API at this path"}, 404)
        with self.lock:
            self.requests[code] = self.requests.get(code, 0) + 1
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(code)
        if fault == "reset":
            return None
        if fault == "timeout":
            time.sleep(self.fault_delay)
        if fault == "clock_skew":
            return provider.auth_error("expired")
        if fault == "bad_signature":
            return provider.auth_error("signature")
        if fault == "http_500":
            return provider.internal_error()
        if fault == "http_502_html":
            return SimResponse(
                502,
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                {"Content-Type": "text/html"},
            )
        if fault == "not_json":
            return SimResponse(200, b"<html>maintenance</html>", {"Content-Type": "text/html"})
        if fault == "wrong_shape":
            return provider.wrong_shape()
        if fault == "huge":
            return SimResponse(200, b'{"pad": "' + b"x" * (12 * 1024 * 1024) + b'"}')
        try:
            tenant = provider.authenticate(request)
            if fault == "throttle" or not tenant.take_token(self.now()):
                return provider.throttled()
            response = provider.handle(request, tenant)
        except Reject as reject:
            response = reject.response
        if fault == "truncated":
            response.body = response.body[: max(1, len(response.body) // 2)]
        if fault == "slow_drip":
            response.drip = self.drip_interval
        return response

    def _builtin(self, request: SimRequest) -> SimResponse:
        parts = request.path.strip("/").split("/")
        if parts[1:2] == ["health"]:
            return SimResponse.json({"ok": True, "requests": self.requests})
        if len(parts) == 4 and parts[2] in self.providers:
            kind, code, name = parts[1], parts[2], parts[3].rsplit(".", 1)[0]
            job = self.find_job(code, name, None)
            if job is None:
                return SimResponse(404, b"not found")
            if kind == "media":
                return _ranged(request, self._wav, "audio/wav")
            if kind == "subtitles":
                return SimResponse(
                    200, srt_for(job).encode(), {"Content-Type": "application/x-subrip"}
                )
            if kind == "cover":
                svg = (
                    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="180">'
                    f'<rect width="320" height="180" fill="hsl({job.seed % 360},40%,40%)"/></svg>'
                )
                return SimResponse(200, svg.encode(), {"Content-Type": "image/svg+xml"})
        if parts[1:2] == ["faults"] and request.method == "POST":
            spec = request.json() or {}
            # A separately started simulator (benchmarks) is slowed down from outside.
            if "fault_delay" in spec:
                self.fault_delay = float(spec["fault_delay"])
            if "drip_interval" in spec:
                self.drip_interval = float(spec["drip_interval"])
            self.inject(spec["kind"], spec.get("provider"), spec.get("count"))
            return SimResponse.json({"ok": True})
        if parts[1:2] == ["faults"] and request.method == "DELETE":
            self.clear_faults()
            return SimResponse.json({"ok": True})
        return SimResponse(404, b"not found")

    # --- serving --------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = _Server((host, port), _handler_for(self))
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="simulator", daemon=True).start()
        return self.url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8001) -> None:
        server = _Server((host, port), _handler_for(self))
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _ranged(request: SimRequest, body: bytes, content_type: str) -> SimResponse:
    """Serve bytes with Range support: browsers only seek in media that allows it."""
    headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.header("Range").strip())
    if not match or not any(match.groups()):
        return SimResponse(200, body, headers)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else len(body) - 1, len(body) - 1)
    else:
        start, end = max(0, len(body) - int(last)), len(body) - 1
    if start > end:
        return SimResponse(416, b"", {"Content-Range": f"bytes */{len(body)}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
    return SimResponse(206, body[start : end + 1], headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # benchmarks open many keep-alive connections at once


def _handler_for(sim: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real gateways

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            request = SimRequest(self.command, split.path, split.query, self.headers, body)
            try:
                response = sim.dispatch(request)
            except Exception as exc:  # a simulator bug must look like a 500, not a hang
                response = SimResponse(500, f"simulator error: {type(exc).__name__}".encode())
            if response is None:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD" and response.drip:
                    self.wfile.flush()
                    for offset in range(len(response.body)):
                        time.sleep(response.drip)
                        self.wfile.write(response.body[offset : offset + 1])
                        self.wfile.flush()
                elif self.command != "HEAD":
                    self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (timeouts, size caps): nothing left to answer.
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
