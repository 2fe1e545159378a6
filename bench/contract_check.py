"""What the suite's OpenAPI contract check costs: loading Apple's description, and checking the exchanges of a real
run (recorded by running the given test files in-process first; default: three flow files).

    .venv/bin/python bench/contract_check.py [test files...]
    .venv/bin/python bench/contract_check.py --save run.json [test files...]   # keep the recorded exchanges
    .venv/bin/python bench/contract_check.py run.json                          # check those again

Prints CPU seconds (getrusage) for each phase; the load phase is measured in fresh child processes so that no
cache of this process helps it."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = ["tests/e2e/test_flow.py", "tests/e2e/test_realism_appstore.py", "tests/e2e/test_promote_flow.py"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _recorded(files: list[str]) -> list[dict]:
    import pytest

    exchanges: list[dict] = []

    class Keep:
        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(self) -> None:
            for server in sys.modules["conftest"]._servers:
                exchanges.extend({"method": e.method, "path": e.path, "query": e.query, "request": e.request,
                                  "status": e.status, "response": e.response} for e in server.exchanges)

    pytest.main(["-q", "-p", "no:cacheprovider", "-n", "0", "--forks", "0", *files], plugins=[Keep()])
    return exchanges


def main() -> None:
    args = sys.argv[1:]
    sys.path[:] = [str(REPO / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
    if args and args[0].endswith(".json") and Path(args[0]).is_file():
        exchanges = json.loads(Path(args[0]).read_text())
    else:
        save = args[1] if args[:1] == ["--save"] else None
        exchanges = _recorded(args[2 if save else 0:] or DEFAULT)
        if save:
            Path(save).write_text(json.dumps(exchanges))
    from contract import OpenApiDescription, check_exchanges
    from suite_paths import OPENAPI

    load = ("import resource, sys; sys.path.insert(0, 'tests'); from contract import OpenApiDescription;"
            "from suite_paths import OPENAPI; OpenApiDescription(OPENAPI);"
            "u = resource.getrusage(resource.RUSAGE_SELF); print(u.ru_utime + u.ru_stime)")
    bare = "import resource; u = resource.getrusage(resource.RUSAGE_SELF); print(u.ru_utime + u.ru_stime)"
    def child(code: str) -> float:
        return float(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                                    check=True).stdout)
    loads = min(child(load) - child(bare) for _ in range(3))
    print(f"exchanges recorded: {len(exchanges)} ({len(json.dumps(exchanges)) // 1024} KiB of JSON)")
    print(f"load (import contract + OpenApiDescription), fresh process: {loads:.3f} s CPU")
    spec = OpenApiDescription(OPENAPI)
    import contract
    contract._load.cache_clear()
    started = _cpu()
    problems = check_exchanges(exchanges, OPENAPI)
    cold = _cpu() - started
    started = _cpu()
    check_exchanges(exchanges, OPENAPI)
    warm = _cpu() - started
    del spec
    print(f"check_exchanges, first time (load included): {cold:.3f} s CPU, {len(problems)} problems")
    print(f"check_exchanges again (verdicts cached): {warm:.3f} s CPU")


if __name__ == "__main__":
    main()
