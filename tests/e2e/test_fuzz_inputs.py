"""Bounded fuzzing of the input readers (issue 15, suite 5): the flow loader, the IPA inspector, the provisioning
profile parser and the .p8 parser, on random and mutated inputs (the examples/ flows, the bad flows, sample IPAs and
profiles, and the real-world fixtures when ../shared has them). Whatever the input, the only exceptions allowed are
the project's own (InputError / FlowError, IpaError), which the CLI reports as exit 2.

Deterministic in the default suite (`derandomize`, ~200 examples a target); FUZZ_EXAMPLES=5000 runs longer, and
bench/fuzz_inputs.py (atheris) runs open-ended.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 200, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
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


# The strategies an edit draws from, built once: a strategy made inside `mutated` is built, validated and labelled
# again at every draw, which cost more than the targets' own work (py-spy). Drawing from these makes the same
# choices, hence the same examples.
_EDIT_COUNTS = st.integers(1, 6)
_EDITS = st.sampled_from(["flip", "insert", "delete", "duplicate", "overwrite", "token", "truncate"])
_BYTE_MASKS = st.integers(1, 255)
_INSERTS = st.binary(min_size=1, max_size=16)
_DELETES = st.integers(1, 64)
_SPANS = st.integers(1, 256)
_REPEATS = st.integers(1, 8)
_CHUNKS = st.binary(min_size=1, max_size=8)


@functools.cache
def _sampled(values: Callable[[], list[bytes]] | tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    return st.sampled_from(values() if callable(values) else values)


@functools.cache
def _offsets(size: int) -> st.SearchStrategy[int]:
    return st.integers(0, size - 1)


@st.composite
def mutated(draw: st.DrawFn, seeds: Callable[[], list[bytes]], *, tokens: tuple[bytes, ...] = ()) -> bytes:
    """A seed changed by a few random edits: flipped, inserted, deleted, duplicated or overwritten bytes."""
    data = bytearray(draw(_sampled(seeds)))
    for _ in range(draw(_EDIT_COUNTS)):
        if not data:
            data += draw(_CHUNKS)
            continue
        at = draw(_offsets(len(data)))
        edit = draw(_EDITS)
        if edit == "flip":
            data[at] ^= draw(_BYTE_MASKS)
        elif edit == "insert":
            data[at:at] = draw(_INSERTS)
        elif edit == "delete":
            del data[at:at + draw(_DELETES)]
        elif edit == "duplicate":
            data[at:at] = data[at:at + draw(_SPANS)] * draw(_REPEATS)
        elif edit == "overwrite":
            chunk = draw(_CHUNKS)
            data[at:at + len(chunk)] = chunk
        elif edit == "token" and tokens:
            data[at:at] = draw(_sampled(tokens))
        else:
            del data[at:]
    return bytes(data)


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


@FUZZ
@given(st.one_of(mutated(seed_flows, tokens=YAML_TOKENS), st.binary(max_size=400),
                 st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_fuzz_the_flow_loader(data: bytes) -> None:
    fuzzed("flow loader", lambda: load_flow_bytes(data))


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


@FUZZ
@given(st.one_of(mutated(seed_ipas, tokens=(b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04", b"PK\x06\x06", b"\xff" * 4)),
                 st.binary(max_size=300)))
def test_fuzz_the_ipa_inspector(data: bytes) -> None:
    fuzzed("IPA inspector", lambda: inspect_bytes(data, _IPA_DIR))


def parse_profile_bytes(data: bytes) -> None:
    try:
        parse_provisioning_profile(data, source="fuzz.mobileprovision")
    except IpaError:
        pass


@FUZZ
@given(st.one_of(mutated(seed_profiles, tokens=(b"<plist>", b"</dict>", b"<key>", b"\x30\x80", b"\x30\x82\xff\xff")),
                 st.binary(max_size=300)))
def test_fuzz_the_profile_parser(data: bytes) -> None:
    fuzzed("profile parser", lambda: parse_profile_bytes(data))


def parse_key_bytes(data: bytes) -> None:
    try:
        parse_p8(data.decode("utf-8", "replace"))
    except PublishError:
        pass


@FUZZ
@given(st.one_of(mutated(seed_keys, tokens=(b"\\n", b"\r\n", b"-----END PRIVATE KEY-----", b"-----BEGIN ", b"=", b'"')),
                 st.text(max_size=300).map(str.encode)))
def test_fuzz_the_p8_parser(data: bytes) -> None:
    fuzzed("p8 parser", lambda: parse_key_bytes(data))


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
