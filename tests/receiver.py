"""A local webhook receiver for the alert tests: an HTTP endpoint on 127.0.0.1 that
records every request and answers from a script (the `receiver` fixture in
tests/conftest.py starts one per test)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

ROBOT_OK = b'{"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}'


class Recorded:
    def __init__(self, method: str, path: str, headers, body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.path).query))


class Receiver:
    """A local HTTP endpoint that records every request and answers from a script
    (`answers`, in order), then with `default`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.answers: list[tuple[int, bytes]] = []
        self.default: tuple[int, bytes] = (200, ROBOT_OK)
        self.extra_headers: dict[str, str] = {}  # sent with every answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(Recorded("POST", self.path, self.headers, body))
                status, answer = receiver.answers.pop(0) if receiver.answers else receiver.default
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"
