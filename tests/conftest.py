"""Shared fixtures. Tests that need ../shared skip with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-world fixtures and the OpenAPI description are not available here")
    return SHARED


@pytest.fixture(scope="session")
def openapi_path(shared_dir: Path) -> Path:
    path = shared_dir / "reference" / "asc" / "app-store-connect-openapi.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


# --- Contract: every exchange with every simulator started anywhere in the suite ---------------------------------
# Fixtures in single modules check their own servers at teardown; this hook catches the rest (servers started by the
# CLI's demo, the entrypoint, the upload tests...), so "zero violations across the whole suite" is checked, not hoped.
_servers: list = []


@pytest.fixture(autouse=True, scope="session")
def _record_every_sandbox():
    from publish.sandbox.server import SandboxServer

    original_start = SandboxServer.start

    def start(self, *args, **kwargs):
        _servers.append(self)
        return original_start(self, *args, **kwargs)

    SandboxServer.start = start  # type: ignore[method-assign]
    yield
    SandboxServer.start = original_start  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    spec = SHARED / "reference" / "asc" / "app-store-connect-openapi.json"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not _servers:
        return
    if not spec.is_file():
        if reporter:
            reporter.write_line(f"contract: skipped, {spec} is absent")
        return
    from contract import check_exchanges

    exchanges = [exchange for server in _servers for exchange in server.exchanges]
    problems = check_exchanges(exchanges, spec)
    if reporter:
        reporter.write_line(
            f"contract: {len(exchanges)} exchanges with {len(_servers)} simulators checked against the OpenAPI "
            f"description, {len(problems)} violations"
        )
        for problem in problems[:50]:
            reporter.write_line(f"  {problem}")
    if problems:
        session.exitstatus = 1


# --- The flow world: one simulator with an app, groups and a key, over loopback; its exchanges checked against the
# OpenAPI description when the test ends (a module may define its own `world` for other settings) -----------------
@pytest.fixture
def world(tmp_path: Path):
    from flow_harness import FlowWorld

    world = FlowWorld(tmp_path)
    try:
        yield world
    finally:
        world.close()
    spec = SHARED / "reference" / "asc" / "app-store-connect-openapi.json"
    if spec.is_file():
        from contract import check_exchanges

        problems = check_exchanges(world.server.exchanges, spec)
        assert not problems, "contract violations:\n" + "\n".join(problems[:30])
