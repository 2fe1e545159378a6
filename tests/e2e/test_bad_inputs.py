"""Bad inputs of the inputs area (flow files, keys, IPAs) through the CLI entry point (issue 15, suite 4).

Every case runs `publish.cli.main` with a CliContext as a user would run the command, against a simulator where the
command would reach App Store Connect, and must end with: exit code 2, one clear message (an `error:` line with a
"How to fix", or `check`'s findings), no traceback, within 10 s, and no write of any kind reaching the simulator.
The heaviest cases are also run in a child process whose peak memory must stay under 300 MB.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import datetime
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from figures import Tally, report
from flow_harness import BUNDLE_ID, INTERNAL, ISSUER_ID, KEY_ID, FlowWorld
from inputs_zip import numbered_records
from cli_parsers import PARSERS
from publish.cli import CliContext, main
from publish.sandbox.hostile_ipa import declare_entries, flip_bytes, truncate
from publish.sandbox.sample_ipa import build_ipa

REPO = Path(__file__).resolve().parents[2]
MAX_SECONDS = 10.0
MAX_RSS_MB = 300
NoEnc = serialization.NoEncryption()


@dataclass
class Case:
    """argv for main, the environment, and a fragment the one message must contain."""

    id: str
    build: Callable[[Path, "FlowWorld"], tuple[list[str], dict[str, str]]]
    expect: str
    heavy: bool = False  # also measured for memory in a child process
    command: str = field(default="")


def good_ipa(world: FlowWorld) -> Path:
    """The small valid IPA every case that is not about the IPA runs with (made by the `world` fixture)."""
    return world.directory / "good.ipa"


def writes(world: FlowWorld) -> int:
    return sum(1 for e in world.server.exchanges if e.method not in ("GET", "HEAD"))


def flow_text(key_block: str | None = None, step_extra: str = "", top: str = "") -> str:
    keys = key_block if key_block is not None else (
        f"api_keys:\n  main:\n    key_id: {KEY_ID}\n    issuer_id: {ISSUER_ID}\n    private_key: {{file: key.p8}}\n")
    api_key = "        api_key: main\n" if "main:" in keys else ""
    return (f"version: 1\n{top}{keys}profiles:\n  - bundle_id: {BUNDLE_ID}\n    flow:\n"
            f"      - step: send_to_testflight\n{api_key}        groups: [{INTERNAL}]\n{step_extra}")


def run_argv(world: FlowWorld, directory: Path, flow: Path, ipa: Path) -> list[str]:
    return ["run", str(flow), "--ipa", str(ipa), "--api-base-url", world.server.url, "--state-dir",
            str(directory / "state"), "--poll-interval", "0.01"]


# --------------------------------------------------------------------------------------------------- flow cases


def validate_text(text: str | bytes) -> Callable[[Path, FlowWorld], tuple[list[str], dict[str, str]]]:
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        path = directory / "flow.yml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return ["validate", str(path)], {}
    return build


def run_text(text: str) -> Callable[[Path, FlowWorld], tuple[list[str], dict[str, str]]]:
    """The same flow through `run`, which would reach the simulator if it did not refuse the flow first."""
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        path = directory / "flow.yml"
        path.write_text(text)
        (directory / "key.p8").write_text(world.private_pem)
        return run_argv(world, directory, path, good_ipa(world)), {}
    return build


GOOD = flow_text()
CONTROL = [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)] + ["\ufffe", "\uffff"]


def laughs(levels: int, in_keys: bool) -> str:
    if in_keys:
        lines = ['? &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ": 0"]
        for i in range(1, levels):
            lines += [f"? &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]", f": {i}"]
    else:
        lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def flow_cases() -> list[Case]:
    cases = [Case(f"flow-control-U+{ord(c):04X}", validate_text(GOOD + f"        xcode_version: \"16{c}\"\n"),
                  f"control character U+{ord(c):04X}") for c in CONTROL]
    cases += [
        Case("flow-control-in-key", validate_text(GOOD + "        xcode\x02version: 16\n"), "control character U+0002"),
        Case("flow-control-in-comment", validate_text(GOOD + "# \x1b[31m\n"), "control character U+001B"),
        Case("flow-control-run", run_text(GOOD + "# \x00\n"), "control character U+0000"),
        Case("flow-3000-nested-mappings", validate_text("a: " + "{a: " * 3000 + "1" + "}" * 3000), "64 levels deep",
             heavy=True),
        Case("flow-5000-nested-lists", validate_text("a: " + "[" * 5000 + "]" * 5000), "64 levels deep", heavy=True),
        Case("flow-600-block-mappings", validate_text("".join(" " * i + "a:\n" for i in range(600))), "64 levels"),
        Case("flow-600-block-lists", validate_text("".join(" " * i + "-\n" for i in range(600))), "64 levels"),
        Case("flow-mixed-nesting", validate_text("a: " + "[{a: " * 1500 + "1" + "}]" * 1500), "64 levels deep"),
        Case("flow-deep-run", run_text("a: " + "[" * 5000 + "]" * 5000), "64 levels deep"),
        Case("flow-laughs-in-values", validate_text(laughs(9, in_keys=False)), "once aliases are expanded",
             heavy=True),
        Case("flow-laughs-in-keys", validate_text(laughs(9, in_keys=True)), "a key must be text", heavy=True),
        Case("flow-laughs-in-keys-run", run_text(laughs(9, in_keys=True)), "a key must be text"),
        Case("flow-merge-chain", validate_text("\n".join(["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}}}"
                                                                               for i in range(1, 3000)])),
             "64 levels deep"),
        Case("flow-recursive-alias", validate_text("a: &a [*a]\n"), "levels deep"),
        Case("flow-mapping-alias-as-key", validate_text("b: &m {x: 1}\nc:\n  ? *m\n  : 2\n"), "a key must be text"),
        Case("flow-list-as-key", validate_text("? [a, b]\n: 1\n"), "a key must be text, not a list"),
        Case("flow-merge-of-scalar", validate_text(GOOD + "        <<: 3\n"), "a merge key (<<) takes a mapping"),
    ]
    state = GOOD.replace("version: 1\n", "version: 1\nstate_dir: STATE\n")
    cases += [
        Case("state-dir-nul", validate_text(state.replace("STATE", '"st\\0ate"')), "contains a NUL byte"),
        Case("state-dir-nul-run", run_text(state.replace("STATE", '"st\\0ate"')), "contains a NUL byte"),
        Case("state-dir-control", validate_text(state.replace("STATE", '"st\\x01ate"')), "control character U+0001"),
        Case("state-dir-newline", validate_text(state.replace("STATE", '"st\\nate"')), "control character U+000A"),
        Case("state-dir-5000-chars", validate_text(state.replace("STATE", "s" * 5000)), "the path is 5000 bytes long"),
        Case("state-dir-300-byte-name", validate_text(state.replace("STATE", "a/" + "n" * 300)), "a part of the path is 300 bytes long"),
        Case("state-dir-empty", validate_text(state.replace("STATE", '""')), "state_dir"),
        Case("state-dir-list", validate_text(state.replace("STATE", "[a, b]")), "must be a string"),
        Case("file-ref-nul", validate_text(GOOD + '        what_to_test: {file: "n\\0.txt"}\n'), "NUL byte"),
        Case("file-ref-long", validate_text(GOOD + f"        what_to_test: {{file: {'x' * 5000}}}\n"),
             "the path is 5000 bytes long"),
        Case("file-ref-missing", validate_text(GOOD + "        what_to_test: {file: nowhere.txt}\n"),
             "does not exist"),
        Case("key-file-ref-nul", validate_text(GOOD.replace("{file: key.p8}", '{file: "k\\0.p8"}')), "NUL byte"),
    ]
    cases += [
        Case("flow-2mb", validate_text(GOOD + "# " + "x" * 2_000_000 + "\n"), "far more than a flow file holds"),
        Case("flow-300k-chars", validate_text(GOOD + "# " + "x" * 300_000 + "\n"), "a flow file is at most"),
        Case("flow-dev-zero", lambda d, w: (["validate", "/dev/zero"], {}), "is not a regular file"),
        Case("flow-directory", lambda d, w: (["validate", str(d)], {}), "is a directory"),
        Case("flow-missing", lambda d, w: (["validate", str(d / "nope.yml")], {}), "does not exist"),
        Case("flow-nul-in-path", lambda d, w: (["validate", str(d / "a\0b.yml")], {}), "contains a NUL byte"),
        Case("flow-latin1", validate_text(GOOD.encode() + b"# caf\xe9\n"), "is not UTF-8 text"),
        Case("flow-utf16", validate_text(GOOD.encode("utf-16")), "is not UTF-8 text"),
        Case("flow-fifo", lambda d, w: (os.mkfifo(d / "fifo.yml"), (["validate", str(d / "fifo.yml")], {}))[1],
             "is not a regular file"),
        Case("flow-unclosed-quote", validate_text(GOOD + '        xcode_version: "16.2\n'), "YAML syntax error"),
        Case("flow-bad-indent", validate_text(GOOD + "      bad: 1\n    worse: 2\n"), "YAML syntax error"),
        Case("flow-tab-indent", validate_text(GOOD + "\t\tgroups: [QA]\n"), "YAML syntax error"),
        Case("flow-two-documents", validate_text(GOOD + "---\nversion: 1\n"), "YAML syntax error"),
        Case("flow-duplicate-key", validate_text(GOOD + "        groups: [QA]\n"), "duplicate key 'groups'"),
        Case("flow-python-tag", validate_text(GOOD + "        xcode_version: !!python/object/apply:os.system [ls]\n"),
             "the tag tag:yaml.org,2002:python/object/apply:os.system is not used"),
        Case("flow-binary-tag", validate_text(GOOD + "        xcode_version: !!binary aGk=\n"), "is not used"),
        Case("flow-set-tag", validate_text(GOOD + "        testers: !!set {a@example.com}\n"), "is not used"),
        Case("flow-bad-int-tag", validate_text(GOOD + "        processing_timeout: !!int abc\n"), "tagged int"),
        Case("flow-empty", validate_text(""), "the file is empty"),
        Case("flow-only-comments", validate_text("# nothing\n# here\n"), "the file is empty"),
        Case("flow-top-level-list", validate_text("- a\n- b\n"), "the top level must be a mapping"),
        Case("flow-top-level-scalar", validate_text("hello\n"), "the top level must be a mapping"),
        Case("flow-timeout-1e400", validate_text(GOOD + "        processing_timeout: 1e400\n"), "processing_timeout"),
        Case("flow-timeout-inf", validate_text(GOOD + "        processing_timeout: .inf\n"), "processing_timeout"),
        Case("flow-timeout-nan", validate_text(GOOD + "        processing_timeout: .nan\n"), "processing_timeout"),
        Case("flow-timeout-5000-digits", validate_text(GOOD + "        processing_timeout: " + "9" * 5000 + "\n"),
             "processing_timeout"),
        Case("flow-timeout-huge-duration", validate_text(GOOD + '        processing_timeout: "' + "9" * 5000 + 'h"\n'),
             "processing_timeout"),
        Case("flow-timeout-10^20", validate_text(GOOD + "        processing_timeout: 100000000000000000000\n"),
             "longer than any processing takes"),
        Case("flow-timeout-negative", validate_text(GOOD + "        processing_timeout: -1\n"), "at least 1"),
        Case("flow-yes-is-not-a-boolean", validate_text(GOOD + "        notify_testers: yes\n"),
             "must be true or false, got a string ('yes')"),
        Case("flow-version-2", validate_text(GOOD.replace("version: 1", "version: 2")), "unsupported format version"),
        Case("flow-version-string", validate_text(GOOD.replace("version: 1", 'version: "1"')), "version"),
    ]
    for path in sorted((REPO / "tests" / "flows" / "bad").glob("*.yaml")):
        expect = next((line[len("# expect: "):] for line in path.read_text().splitlines()
                       if line.startswith("# expect: ")), "")
        expect = expect.split(": ", 2)[-1] if expect.startswith(":") else expect
        cases.append(Case(f"bad-flow-{path.stem}", validate_text(path.read_bytes()), expect[:40]))
    return cases


# --------------------------------------------------------------------------------------------------- key cases


def with_key_text(text: str | bytes | Callable[[], str | bytes], *,
                  encoding: str | None = None) -> Callable[[Path, FlowWorld], tuple[list[str], dict[str, str]]]:
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        content = text() if callable(text) else text
        (directory / "key.p8").write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        flow = flow_text()
        if encoding:
            flow = flow.replace("{file: key.p8}", f"{{file: key.p8, encoding: {encoding}}}")
        path = directory / "flow.yml"
        path.write_text(flow)
        return run_argv(world, directory, path, good_ipa(world)), {}
    return build


def with_env(env: dict[str, str | Callable[[FlowWorld], str]]) -> Callable[[Path, FlowWorld],
                                                                       tuple[list[str], dict[str, str]]]:
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        path = directory / "flow.yml"
        path.write_text(flow_text(key_block=""))
        resolved = {k: (v(world) if callable(v) else v) for k, v in env.items()}
        return run_argv(world, directory, path, good_ipa(world)), {"HOME": str(directory / "home"), **resolved}
    return build


def pem(key: object, fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
        encryption: serialization.KeySerializationEncryption = NoEnc) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode()  # type: ignore[attr-defined]


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    """Made when a case first needs it, not while the cases are listed: every xdist worker lists them all, and a
    2048-bit key takes 0.1 to 0.3 s to generate."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _ec_key() -> ec.EllipticCurvePrivateKey:
    """The one P-256 key the certificate, public-key, encrypted, DER and cut cases are made from; made when a case
    first needs it, like _rsa_key (listing the cases in every worker made it, its certificate and the other keys)."""
    return ec.generate_private_key(ec.SECP256R1())


def _certificate_pem() -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bad inputs")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_ec_key().public_key())
            .serial_number(7).not_valid_before(datetime.datetime(2025, 1, 1))
            .not_valid_after(datetime.datetime(2035, 1, 1)).sign(_ec_key(), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _good() -> str:
    return pem(_ec_key())


def _body() -> list[str]:
    return _good().splitlines()[1:-1]


@functools.cache
def _huge() -> str:
    """A 10 MB body in PEM armour, made when a case first writes it (two cases, each also run by the heavy test),
    not while every worker lists the cases."""
    return "-----BEGIN PRIVATE KEY-----\n" + ("QUFB" * 16 + "\n") * 160_000 + "-----END PRIVATE KEY-----\n"


def key_cases() -> list[Case]:
    cases = [
        Case("key-10mb-body-in-armour", with_key_text(_huge), "far larger than a key", heavy=True),
        Case("key-empty", with_key_text(""), "is empty"),
        Case("key-whitespace", with_key_text("  \n\t\n"), "is empty"),
        Case("key-not-pem", with_key_text("this is my key, trust me!"), "is not a PEM key"),
        Case("key-certificate", with_key_text(_certificate_pem), "is a certificate"),
        Case("key-public", with_key_text(lambda: _ec_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()), "is a public key"),
        Case("key-rsa-pkcs8", with_key_text(lambda: pem(_rsa_key())), "is an RSA key"),
        Case("key-rsa-traditional", with_key_text(lambda: pem(_rsa_key(), serialization.PrivateFormat.TraditionalOpenSSL)),
             "is an RSA key"),
        Case("key-p384", with_key_text(lambda: pem(ec.generate_private_key(ec.SECP384R1()))), "curve secp384r1"),
        Case("key-ed25519", with_key_text(lambda: pem(ed25519.Ed25519PrivateKey.generate())), "Ed25519"),
        Case("key-encrypted", with_key_text(lambda: pem(_ec_key(), encryption=serialization.BestAvailableEncryption(
            b"pw"))), "encrypted"),
        Case("key-ssh", with_key_text(lambda: ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, NoEnc).decode()), "is an SSH key"),
        Case("key-no-end-line", with_key_text(lambda: _good()[: len(_good()) // 2]), "is truncated"),
        Case("key-cut-body", with_key_text(lambda: "-----BEGIN PRIVATE KEY-----\n" + _body()[0] +
                                           "\n-----END PRIVATE KEY-----\n"), "damaged or truncated"),
        Case("key-damaged-base64", with_key_text(lambda: "-----BEGIN PRIVATE KEY-----\n" + _body()[0][:-3] + "!!!\n"
                                                 "-----END PRIVATE KEY-----\n"), "is not valid base64"),
        Case("key-unknown-block", with_key_text("-----BEGIN SOMETHING-----\nAAAA\n-----END SOMETHING-----\n"),
             "is a PEM 'SOMETHING' block"),
        Case("key-base64-of-nonsense", with_key_text(base64.b64encode(b"hello, not a key").decode()),
             "is not a PEM key"),
        Case("key-der-binary-file", with_key_text(lambda: _ec_key().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, NoEnc)), "is not text"),
        Case("key-base64-declared-not-base64", with_key_text("not base64 at all!!", encoding="base64"),
             "is not valid base64"),
        Case("key-base64-of-binary", with_key_text(base64.b64encode(b"\xff\xfe\x00binary").decode(),
                                                   encoding="base64"), "base64 of binary data"),
        Case("key-file-is-directory", lambda d, w: _flow_with_key_path(d, w, "keydir", make_dir=True),
             "is a directory"),
        Case("key-file-missing", lambda d, w: _flow_with_key_path(d, w, "missing.p8"), "does not exist"),
        Case("key-file-dev-zero", lambda d, w: _flow_with_key_path(d, w, "/dev/zero"), "larger than"),
        Case("key-env-10mb", with_env({"APPSTORE_PUBLISH_API_KEY_ID": KEY_ID,
                                       "APPSTORE_PUBLISH_API_PRIVATE_KEY": lambda w: _huge()}),
             "characters long", heavy=True),
        Case("key-env-id-only-nothing-found", with_env({"APPSTORE_PUBLISH_API_KEY_ID": KEY_ID}),
             "is in none of the places Apple's tools look for it"),
        Case("key-env-fastlane-id-only", with_env({"APP_STORE_CONNECT_API_KEY_KEY_ID": KEY_ID}),
             ".appstoreconnect/private_keys/AuthKey_"),
        Case("key-env-codemagic-id-only", with_env({"APP_STORE_CONNECT_KEY_IDENTIFIER": KEY_ID}),
             "APP_STORE_CONNECT_PRIVATE_KEY is not set"),
        Case("key-env-key-without-id", with_env({"APPSTORE_PUBLISH_API_PRIVATE_KEY": lambda w: _good()}),
             "api-key-id"),
        Case("key-env-id-with-path-chars", with_env({"APPSTORE_PUBLISH_API_KEY_ID": "../../etc/passwd"}),
             "no AuthKey_<KEY_ID>.p8 file can be looked up"),
        Case("key-env-none", with_env({}), "no App Store Connect API key"),
        Case("key-env-codemagic-at-env-missing", with_env({"APP_STORE_CONNECT_KEY_IDENTIFIER": KEY_ID,
                                                           "APP_STORE_CONNECT_PRIVATE_KEY": "@env:NOPE"}),
             "refers to environment variable NOPE"),
        Case("key-env-codemagic-at-file-missing", with_env({"APP_STORE_CONNECT_KEY_IDENTIFIER": KEY_ID,
                                                            "APP_STORE_CONNECT_PRIVATE_KEY": "@file:/nope.p8"}),
             "does not exist"),
        Case("key-env-base64-invalid", with_env({"APPSTORE_PUBLISH_API_KEY_ID": KEY_ID,
                                                 "APPSTORE_PUBLISH_API_PRIVATE_KEY_BASE64": "%%%not base64"}),
             "is not valid base64"),
        Case("key-env-fastlane-json-missing", with_env({"APP_STORE_CONNECT_API_KEY_PATH": "/nope/key.json"}),
             "does not exist"),
        Case("key-id-with-spaces", with_env({"APPSTORE_PUBLISH_API_KEY_ID": "has spaces",
                                             "APPSTORE_PUBLISH_API_PRIVATE_KEY": lambda w: w.private_pem}),
             "is empty or contains spaces"),
    ]
    for name, text, fragment in (("not-json", "{nope", "is not valid JSON"), ("a-list", "[1, 2]", "JSON object"),
                                 ("no-key-id", '{"key": "x"}', "has no key_id"),
                                 ("key-not-string", '{"key_id": "K", "key": 5}', "key must be a string"),
                                 ("no-key", '{"key_id": "K"}', "has no key"),
                                 ("bad-key", '{"key_id": "K", "key": "nope"}', "is not a PEM key")):
        cases.append(Case(f"key-fastlane-json-{name}", _fastlane_json(text), fragment))
    return cases


def _flow_with_key_path(directory: Path, world: FlowWorld, key_path: str, *,
                        make_dir: bool = False) -> tuple[list[str], dict[str, str]]:
    if make_dir:
        (directory / key_path).mkdir()
    path = directory / "flow.yml"
    path.write_text(flow_text().replace("{file: key.p8}", f"{{file: {key_path}}}"))
    return run_argv(world, directory, path, good_ipa(world)), {}


def _fastlane_json(text: str) -> Callable[[Path, FlowWorld], tuple[list[str], dict[str, str]]]:
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        (directory / "api_key.json").write_text(text)
        path = directory / "flow.yml"
        path.write_text(flow_text(key_block="api_keys:\n  main:\n    fastlane_json: {file: api_key.json}\n"))
        return run_argv(world, directory, path, good_ipa(world)), {}
    return build


# --------------------------------------------------------------------------------------------------- IPA cases


def ipa_variants() -> list[tuple[str, Callable[[Path], Path], str]]:
    def built(**options: object) -> Callable[[Path], Path]:
        settings = {"bundle_id": BUNDLE_ID, "executable_size": 1024, "extensions": (), "icons": False, **options}
        return lambda directory: build_ipa(directory / "app.ipa", **settings)  # type: ignore[arg-type]

    def then(make: Callable[[Path], Path], change: Callable[[Path], Path]) -> Callable[[Path], Path]:
        return lambda directory: change(make(directory))

    def raw(data: bytes) -> Callable[[Path], Path]:
        def make(directory: Path) -> Path:
            (directory / "app.ipa").write_bytes(data)
            return directory / "app.ipa"
        return make

    good = built()
    return [
        ("build-5000-digits", built(build_number="9" * 5000), "has a number of 5000 digits"),
        ("build-19-digits", built(build_number="1" * 19), "has a number of 19 digits"),
        ("version-5000-digits", built(version="1." + "0" * 5000), "has a number of 5000 digits"),
        ("build-letters", built(build_number="1.0b"), "is not in Apple's format"),
        ("build-four-parts", built(build_number="1.2.3.4"), "is not in Apple's format"),
        ("entries-65535-for-few", then(good, lambda p: declare_entries(p, 65535)), "declares 65535 entries"),
        ("entries-0", then(good, lambda p: declare_entries(p, 0)), "declares 0 entries"),
        ("entries-one-more", then(good, lambda p: declare_entries(p, 10)), "declares 10 entries"),
        ("truncated-half", then(good, lambda p: truncate(p, p.stat().st_size // 2)), "truncated"),
        ("truncated-to-header", then(good, lambda p: truncate(p, 30)), "truncated"),
        ("empty-file", raw(b""), "is not a zip archive"),
        ("text-file", raw(b"hello, I am not an ipa\n"), "is not a zip archive"),
        ("flipped-end-record", then(good, lambda p: flip_bytes(p, [-22, -21])), "zip"),
        ("flipped-central-directory", then(good, lambda p: flip_bytes(p, [-60, -61, -62])), ""),
        ("no-payload", built(payload_folder=False), "no Payload/ folder"),
        ("no-app", built(app_bundle=False), "holds no .app bundle"),
        ("two-apps", built(extra_apps=("Second",)), "app bundles"),
        ("no-info-plist", built(info_plist=False), "Info.plist is missing"),
        ("corrupt-info-plist", built(info_plist_bytes=b"\x00garbage"), "is corrupt"),
        ("info-plist-a-list", built(info_plist_bytes=b'<?xml version="1.0"?><plist><array/></plist>'),
         "is not a dictionary"),
        ("info-plist-deep", built(info_plist_bytes=b"<plist>" + b"<array>" * 5000 + b"</array>" * 5000 + b"</plist>"),
         "Info.plist"),
        ("no-bundle-id", built(omit_info_keys=("CFBundleIdentifier",)), "CFBundleIdentifier"),
        ("wrong-bundle-id", built(bundle_id="com.other.app"), "com.other.app"),
        ("development-profile", built(profile_type="development"), "development"),
        ("profile-garbage", built(profile_bytes=b"\x30\x82garbage"), "profile"),
    ]


def ipa_cases() -> list[Case]:
    cases = []
    for name, make, fragment in ipa_variants():
        for command in ("check", "run"):
            cases.append(Case(f"ipa-{name}-{command}", _ipa_case(make, command), fragment, command=command))
    cases += [
        Case("ipa-missing-run", lambda d, w: (run_argv(w, d, _write_flow(d, w), d / "no.ipa"), {}),
             "does not exist"),
        Case("ipa-directory-check", lambda d, w: (["check", str(d)], {}), "is a directory", command="check"),
        Case("ipa-too-many-entries-check", lambda d, w: (["check", str(_many_entries(d))], {}),
             "more than 200000 zip entries", heavy=True, command="check"),
    ]
    return cases


def _write_flow(directory: Path, world: FlowWorld) -> Path:
    (directory / "key.p8").write_text(world.private_pem)
    path = directory / "flow.yml"
    path.write_text(flow_text())
    return path


def _ipa_case(make: Callable[[Path], Path], command: str) -> Callable[[Path, FlowWorld], tuple[list[str], dict[str, str]]]:
    def build(directory: Path, world: FlowWorld) -> tuple[list[str], dict[str, str]]:
        ipa = make(directory)
        if command == "check":
            return ["check", str(ipa), "--bundle-id", BUNDLE_ID], {}
        return run_argv(world, directory, _write_flow(directory, world), ipa), {}
    return build


def _many_entries(directory: Path) -> Path:
    import struct

    header = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0)
    central = numbered_records(header + b"f", 7, 200_001)  # each name "f" and its number, 7 digits
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 7, 7, len(central), 0, 0)
    path = directory / "many.ipa"
    path.write_bytes(central + end)
    return path


CASES = flow_cases() + key_cases() + ipa_cases()


# --------------------------------------------------------------------------------------------------- the suite


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowWorld]:
    """One simulator for every case (the suite's flow world, made once for the module): a case changes nothing on it,
    which each case checks."""
    instance = FlowWorld(tmp_path_factory.mktemp("bad-inputs-world"))
    instance.ipa(name=good_ipa(instance).name, extensions=(), executable_size=1024, icons=False)
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def case_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each case gets its own new, empty folder (named by its unique id): a tmp_path of its own cost every case
    ~1.1 ms of pytest's numbered-folder bookkeeping (a scan of the base folder, a lock, a symlink), more than many
    cases' own refusal."""
    return tmp_path_factory.mktemp("bad-inputs-cases")


_REFUSED: list[str] = []
TALLY = Tally("bad inputs", "cases (flow files, keys, IPAs) refused cleanly")


@pytest.fixture(scope="module", autouse=True)
def _figure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    TALLY.notes = [f"{len(HEAVY)} heavy ones under {MAX_RSS_MB} MB" + (f" (peak {_PEAK[0]:.0f} MB)" if _PEAK else "")]
    report(request.config, TALLY)


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150
    assert len({case.id for case in CASES}) == len(CASES)


def run_case(case: Case, directory: Path, world: FlowWorld) -> tuple[int, str, str, float]:
    argv, env = case.build(directory, world)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env)
    started = time.monotonic()
    code = main(argv, ctx=ctx, build=PARSERS)
    return code, ctx.stdout.getvalue(), ctx.stderr.getvalue(), time.monotonic() - started


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_cleanly(case: Case, case_root: Path, world: FlowWorld) -> None:
    TALLY.total += 1
    directory = case_root / case.id
    directory.mkdir()  # new and empty: no case sees another's files
    writes_before = writes(world)
    code, stdout, stderr, elapsed = run_case(case, directory, world)
    output = stdout + stderr
    assert code == 2, output[-3000:]
    assert "Traceback" not in output and "Error:" not in output.replace("error:", ""), output[-3000:]
    assert elapsed < MAX_SECONDS, elapsed
    assert len(output) < 20_000, len(output)  # one message, not a dump of the input
    if case.command == "check":
        assert "pre-flight FAILED" in stdout or "error:" in stderr, output
    else:
        assert sum(line.startswith("error: ") for line in stderr.splitlines()) == 1, output
    assert case.expect in output, f"expected {case.expect!r} in:\n{output[-3000:]}"
    assert writes(world) == writes_before, "a write reached the simulator"
    _REFUSED.append(case.id)
    TALLY.passed += 1


def test_the_same_setup_with_good_inputs_publishes_and_its_writes_are_seen(tmp_path: Path, world: FlowWorld) -> None:
    """The control: what every case changes one thing of succeeds, and the write counter sees its writes."""
    writes_before = writes(world)
    argv, env = run_text(GOOD)(tmp_path, world)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env)
    assert main(argv, ctx=ctx) == 0, ctx.stderr.getvalue()
    assert writes(world) > writes_before


HEAVY = [case for case in CASES if case.heavy]


def test_heavy_bad_inputs_stay_under_300_mb(tmp_path: Path, world: FlowWorld) -> None:
    """The heaviest cases, one after another in one child process: its peak resident memory bounds each of them."""
    runs = []
    for case in HEAVY:
        directory = tmp_path / case.id
        directory.mkdir()
        runs.append(case.build(directory, world))
    # The child's own peak: Linux's ru_maxrss of a process started by fork/vfork and exec keeps the peak of the
    # parent it was forked from (this pytest worker, which earlier tests may have grown past 300 MB), so the high
    # water mark of the child's own memory is read where there is one.
    script = (
        "import io, json, resource, sys\n"
        "from publish.cli import CliContext, main\n"
        "codes = [main(argv, ctx=CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env=env))\n"
        "         for argv, env in json.load(sys.stdin)]\n"
        "try:\n"
        "    with open('/proc/self/status') as status:\n"
        "        peak = next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))\n"
        "except (OSError, StopIteration):\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps([codes, peak]))\n"
    )
    child = subprocess.run([sys.executable, "-c", script], input=json.dumps(runs), capture_output=True,
                           text=True, timeout=120, cwd=REPO)
    assert child.returncode == 0, child.stderr[-2000:]
    codes, max_rss_kb = json.loads(child.stdout.strip().splitlines()[-1])
    assert codes == [2] * len(HEAVY)
    assert max_rss_kb / 1024 < MAX_RSS_MB, f"peak {max_rss_kb / 1024:.0f} MB"
    _PEAK.append(max_rss_kb / 1024)


_PEAK: list[float] = []


def test_zz_figure() -> None:
    """The suite's figure line is printed by figures.report (summed across xdist workers); this runs last."""
    assert _REFUSED, "run the whole module to get the figure"
