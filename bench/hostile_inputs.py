"""CPU of refusing the hostile inputs the bad-input tests feed the readers: flows nested past libyaml's own limit,
alias bombs, the node bound, and a zip directory of 200 001 records. Prints figures (the best of a few rounds);
not a timed test. Run it on two checkouts to compare them.

    .venv/bin/python bench/hostile_inputs.py [ROUNDS]
"""

from __future__ import annotations

import resource
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1] / "tests")  # in place of bench/ (its inspect.py shadows)

from publish.ipa import IpaError, inspect_ipa  # noqa: E402
from publish.spec.yaml_source import parse_yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best(rounds: int, work: Callable[[], object]) -> float:
    spent = []
    for _ in range(rounds):
        started = cpu()
        work()
        spent.append(cpu() - started)
    return min(spent)


def laughs(levels: int) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def many_entries(directory: Path) -> Path:
    header = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0)
    central = b"".join(map((header + b"f%07d").__mod__, range(200_001)))
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 7, 7, len(central), 0, 0)
    path = directory / "many.ipa"
    path.write_bytes(central + end)
    return path


def refuse_ipa(path: Path) -> None:
    try:
        inspect_ipa(path)
    except IpaError:
        return
    raise SystemExit(f"{path} was not refused")


def parsing(*texts: str) -> Callable[[], object]:
    return lambda: [parse_yaml(text, "f.yml") for text in texts]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    examples = [path.read_text() for path in sorted(REPO.glob("examples/*.yaml"))]
    flows = {
        "5000 nested flow lists (pure-Python path)": parsing("a: " + "[" * 5000 + "]" * 5000 + "\n"),
        "3000 nested flow mappings": parsing("a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"),
        "billion laughs in values (9 levels)": parsing(laughs(9)),
        "tests/flows/bad/yaml-alias-bomb.yaml": parsing((REPO / "tests/flows/bad/yaml-alias-bomb.yaml").read_text()),
        "100 001 values to the node bound": parsing("[" + "0," * 100_500 + "]\n"),
        f"the repository's {len(examples)} example flows": parsing(*examples),
    }
    print(f"parse_yaml, best of {rounds} rounds:")
    for label, work in flows.items():
        print(f"  {label:<46} {best(rounds, work) * 1000:8.1f} ms CPU")
    with tempfile.TemporaryDirectory() as directory:
        path = many_entries(Path(directory))
        print(f"inspect_ipa, a directory of 200 001 records:      {best(rounds, lambda: refuse_ipa(path)) * 1000:8.1f} "
              "ms CPU")


if __name__ == "__main__":
    main()
