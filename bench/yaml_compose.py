"""Compares the two ways of composing a flow's YAML (publish/spec/yaml_compose.py) on many mutated flows, and times
parse_yaml both ways on a normal flow and on the hostile documents of the tests. Prints figures; not a timed test.

    .venv/bin/python bench/yaml_compose.py [MUTATIONS [SEED]]
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from pathlib import Path

# In place of bench/ (its inspect.py would shadow the standard library module of that name).
sys.path[0] = str(Path(__file__).resolve().parents[1] / "tests")

from yaml_corpus import HOSTILE, PINNED, mutations  # noqa: E402
from yaml_read_alike import assert_read_alike  # noqa: E402

from publish.spec.yaml_compose import compose_python, composer_for  # noqa: E402
from publish.spec.yaml_source import parse_yaml  # noqa: E402

NORMAL = Path(__file__).resolve().parents[1] / "examples"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, texts: list[str], pick: Callable[[str], object], rounds: int) -> None:
    started = cpu()
    for _ in range(rounds):
        for text in texts:
            parse_yaml(text, "f.yml", pick(text))  # type: ignore[arg-type]
    print(f"  {label:<44} {(cpu() - started) / rounds * 1000:9.1f} ms CPU a round")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1518
    started = cpu()
    differ = []
    for text in mutations(count, seed):
        try:
            assert_read_alike(text)
        except AssertionError:
            differ.append(text)
    print(f"{count - len(differ)} of {count} mutated flows read alike both ways ({cpu() - started:.1f} s CPU)")
    for text in differ[:20]:
        print("  read differently:", repr(text))
    normal = [path.read_text(encoding="utf-8") for path in sorted(NORMAL.glob("*.yaml"))]
    hostile = HOSTILE + [pinned[0] for pinned in PINNED]
    for label, texts, rounds in (("examples/*.yaml", normal, 20), ("hostile documents of the tests", hostile, 2)):
        print(f"parse_yaml on {label} ({len(texts)} documents):")
        timed("PyYAML pure-Python parser", texts, lambda text: compose_python, rounds)
        timed("libyaml events where they read alike", texts, composer_for, rounds)


if __name__ == "__main__":
    main()
