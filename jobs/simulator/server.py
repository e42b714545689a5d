"""The HTTP server: one threaded server answering for all five fake clouds.

Each request is routed to the provider simulator whose `matches()` claims it (by path or
by its action header), which verifies the signature with the tenant's credentials exactly
as the real API would and answers in the provider's own shapes. Injected faults are
applied here, around the provider's answer; `/_sim/...` serves media, fault control and
notification control (notify.py).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from jobs.simulator.media import cover_svg, demo_wav, ranged, srt_for
from jobs.simulator.tencent_vod import TencentVodSimulator
from jobs.simulator.wire import Reject, SimRequest, SimResponse
from jobs.simulator.world import World


class Simulator(World):
    """All five fake clouds behind one HTTP server.

    `start()` serves on 127.0.0.1 (port 0 picks a free one) in a daemon thread;
    `url` is the base URL to put in accounts' `endpoint`.
    """

    url = ""  # set by start() or serve_forever()
    _server: ThreadingHTTPServer | None = None

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
        fault = self.take_fault(code)
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
                return ranged(request, demo_wav(), "audio/wav")
            if kind == "subtitles":
                return SimResponse(
                    200, srt_for(job).encode(), {"Content-Type": "application/x-subrip"}
                )
            if kind == "cover":
                svg = cover_svg(job).encode()
                return SimResponse(200, svg, {"Content-Type": "image/svg+xml"})
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
        if parts[1:] == ["notify"]:
            return self._notify_control(request)
        if parts[1:] == ["changes"] and request.method == "GET":
            wanted = request.params.get("provider")
            provider = wanted[0] if wanted else None
            return SimResponse.json({"changes": self.notifier.changes_for(provider)})
        return SimResponse(404, b"not found")

    def _notify_control(self, request: SimRequest) -> SimResponse:
        if request.method == "GET":
            vod = self.providers["tencent_vod"]
            assert isinstance(vod, TencentVodSimulator)
            pull = {"every_tenant": vod.events.every_tenant, "tenants": sorted(vod.events.queues)}
            targets = [t.counts() for t in list(self.notifier.targets)]
            return SimResponse.json({"targets": targets, "vod_pull": pull})
        if request.method == "DELETE":
            self.clear_notifications()
            return SimResponse.json({"ok": True})
        try:
            spec = request.json()
        except ValueError:
            spec = None
        if not isinstance(spec, dict) or spec.get("provider") not in self.providers:
            return SimResponse.json({"error": "a JSON object with a known provider"}, 400)
        provider, tenant = spec.pop("provider"), spec.pop("tenant", None)
        watch = spec.pop("watch", None)
        try:
            if tenant is not None and not isinstance(tenant, str):
                raise ValueError("tenant must be the tenant's key credential, a string")
            if spec.pop("mode", "push") == "pull":
                if provider != "tencent_vod":
                    raise ValueError("only tencent_vod has a pull mode")
                hold, enabled = spec.get("hold"), spec.get("enabled", True)
                if not isinstance(enabled, bool):
                    raise ValueError("enabled must be true or false")
                if hold is not None and not 0 <= float(hold) <= 60:
                    raise ValueError("hold must lie between 0 and 60 seconds")
                self.vod_events(
                    tenant,
                    enabled,
                    hold=None if hold is None else float(hold),
                    duplicate=float(spec.get("duplicate", 0.0)),
                )
            elif "url" in spec:
                self.notify_to(provider, spec.pop("url"), tenant=tenant, **spec)
            elif watch is None:
                raise ValueError("give a url, a mode or a watch list")
            if watch is not None:
                if not isinstance(watch, list):
                    raise ValueError("watch must be a list of external ids")
                self.notifier.watch(provider, [str(i) for i in watch])
        except (TypeError, ValueError) as exc:
            return SimResponse.json({"error": str(exc)}, 400)
        return SimResponse.json({"ok": True})

    # --- serving --------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        server = _Server((host, port), _handler_for(self))
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="simulator", daemon=True).start()
        self.notifier.start()
        return self.url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8001) -> None:
        server = _Server((host, port), _handler_for(self))
        self._server = server
        self.url = f"http://{host}:{server.server_address[1]}"
        self.notifier.start()
        try:
            server.serve_forever()
        finally:
            self.notifier.stop()

    def stop(self) -> None:
        self.notifier.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


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
