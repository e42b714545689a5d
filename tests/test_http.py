"""The outbound choke point and its SSRF guard, over real sockets."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from datetime import UTC, datetime, timedelta
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
            self.send_header("retry-AFTER", "7")
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


def test_response_headers_are_case_insensitive(local_server):
    response = http.request("GET", f"{local_server}/small", purpose="loopback")
    assert response.headers["Retry-After"] == response.headers["retry-after"] == "7"
    assert http.Response(200, {"X-Thing": "1"}, b"").headers.get("x-thing") == "1"


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


# --- DNS rebinding: connect exactly where the check looked ---------------------------


@pytest.fixture
def canary():
    """A loopback listener that counts every connection it is offered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    connections: list[str] = []
    halt = threading.Event()

    def accept():
        while not halt.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                continue
            connections.append(peer[0])
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], connections
    halt.set()
    thread.join()
    listener.close()


def _resolver(monkeypatch, name: str, answers: list[str]):
    """socket.getaddrinfo that answers `name` with each address in turn (then the last),
    like a rebinding DNS server; every other name resolves as usual."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        address = answers[min(len(asked), len(answers) - 1)]
        asked.append(address)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


PUBLIC_ADDRESS = "93.184.215.14"  # global unicast; nothing here answers quickly, if at all


@pytest.mark.parametrize("send", ["subtitle fetch", "webhook post"])
def test_a_name_that_rebinds_to_loopback_never_reaches_it(monkeypatch, canary, send):
    port, connections = canary
    asked = _resolver(monkeypatch, "rebind.example", [PUBLIC_ADDRESS, "127.0.0.1"])
    url = f"http://rebind.example:{port}/hook"
    with pytest.raises((http.ConnectionFailed, http.Timeout)):
        if send == "subtitle fetch":
            http.fetch_public(url, timeout=(0.5, 0.5))
        else:
            http.public_request("POST", url, body=b"{}", timeout=(0.5, 0.5))
    time.sleep(0.2)  # the canary's accept loop looks every 0.1 s
    assert connections == []
    assert asked == [PUBLIC_ADDRESS]  # resolved once: the vetted answer is the one used


def test_signed_calls_are_vetted_after_dns_and_pinned_too(monkeypatch, canary, settings):
    settings.CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = False
    port, connections = canary
    _resolver(monkeypatch, "gateway.example", ["127.0.0.1"])
    with pytest.raises(http.Refused, match="127.0.0.1 of gateway.example"):
        http.request("GET", f"http://gateway.example:{port}/")
    _resolver(monkeypatch, "rebinding.example", [PUBLIC_ADDRESS, "127.0.0.1"])
    with pytest.raises((http.ConnectionFailed, http.Timeout)):
        http.request("GET", f"http://rebinding.example:{port}/", timeout=(0.5, 0.5))
    time.sleep(0.2)
    assert connections == []


def test_a_name_resolving_to_loopback_is_refused_before_any_connection(monkeypatch, canary):
    port, connections = canary
    _resolver(monkeypatch, "inside.example", ["127.0.0.1"])
    with pytest.raises(http.Refused, match="127.0.0.1 of inside.example"):
        http.fetch_public(f"http://inside.example:{port}/srt")
    time.sleep(0.2)
    assert connections == []


def test_the_pinned_connection_keeps_the_name_in_the_host_header(monkeypatch):
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    _resolver(monkeypatch, "files.example", ["127.0.0.1"])
    try:
        response = http.fetch_public(f"http://files.example:{port}/a.srt", allow_loopback=True)
    finally:
        server.shutdown()
    assert response.body == b"ok" and seen == [f"files.example:{port}"]


def _self_signed(name: str, directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on loopback with a certificate for cdn.example; records the SNI."""
    import requests.adapters

    cert, key = _self_signed("cdn.example", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"tls")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], names, cert, requests.adapters
    server.shutdown()


def test_tls_to_the_pinned_address_sends_the_name_and_checks_the_certificate_for_it(
    monkeypatch, tls_server
):
    port, names, cert, adapters = tls_server
    monkeypatch.setattr(adapters, "DEFAULT_CA_BUNDLE_PATH", cert)  # trust the test certificate
    _resolver(monkeypatch, "cdn.example", ["127.0.0.1"])
    response = http.fetch_public(f"https://cdn.example:{port}/a.srt", allow_loopback=True)
    assert response.body == b"tls" and names == ["cdn.example"]

    # The same server under a name its certificate does not carry: verification fails.
    _resolver(monkeypatch, "other.example", ["127.0.0.1"])
    with pytest.raises(http.ConnectionFailed):
        http.fetch_public(f"https://other.example:{port}/a.srt", allow_loopback=True)
    assert names[-1] == "other.example"


def test_the_guard_does_not_patch_urllib3_for_the_whole_process(canary):
    import urllib3

    port, connections = canary
    # Code outside the choke point (libraries, django-q2's own calls) is not ours to steer.
    assert urllib3.util.connection.create_connection.__module__ == "urllib3.util.connection"
    pool = urllib3.PoolManager()
    with contextlib.suppress(urllib3.exceptions.HTTPError):
        pool.request("GET", f"http://127.0.0.1:{port}/", retries=False, timeout=1.0)
    time.sleep(0.2)
    assert connections == ["127.0.0.1"]


# --- IPv6 transition forms are judged by the IPv4 they lead to -----------------------


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::a9fe:a9fe",
        "::ffff:0:127.0.0.1",  # IPv4-translated
        "::ffff:0:a9fe:a9fe",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of the metadata address
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "fec0::1",  # site-local
    ],
)
def test_ipv6_forms_that_embed_a_private_ipv4_are_refused(address):
    assert not http.address_allowed(address)


def test_ipv6_forms_of_public_ipv4_are_judged_public_and_metadata_never_passes():
    assert http.address_allowed("64:ff9b::808:808") and http.address_allowed("2002:808:808::1")
    assert http.address_allowed("::ffff:127.0.0.1", allow_loopback=True)
    assert not http.address_allowed("64:ff9b::a9fe:a9fe", allow_private=True)
    assert http.address_allowed("2002:a00:1::", allow_private=True)  # 6to4 of 10.0.0.1


def test_a_name_resolving_to_nat64_metadata_is_refused(monkeypatch, canary):
    port, _ = canary
    _resolver(monkeypatch, "nat64.example", ["64:ff9b::a9fe:a9fe"])
    with pytest.raises(http.Refused, match="169.254.169.254"):
        http.fetch_public(f"http://nat64.example:{port}/srt")


# --- a total deadline on every call -------------------------------------------------


@pytest.fixture
def dripping_server():
    """Answers at once with headers, then the body one byte every 0.2 s (`/body`), or
    the header lines themselves one byte at a time (`/headers`)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            try:
                if self.path == "/headers":
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 200:
                        self.wfile.write(bytes([byte]))
                        time.sleep(0.2)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "200")
                self.end_headers()
                for _ in range(200):
                    self.wfile.write(b"x")
                    time.sleep(0.2)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path", ["/body", "/headers"])
def test_a_dripping_answer_is_cut_at_the_deadline(dripping_server, path):
    started = time.monotonic()
    with pytest.raises(http.Timeout, match="no complete answer within 1 s"):
        http.request("GET", f"{dripping_server}{path}", timeout=(1.0, 1.0), deadline=1.0)
    assert time.monotonic() - started < 2.0  # each byte came well within the read timeout


def test_fetches_have_a_deadline_too(dripping_server):
    started = time.monotonic()
    with pytest.raises(http.Timeout):
        http.fetch_public(f"{dripping_server}/body", allow_loopback=True, deadline=0.8)
    assert time.monotonic() - started < 2.0


def test_deadline_by_caps_every_call_in_its_block(dripping_server):
    started = time.monotonic()
    with http.deadline_by(time.monotonic() + 0.6), pytest.raises(http.Timeout):
        http.request("GET", f"{dripping_server}/body", deadline=30.0)
    assert time.monotonic() - started < 1.5
    with http.deadline_by(time.monotonic() - 1), pytest.raises(http.Timeout, match="no time"):
        http.request("GET", f"{dripping_server}/body")


def test_a_pooled_connection_keeps_working_after_a_deadline_elsewhere(
    local_server, dripping_server
):
    assert http.request("GET", f"{local_server}/srt").body == b"x" * 10
    with pytest.raises(http.Timeout):
        http.request("GET", f"{dripping_server}/body", deadline=0.5)
    assert http.request("GET", f"{local_server}/srt").body == b"x" * 10  # same pool, reused
    assert http.request("GET", f"{local_server}/srt").body == b"x" * 10


def test_a_body_without_a_length_is_capped_while_it_streams():
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            try:
                for _ in range(64):  # 4 MiB on offer
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(http.TooLarge, match="over the 100000 byte cap"):
            http.request("GET", f"http://127.0.0.1:{server.server_address[1]}/", max_bytes=100_000)
    finally:
        server.shutdown()


def test_user_info_never_appears_in_error_messages():
    with pytest.raises(http.ConnectionFailed) as caught:
        http.request("GET", "http://user:hunter2-pass@127.0.0.1:9/", timeout=(0.5, 0.5))
    assert "hunter2" not in str(caught.value) and "user:" not in str(caught.value)
