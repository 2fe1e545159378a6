"""A raw keep-alive HTTP/1.1 server on 127.0.0.1 for the client's transport: it keeps every request exactly as the
bytes arrived (request line, headers in order, body) and answers each at once with the same 200. Raw, not
http.server, so nothing between the socket and the record parses or normalizes a byte. Shares nothing with the
simulator. Used by tests/e2e/test_asc_wire_bytes.py (wire equality) and bench/asc_wire.py (CPU an exchange)."""

from __future__ import annotations

import socket
import threading


class RecordingServer:
    """Every request is answered 200 with `body` as JSON (and `extra_headers`, raw header lines); with `cookie`, the
    first answer on each connection also sets one (`session=abc0`), so a client's cookie jar has one to send back."""

    def __init__(self, body: bytes, *, cookie: bool = False, extra_headers: bytes = b"") -> None:
        self.requests: list[bytes] = []
        self._body = body
        self._cookie = cookie
        self._extra = extra_headers
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        # Acknowledged at once (TCP_QUICKACK before every read): a request whose body goes out in a send of its own
        # after the headers (a proxied POST: that connection is not TCP_NODELAY) waited the ~40 ms of a delayed ACK
        # for Nagle to let the body go. The bytes recorded are the same. (Linux has the option; elsewhere, the wait.)
        quick_ack = getattr(socket, "TCP_QUICKACK", None)
        buffered = b""
        answered = 0
        with connection:
            while True:
                while b"\r\n\r\n" not in buffered:
                    if quick_ack is not None:
                        connection.setsockopt(socket.IPPROTO_TCP, quick_ack, 1)
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, _, rest = buffered.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    if quick_ack is not None:
                        connection.setsockopt(socket.IPPROTO_TCP, quick_ack, 1)
                    rest += connection.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest[:length])
                buffered = rest[length:]
                cookie = b"Set-Cookie: session=abc0; Path=/\r\n" if self._cookie and answered == 0 else b""
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + self._extra + cookie +
                                   b"Content-Length: %d\r\n\r\n" % len(self._body) + self._body)
                answered += 1

    def close(self) -> None:
        self._listener.close()
