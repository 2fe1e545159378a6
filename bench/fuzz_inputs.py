"""Coverage-guided fuzzing of the input readers with atheris, for runs longer than the default suite's hypothesis
examples (tests/e2e/test_fuzz_inputs.py). A target fails only on an exception that is not the project's own (InputError /
FlowError for flows and keys, IpaError for IPAs and profiles): those are what the CLI turns into exit 2.

    .venv/bin/pip install atheris
    .venv/bin/python bench/fuzz_inputs.py flow -atheris_runs=200000          # or: ipa, profile, p8
    .venv/bin/python bench/fuzz_inputs.py ipa -max_total_time=600 corpus/    # keep what it finds in corpus/
    .venv/bin/python bench/fuzz_inputs.py --seeds-only                        # every target on its seeds, no atheris

Seeds (the examples/ flows, tests/flows/bad/, sample IPAs and profiles, a fresh .p8) are written to a temporary
corpus directory unless one is given. Without atheris installed the script says so and exits 0.
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (inspect.py): take it off the path before importing anything.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402


REPO = Path(_HERE).parent
_WORK = Path(tempfile.mkdtemp(prefix="fuzz-inputs-"))


def load_targets() -> tuple[dict[str, Callable[[bytes], None]], Callable[[str], list[bytes]]]:
    """The targets and their seeds; imported here so that atheris can instrument the project's modules as they load."""
    from publish.asc.p8 import parse_p8
    from publish.errors import PublishError
    from publish.ipa import IpaError, inspect_ipa, parse_provisioning_profile, run_preflight
    from publish.sandbox.demo import make_api_key
    from publish.sandbox.sample_ipa import build_ipa, profile_der
    from publish.spec import load_flow_text

    def fuzz_flow(data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # refused by load_flow before the loader sees it
        try:
            load_flow_text(text, "fuzz.yml")
        except PublishError:
            pass


    def fuzz_ipa(data: bytes) -> None:
        path = _WORK / "fuzz.ipa"
        path.write_bytes(data)
        try:
            inspect_ipa(path)
        except IpaError:
            pass
        run_preflight(path)  # reports an inspection failure as a finding: never raises


    def fuzz_profile(data: bytes) -> None:
        try:
            parse_provisioning_profile(data, source="fuzz.mobileprovision")
        except IpaError:
            pass


    def fuzz_p8(data: bytes) -> None:
        try:
            parse_p8(data.decode("utf-8", "replace"))
        except PublishError:
            pass


    def seeds(target: str) -> list[bytes]:
        if target == "flow":
            paths = sorted((REPO / "examples").glob("*.yaml")) + sorted((REPO / "tests/flows/bad").glob("*.yaml"))
            return [p.read_bytes() for p in paths]
        if target == "ipa":
            return [build_ipa(_WORK / "seed-a.ipa", extensions=(), icons=False, executable_size=256).read_bytes(),
                    build_ipa(_WORK / "seed-b.ipa", watch_app=True, icons=False, executable_size=256).read_bytes()]
        if target == "profile":
            return [profile_der(), profile_der(profile_type="development")]
        return [make_api_key()[0].encode()]


    TARGETS: dict[str, Callable[[bytes], None]] = {"flow": fuzz_flow, "ipa": fuzz_ipa, "profile": fuzz_profile,
                                                   "p8": fuzz_p8}

    return TARGETS, seeds


TARGET_NAMES = ("flow", "ipa", "profile", "p8")


def seeds_only() -> int:
    targets, seeds = load_targets()
    for name, target in targets.items():
        for seed in seeds(name):
            target(seed)
        print(f"{name}: {len(seeds(name))} seeds ran clean")
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--seeds-only"]:
        return seeds_only()
    if len(argv) < 2 or argv[1] not in TARGET_NAMES:
        print(__doc__)
        return 2
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        print("atheris is not installed (`.venv/bin/pip install atheris`); nothing fuzzed")
        return 0
    with atheris.instrument_imports(include=["publish", "yaml", "jsonschema", "asn1crypto"]):
        targets, seeds = load_targets()
    target = targets[argv[1]]
    rest = argv[2:]
    if not any(not arg.startswith("-") for arg in rest):
        corpus = Path(tempfile.mkdtemp(prefix=f"corpus-{argv[1]}-"))
        for index, seed in enumerate(seeds(argv[1])):
            (corpus / f"seed-{index}").write_bytes(seed)
        rest.append(str(corpus))
    atheris.Setup([argv[0], *rest], target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
