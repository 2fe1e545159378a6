"""An answer leaves the simulator in one write: status line, headers and body together (two writes cost a second
send and a second wake-up of the client on every exchange), byte for byte the answer HTTP/1.1 spells."""

from __future__ import annotations

import json
import socketserver
from typing import Any

import pytest
import requests

from publish.sandbox.server import SandboxServer


def test_an_answer_is_one_write_of_headers_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real = socketserver._SocketWriter.write

    def counting(self: Any, data: bytes) -> int:
        writes.append(bytes(data))
        return real(self, data)

    monkeypatch.setattr(socketserver._SocketWriter, "write", counting)
    with SandboxServer() as server:
        response = requests.get(server.url + "/v1/apps", timeout=5)
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == "NOT_AUTHORIZED"
    assert len(writes) == 1
    head, _, body = writes[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 401 Unauthorized"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json" and int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == response.json()
