"""The suite's own guard (tests/conftest.py): nothing but loopback is resolved or connected to, so no test can
reach Apple (or wait on a network this machine may not have)."""

from __future__ import annotations

import socket

import pytest


def test_apples_name_is_not_resolved() -> None:
    with pytest.raises(socket.gaierror, match="no name but loopback"):
        socket.getaddrinfo("api.appstoreconnect.apple.com", 443)


def test_a_connection_elsewhere_is_refused_at_once() -> None:
    with pytest.raises(OSError, match="but loopback"):
        socket.create_connection(("192.0.2.1", 443), timeout=5)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="nothing but loopback"):
        sock.connect(("192.0.2.1", 443))


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
