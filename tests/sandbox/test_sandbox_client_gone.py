"""A client that hangs up before its answer is written ends that exchange, quietly: the simulator prints no
traceback (the hostile and fault tests hang up on purpose) and goes on serving everyone else."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest
import requests

from publish.sandbox.faults import Faults
from publish.sandbox.server import SandboxServer


def _hang_up_hard(connection: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0), so the server's next write fails instead of filling a buffer."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def test_a_client_that_hangs_up_before_the_answer_leaves_no_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with SandboxServer(faults=Faults(latency_ms=60)) as server:
        before = set(threading.enumerate())
        host, _, port = server.url.removeprefix("http://").rpartition(":")
        client = socket.create_connection((host, int(port)), timeout=5)
        client.sendall(b"GET /v1/apps HTTP/1.1\r\nHost: sandbox\r\nAccept: application/json\r\n\r\n")
        deadline = time.monotonic() + 5
        handlers: set[threading.Thread] = set()
        while not handlers and time.monotonic() < deadline:
            handlers = set(threading.enumerate()) - before
            time.sleep(0.002)
        time.sleep(0.02)  # the request is read; the answer waits out the simulated latency
        _hang_up_hard(client)
        for handler in handlers:
            handler.join(timeout=5)
            assert not handler.is_alive()
        server.faults = Faults()
        assert requests.get(server.url + "/v1/apps", timeout=5).status_code == 401  # still serving
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Error" not in captured.err, captured.err
