"""A small hostile HTTP server for tests, on 127.0.0.1 only: every request is answered by the scenario function
the test sets, which writes whatever it likes to the socket (HTML, half a body, a body trickling a byte at a time,
redirects, gigantic lengths). Shares nothing with the simulator."""

from __future__ import annotations

import datetime
import os
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Scenario = Callable[["HostileHandler"], None]


class HostileHandler(BaseHTTPRequestHandler):
    server: HostileServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.server.date or super().date_time_string(timestamp)

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        try:
            self.server.scenario(self)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client gave up on us: that is the point
        self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

    def reply(self, status: int, body: bytes = b"", *, content_type: str = "application/json",
              length: int | None = None, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_chunked(self, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, scenario: Scenario | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), HostileHandler)
        self.scenario: Scenario = scenario or (lambda h: h.reply(404))
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.date: str | None = None  # the Date header every answer carries (None: the real time)
        self._tls = tls
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that refuses the certificate or hangs up is what these tests provoke: no traceback on stderr

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            sock.settimeout(5)
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def self_signed_tls() -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1, which no client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    directory = Path(os.environ.get("TMPDIR", "/tmp"))
    cert_path = directory / f"hostile-{os.getpid()}.pem"
    key_path = directory / f"hostile-{os.getpid()}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    cert_path.unlink()
    key_path.unlink()
    return context
