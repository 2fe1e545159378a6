"""CPU of validating flows against the flow schema: jsonschema's Draft202012Validator against publish.spec's
FlowValidator (its cheaper unevaluatedProperties), on the examples and the bad flows, and whether both give the same
errors. Prints figures; run `python bench/flow_validation.py [ROUNDS]`."""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/: its inspect.py would stand in for the standard library's

from jsonschema import Draft202012Validator  # noqa: E402

from publish.spec.schema import flow_schema  # noqa: E402
from publish.spec.validation import FlowValidator  # noqa: E402
from publish.spec.yaml_source import parse_yaml  # noqa: E402


def documents() -> list[Any]:
    paths = sorted((REPO / "examples").glob("*.yaml")) + sorted((REPO / "tests" / "flows" / "bad").glob("*.yaml"))
    found = [parse_yaml(path.read_text(encoding="utf-8"), path.name)[0] for path in paths]
    return [data for data in found if isinstance(data, dict)]


def errors(validator: Any, data: Any) -> list[tuple[Any, ...]]:
    return [(e.message, tuple(e.absolute_path), tuple(e.absolute_schema_path), e.validator)
            for e in validator.iter_errors(data)]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    data = documents()
    best = {}
    for name, make in (("Draft202012Validator", Draft202012Validator), ("FlowValidator", FlowValidator)):
        best[name] = float("inf")
        for _ in range(rounds):
            started = cpu()
            for document in data:
                errors(make(flow_schema()), document)
            best[name] = min(best[name], cpu() - started)
    same = all(errors(Draft202012Validator(flow_schema()), d) == errors(FlowValidator(flow_schema()), d) for d in data)
    for name, seconds in best.items():
        print(f"{name:22} {1000 * seconds / len(data):.3f} ms CPU a flow ({len(data)} flows, lowest of {rounds})")
    print(f"same errors on every flow: {same}")


if __name__ == "__main__":
    main()
