"""Bounded fuzzing of the input readers (issue 15, suite 5): the flow loader, the IPA inspector, the provisioning
profile parser and the .p8 parser, on random and mutated inputs (the examples/ flows, the bad flows, sample IPAs and
profiles, and the real-world fixtures when ../shared has them). Whatever the input, the only exceptions allowed are
the project's own (InputError / FlowError, IpaError), which the CLI reports as exit 2.

Seeded in the default suite (`derandomize`, ~200 examples a target), though not quite deterministic: Hypothesis
also draws about one value in twenty from the constants of the project's modules imported at that moment, which
depends on what the worker ran before (tests/inputs_fuzz.py). FUZZ_EXAMPLES=5000 runs longer (unseeded: 3 runs
at 20000 a target, 240000 examples, raised nothing on 2026-12-02), and bench/fuzz_inputs.py (atheris) runs
open-ended. Hypothesis is imported by the tests (tests/inputs_fuzz.py), not
while the suite collects.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from figures import Tally, report
from publish.asc.p8 import parse_p8
from publish.errors import PublishError
from publish.ipa import IpaError, inspect_ipa, parse_provisioning_profile, run_preflight
from publish.sandbox.demo import make_api_key
from publish.sandbox.sample_ipa import build_ipa, profile_der
from publish.spec import FlowSpec, load_flow_text

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "fixtures" / "real-world"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
TALLY = Tally("fuzz", "examples raised no exception but the project's own")


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not SHARED.is_dir():
        TALLY.notes = [f"real-world seeds skipped: {SHARED} is absent"]
    report(request.config, TALLY)


def fuzzed(target: str, check: Callable[[], None]) -> None:
    """Runs one example and counts it (an example that raises is not counted as passed)."""
    TALLY.total += 1
    TALLY.counts[target] = TALLY.counts.get(target, 0) + 1
    check()
    TALLY.passed += 1


# The seeds are made when a test first draws from them (signing IPAs and profiles takes a while), not at import:
# collecting this module stays cheap, in every xdist worker.
@functools.cache
def seed_flows() -> list[bytes]:
    paths = sorted((REPO / "examples").glob("*.yaml")) + sorted((REPO / "tests" / "flows" / "bad").glob("*.yaml"))
    return [path.read_bytes() for path in paths]


@functools.cache
def seed_ipas() -> list[bytes]:
    directory = Path(tempfile.mkdtemp(prefix="fuzz-ipa-"))
    seeds = [build_ipa(directory / "a.ipa", extensions=(), icons=False, executable_size=256).read_bytes(),
             build_ipa(directory / "b.ipa", extensions=("Widgets",), watch_app=True, icons=False,
                       executable_size=256).read_bytes()]
    if SHARED.is_dir():
        seeds += [path.read_bytes() for path in sorted(SHARED.rglob("*.ipa")) if path.stat().st_size < 2_000_000][:3]
    return seeds


@functools.cache
def seed_profiles() -> list[bytes]:
    seeds = [profile_der(), profile_der(profile_type="development", bundle_id="com.example.other")]
    if SHARED.is_dir():
        seeds += [path.read_bytes() for path in sorted(SHARED.rglob("*.mobileprovision"))][:3]
    return seeds


@functools.cache
def seed_keys() -> list[bytes]:
    return [make_api_key()[0].encode()]


YAML_TOKENS = (b": ", b"- ", b"&a ", b"*a", b"<<: *a\n", b"{", b"}", b"[", b"]", b"!!binary ", b"!!python/name:os ",
               b"? ", b"\n  ", b"\t", b"'", b'"', b"#", b"---\n", b"...\n", b"%YAML 1.1\n", b"~", b"no", b"0o17",
               b"1e400", b".nan", b"\x00", b"\x1b", b"\xef\xbb\xbf", b"\\x00", b"state_dir: ", b"{file: ",
               b"processing_timeout: ", b"9" * 50)


def load_flow_bytes(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_flow refuses these before the loader (tested in test_spec_hostile)
    try:
        assert isinstance(load_flow_text(text, "fuzz.yml"), FlowSpec)
    except PublishError:
        pass


def test_fuzz_the_flow_loader() -> None:
    from inputs_fuzz import fuzz, mutated, st
    fuzz("flow loader", EXAMPLES, st.one_of(mutated(seed_flows, tokens=YAML_TOKENS), st.binary(max_size=400),
                                            st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass"))),
         lambda data: fuzzed("flow loader", lambda: load_flow_bytes(data)))


def inspect_bytes(data: bytes, directory: Path) -> None:
    path = directory / "fuzz.ipa"
    # Written over in place, then cut to length: opening it truncated (write_bytes) would make ext4 flush it to disk
    # when it is closed (auto_da_alloc), a wait at every example longer than the inspection itself.
    with path.open("r+b" if path.exists() else "wb") as file:
        file.write(data)
        file.truncate()
        assert os.fstat(file.fileno()).st_size == len(data)  # no bytes of a longer earlier example left over
    try:
        inspect_ipa(path)
    except IpaError:
        pass
    run_preflight(path)  # turns every inspection failure into a finding: must not raise at all


_IPA_DIR = Path(tempfile.mkdtemp(prefix="fuzz-inspect-"))


def test_fuzz_the_ipa_inspector() -> None:
    from inputs_fuzz import fuzz, mutated, st
    tokens = (b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04", b"PK\x06\x06", b"\xff" * 4)
    fuzz("IPA inspector", EXAMPLES, st.one_of(mutated(seed_ipas, tokens=tokens), st.binary(max_size=300)),
         lambda data: fuzzed("IPA inspector", lambda: inspect_bytes(data, _IPA_DIR)))


def parse_profile_bytes(data: bytes) -> None:
    try:
        parse_provisioning_profile(data, source="fuzz.mobileprovision")
    except IpaError:
        pass


def test_fuzz_the_profile_parser() -> None:
    from inputs_fuzz import fuzz, mutated, st
    tokens = (b"<plist>", b"</dict>", b"<key>", b"\x30\x80", b"\x30\x82\xff\xff")
    fuzz("profile parser", EXAMPLES, st.one_of(mutated(seed_profiles, tokens=tokens), st.binary(max_size=300)),
         lambda data: fuzzed("profile parser", lambda: parse_profile_bytes(data)))


def parse_key_bytes(data: bytes) -> None:
    try:
        parse_p8(data.decode("utf-8", "replace"))
    except PublishError:
        pass


def test_fuzz_the_p8_parser() -> None:
    from inputs_fuzz import fuzz, mutated, st
    tokens = (b"\\n", b"\r\n", b"-----END PRIVATE KEY-----", b"-----BEGIN ", b"=", b'"')
    fuzz("p8 parser", EXAMPLES, st.one_of(mutated(seed_keys, tokens=tokens), st.text(max_size=300).map(str.encode)),
         lambda data: fuzzed("p8 parser", lambda: parse_key_bytes(data)))


def test_the_atheris_harness_runs_its_targets_on_their_seeds(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """bench/fuzz_inputs.py stays runnable (its targets on their seeds, without needing atheris). Run as a script
    (`__main__`) in this process: a new interpreter would only add its start-up and imports."""
    import runpy
    import sys

    monkeypatch.setattr(sys, "argv", [str(REPO / "bench" / "fuzz_inputs.py"), "--seeds-only"])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script takes bench/ off the path it finds
    with pytest.raises(SystemExit) as finished:
        runpy.run_path(str(REPO / "bench" / "fuzz_inputs.py"), run_name="__main__")
    captured = capsys.readouterr()
    assert finished.value.code == 0, captured.err[-2000:]
    assert "flow: " in captured.out and "p8: 1 seeds ran clean" in captured.out
