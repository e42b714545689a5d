"""The outbound choke point and its SSRF guard, over real sockets."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs import http


@pytest.fixture
def local_server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"x" * (5000 if self.path == "/big" else 10)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_private_loopback_link_local_cgnat_and_metadata_addresses_are_refused(address):
    assert not http.address_allowed(address)


def test_public_addresses_are_allowed():
    assert http.address_allowed("8.8.8.8") and http.address_allowed("2606:4700::1111")
    assert http.address_allowed("127.0.0.1", allow_loopback=True)
    assert not http.address_allowed("169.254.169.254", allow_loopback=True)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "/rel"]
)
def test_only_http_urls_are_fetched(url):
    with pytest.raises(http.Refused):
        http.fetch_public(url)


def test_loopback_is_refused_at_connect_time_even_by_name(local_server):
    port = local_server.rsplit(":", 1)[1]
    for url in (f"{local_server}/srt", f"http://localhost:{port}/srt"):
        with pytest.raises(http.Refused):
            http.fetch_public(url)
    assert http.fetch_public(f"{local_server}/srt", allow_loopback=True).body == b"x" * 10


def test_redirects_are_refused_not_followed(local_server):
    with pytest.raises(http.Refused, match="redirects are not followed"):
        http.fetch_public(f"{local_server}/redirect", allow_loopback=True)


def test_size_cap(local_server):
    with pytest.raises(http.TooLarge):
        http.fetch_public(f"{local_server}/big", allow_loopback=True, max_bytes=1000)


def test_api_pool_connections_are_not_reused_by_public_fetches(local_server):
    assert http.request("GET", f"{local_server}/srt").status == 200  # pooled API connection
    with pytest.raises(http.Refused):
        http.fetch_public(f"{local_server}/srt")


def test_error_messages_drop_the_query_and_secrets():
    with pytest.raises(http.ConnectionFailed) as caught:
        http.request(
            "GET",
            "http://127.0.0.1:9/path?signature=abc&token=s3cr3t-value",
            secrets=["s3cr3t-value"],
            timeout=(0.5, 0.5),
        )
    assert "signature" not in str(caught.value) and "s3cr3t" not in str(caught.value)
    assert http.redact("key s3cr3t-value here", ["s3cr3t-value"]) == "key [redacted] here"
