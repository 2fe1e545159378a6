"""Stopping the simulator is immediate: serve_forever's stop used to wait out its 0.1 s poll interval, a tenth of a
second at the teardown of every test that starts one."""

from __future__ import annotations

import time

import requests

from publish.sandbox.server import SandboxServer


def test_ten_starts_and_stops_take_far_less_than_ten_poll_intervals() -> None:
    servers = [SandboxServer() for _ in range(10)]
    started = time.perf_counter()
    for server in servers:
        server.start()
        server.stop()
    assert time.perf_counter() - started < 0.3  # ten stops that each waited out a 0.1 s poll took 0.5 s on average


def test_a_stop_with_a_keep_alive_connection_open_is_immediate_and_final() -> None:
    server = SandboxServer().start()
    session = requests.Session()
    assert session.get(server.url + "/v1/apps", timeout=5).status_code == 401  # the pooled connection stays open
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 0.1
    try:
        requests.get(server.url + "/v1/apps", timeout=2)
    except requests.ConnectionError:
        pass
    else:
        raise AssertionError("a stopped simulator must not accept new connections")
    session.close()


def test_an_idle_simulator_answers_after_waiting_in_select() -> None:
    """The loop blocks without a timeout: a request after a pause is still served, and stop still ends it."""
    with SandboxServer() as server:
        time.sleep(0.05)
        assert requests.get(server.url + "/v1/apps", timeout=5).status_code == 401
        thread = server._thread
    assert thread is not None and not thread.is_alive()
