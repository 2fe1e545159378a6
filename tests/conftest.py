"""Shared fixtures and the session-wide checks. Where a test goes (tests/README.md has the rule):

    tests/unit/     no server and no process: functions, the client over `responses`, the CLI in-process
    tests/sandbox/  the simulator itself (publish/sandbox, contract.py), spoken to over raw HTTP
    tests/e2e/      a flow or the project's client against a live server (simulator, hostile server), or a process

Helpers shared by several modules sit here in tests/ and are imported by name (flow_harness, sandbox_api,
action_harness, flow_faults, hostile_server, inputs_world, pkg_xar_writer, figures, contract, contract_corpus,
suite_paths, suite_tmp, suite_bytecode, yaml_corpus, transporter_fakes, cli_parsers, forked_pytest; the runner:
fork_pool, fork_shares); a test module never imports another test module (tests/unit/test_modules_layout.py holds
it). Tests that need ../shared skip with a reason when it is absent."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from suite_paths import OPENAPI, SHARED

if TYPE_CHECKING:
    from flow_harness import FlowWorld
    from publish.sandbox.server import SandboxServer
    from sandbox_api import Api


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent: real-world fixtures and the OpenAPI description are not available here")
    return SHARED


@pytest.fixture(scope="session")
def real_world(shared_dir: Path) -> Callable[[str], Path]:
    """`real_world("ipas")`: a folder of ../shared/fixtures/real-world (real IPAs, profiles, keys, recorded
    answers); the test skips with a reason when it is absent."""

    def folder(name: str) -> Path:
        path = shared_dir / "fixtures" / "real-world" / name
        if not path.is_dir():
            pytest.skip(f"{path} is absent")
        return path

    return folder


@pytest.fixture(scope="session")
def openapi_path(shared_dir: Path) -> Path:
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} is absent")
    return OPENAPI


def assert_contract_kept(server: SandboxServer) -> None:
    """Every exchange with `server` satisfies Apple's OpenAPI description (when ../shared has it)."""
    if OPENAPI.is_file():
        from contract import check_exchanges

        problems = check_exchanges(server.exchanges, OPENAPI)
        _checked[id(server)] = len(server.exchanges)
        assert not problems, "contract violations:\n" + "\n".join(problems[:30])


# --- Contract: every exchange with every simulator started anywhere in the suite ---------------------------------
# Fixtures check their own servers at teardown; this hook catches the rest (servers started by the CLI's demo, the
# entrypoint, the upload tests...), so "zero violations across the whole suite" is checked, not hoped. Each worker
# (forked, or xdist's) checks its own and figures.py adds the counts up in the parent, which fails the run.
_servers: list = []
_checked: dict[int, int] = {}  # id(server) -> how many of its exchanges a fixture has checked already


_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "", None}


def _is_loopback(host: object) -> bool:
    return host in _LOOPBACK_NAMES or (isinstance(host, str) and (host.startswith("127.") or host.endswith(".localhost")))


@pytest.fixture(autouse=True, scope="session")
def _no_network_but_loopback():
    """The suite never reaches a real server (Apple's, or any other): a test that would (say, a dry run left on
    Apple's address: a dry run reads) fails at once with this message instead of waiting on the network."""
    import socket

    original_getaddrinfo, original_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            raise socket.gaierror(socket.EAI_NONAME, f"the test suite resolves no name but loopback ({host})")
        return original_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):  # noqa: ANN001, ANN202
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"the test suite connects to nothing but loopback ({address[0]})")
        return original_connect(self, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    yield
    socket.getaddrinfo, socket.socket.connect = original_getaddrinfo, original_connect  # type: ignore[method-assign]


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


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session: pytest.Session) -> Iterator[None]:
    """PYTHONDONTWRITEBYTECODE (set on some machines, this one included) also stops pytest keeping the test modules
    it rewrites for their asserts, and rewriting ~90 modules again costs ~4 s of CPU in every process that collects
    (this one under the forked runner; each xdist worker under -n). While collecting, the suite writes them (to
    __pycache__/, which git ignores).

    Collecting (importing ~150 test modules and what they import, making ~3500 items) also allocates without
    freeing: at the default GC thresholds the cyclic collector ran ~290 times over that growing heap, ~110 ms of
    each worker's CPU. So the thresholds the tests run at (pytest_collection_finish) apply from the start of
    collection: little of what it makes is garbage, and at its end all is collected and frozen as before. Where
    tests are collected (this process, whose forked children inherit them; an xdist worker): an xdist controller
    collects none and keeps the defaults."""
    if not session.config.pluginmanager.has_plugin("dsession"):
        import gc

        gc.set_threshold(*_GC_THRESHOLDS)
    writing = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        yield
    finally:
        sys.dont_write_bytecode = writing


_GC_THRESHOLDS = (20000, 20, 50)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection imported (the project, the test modules, their libraries) stays until the process ends:
    collected once and frozen out of the cyclic collector's sight, so the full collections a worker makes while its
    tests run do not walk it again each time (with the OpenAPI description frozen the same way in contract.py, the
    two workers' GC time fell from ~3.7 s to ~2.1 s of CPU).

    Then the collector runs less often: a test makes a few thousand short-lived containers (answers, reports,
    records) and at the default thresholds (700, 10, 10) that meant ~3300 young collections a worker and ~20 full
    ones over what is not frozen. At (20000, 20, 50) the two workers' GC time fell from ~2.1 s to ~1.25 s of CPU
    (full suite, tools: a gc.callbacks timer); cyclic garbage waits at most ~20000 allocations longer, which the
    tests that bound memory with tracemalloc (16 MiB and up) do not notice."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*_GC_THRESHOLDS)


def _compile_the_project() -> None:
    """Bytecode for every module of the project, written before the workers start. Where PYTHONDONTWRITEBYTECODE is
    set (this machine; some CI images) nothing imported after collection is ever written: each worker and each child
    interpreter (the CLI, the entrypoint, the gates, the figures' inner runs) compiled again every module it imports
    that has no current .pyc: in a fresh clone, all of them, in every such process. compileall writes whatever that
    setting says and skips a module whose .pyc is current (a stat each: ~10 ms for the whole tree)."""
    import compileall

    from suite_paths import REPO

    compileall.compile_dir(REPO / "publish", quiet=2)
    compileall.compile_file(REPO / "entrypoint.py", quiet=2)


def pytest_addoption(parser: pytest.Parser) -> None:
    import fork_pool

    fork_pool.add_option(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    import fork_pool

    pluginmanager.add_hookspecs(fork_pool.ForkPoolHooks)


def pytest_configure(config: pytest.Config) -> None:
    import fork_pool
    from figures import PLUGIN_NAME, Figures
    from suite_bytecode import read_bytecode_at_once
    from suite_tmp import use_memory_backed_root

    use_memory_backed_root(os.environ, config.option.basetemp)  # before anything asks tempfile or tmp_path
    read_bytecode_at_once()  # before collection imports the test modules
    if not hasattr(config, "workerinput"):  # once, in the process that starts the workers
        _compile_the_project()

    config.pluginmanager.register(Figures(config), PLUGIN_NAME)
    children = fork_pool.workers_wanted(config)
    if children:
        config.pluginmanager.register(fork_pool.ForkPool(config, children), fork_pool.PLUGIN_NAME)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from figures import PLUGIN_NAME

    figures = session.config.pluginmanager.get_plugin(PLUGIN_NAME)
    _count_contract(figures)
    figures.finish(session)


def pytest_fork_pool_worker_finish(session: pytest.Session, output: dict[str, Any]) -> None:
    from figures import PLUGIN_NAME

    figures = session.config.pluginmanager.get_plugin(PLUGIN_NAME)
    _count_contract(figures)
    figures.export(output)


def pytest_fork_pool_worker_down(config: pytest.Config, output: dict[str, Any]) -> None:
    from figures import PLUGIN_NAME

    config.pluginmanager.get_plugin(PLUGIN_NAME).receive(output)


def _count_contract(figures: Any) -> None:
    """Every exchange the simulators of this process saw, checked against the OpenAPI description."""
    from figures import ContractCount

    if _servers:
        if OPENAPI.is_file():
            from contract import check_exchanges

            exchanges = sum(len(server.exchanges) for server in _servers)
            unchecked = [exchange for server in _servers for exchange in server.exchanges[_checked.get(id(server), 0):]]
            problems = check_exchanges(unchecked, OPENAPI)  # a fixture's finding already failed its test
            figures.contract.add(ContractCount(exchanges, len(_servers), problems, len(problems)))
        else:
            figures.contract.add(ContractCount(simulators=len(_servers), skipped=f"{OPENAPI} is absent"))


# --- The flow world: one simulator with an app, groups and a key, over loopback; its exchanges checked against the
# OpenAPI description when the test ends. A module that wants other settings defines
# `world(make_world)` returning `make_world(part_size=..., beta_test_information=...)` ---------------------------
@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., FlowWorld]]:
    from flow_harness import FlowWorld

    made: list[FlowWorld] = []

    def make(**options: Any) -> FlowWorld:
        made.append(FlowWorld(tmp_path, **options))
        return made[-1]

    try:
        yield make
    finally:
        for world in made:
            world.close()
    for world in made:
        assert_contract_kept(world.server)


@pytest.fixture
def world(make_world: Callable[..., FlowWorld]) -> FlowWorld:
    return make_world()


# --- The simulator alone, for its own tests over raw HTTP (sandbox_api.Api) ----------------------------------------
@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A started simulator with one registered key; at teardown every exchange must satisfy the OpenAPI contract."""
    from publish.sandbox.server import SandboxServer
    from sandbox_api import ISSUER, KEY_ID, PUBLIC_PEM

    server = SandboxServer(part_size=64 * 1024)
    server.register_key(KEY_ID, ISSUER, PUBLIC_PEM)
    with server:
        yield server
    assert_contract_kept(server)


@pytest.fixture
def api(sandbox: SandboxServer) -> Api:
    from sandbox_api import Api

    return Api(sandbox)


@pytest.fixture(scope="session")
def ipa_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Sample IPAs made once a session (per worker process) for each distinct set of arguments."""
    from publish.sandbox.sample_ipa import build_ipa

    cache: dict[tuple, Path] = {}
    folder = tmp_path_factory.mktemp("ipas")

    def make(bundle_id: str = "com.example.app", version: str = "1.0.0", build: str = "1", **kwargs: Any) -> Path:
        key = (bundle_id, version, build, tuple(sorted(kwargs.items())))
        if key not in cache:
            path = folder / f"{len(cache)}.ipa"
            cache[key] = Path(build_ipa(path, bundle_id=bundle_id, version=version, build_number=build, **kwargs))
        return cache[key]

    return make
