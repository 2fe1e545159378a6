"""Hostile flow files (issue 15, "Flow files and keys"): each is refused where it enters, with one located message
and exit 2, in bounded time and memory, never a traceback."""

from __future__ import annotations

import io
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.spec import FlowError, load_flow, load_flow_text
from publish.spec.model import Diagnostic
from publish.spec.yaml_source import MAX_FLOW_CHARS, parse_yaml

GOOD = ("version: 1\nprofiles:\n  - bundle_id: com.example.app\n    flow:\n"
        "      - step: send_to_testflight\n")


def validate(tmp_path: Path, text: str | bytes) -> tuple[int, str]:
    path = tmp_path / "flow.yml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    code = main(["validate", str(path)], ctx=ctx)
    return code, ctx.stderr.getvalue()


@pytest.mark.parametrize("char", ["\x00", "\x02", "\x07", "\x1b", "\x7f", "\ufffe"])
def test_a_control_character_is_located_not_a_reader_error(tmp_path: Path, char: str) -> None:
    code, stderr = validate(tmp_path, GOOD + f"      # note{char}\n")
    assert code == 2
    assert f"flow.yml:6:13: (yaml): control character U+{ord(char):04X} is not allowed" in stderr
    assert "Traceback" not in stderr and "ReaderError" not in stderr


def test_a_control_character_in_a_value_is_located(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "        xcode_version: 16\x01.2\n")
    assert code == 2 and "flow.yml:6:26: (yaml): control character U+0001" in stderr


@pytest.mark.parametrize("text", [
    "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "a: " + "[" * 5000 + "]" * 5000 + "\n",
    "".join(" " * i + "a:\n" for i in range(600)),
    "".join(" " * i + "-\n" for i in range(600)),
], ids=["3000-flow-mappings", "5000-flow-lists", "600-block-mappings", "600-block-lists"])
def test_deep_nesting_is_bounded_before_recursion(tmp_path: Path, text: str) -> None:
    code, stderr = validate(tmp_path, text)
    assert code == 2, stderr
    assert "(yaml): the document is nested more than 64 levels deep" in stderr
    assert "RecursionError" not in stderr


def laughs_in_keys(levels: int = 9) -> str:
    lines = ['? &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ": 0"]
    for i in range(1, levels):
        lines += [f"? &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]", f": {i}"]
    return "\n".join(lines) + "\n"


def test_billion_laughs_in_mapping_keys_is_bounded_in_time_and_memory(tmp_path: Path) -> None:
    text = laughs_in_keys()
    assert len(text.splitlines()) <= 18
    tracemalloc.start()
    started = time.monotonic()
    code, stderr = validate(tmp_path, text)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert code == 2
    assert "a key must be text, not a list" in stderr
    assert elapsed < 2 and peak < 50 * 1024 * 1024, (elapsed, peak)
    assert len(stderr) < 10_000


def test_an_alias_of_a_mapping_used_as_a_key_is_refused_unexpanded() -> None:
    text = "base: &m {x: 1}\nother:\n  ? *m\n  : 2\n"
    with pytest.raises(FlowError) as caught:
        load_flow_text(text, "f.yml")
    assert "f.yml:1:7: other: a key must be text, not a mapping" in str(caught.value)


def test_a_merge_chain_is_bounded_in_depth() -> None:
    lines = ["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}}}" for i in range(1, 3000)]
    with pytest.raises(FlowError) as caught:
        load_flow_text("\n".join(lines) + "\n", "f.yml")
    assert "nested more than 64 levels deep" in str(caught.value)


def test_a_state_dir_with_a_nul_byte_is_refused_by_validate_and_located(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD.replace("version: 1\n", 'version: 1\nstate_dir: "state\\0dir"\n'))
    assert code == 2
    assert "flow.yml:2:12: state_dir: the flow's state_dir: the path contains a NUL byte" in stderr


@pytest.mark.parametrize("value, fragment", [
    ('"a\\x01b"', "the path contains the control character U+0001"),
    ("x" * 5000, "the path is 5000 bytes long; the limit is 4096"),
    ("dir/" + "n" * 300, "a part of the path is 300 bytes long"),
])
def test_a_state_dir_no_file_system_can_hold_is_refused(tmp_path: Path, value: str, fragment: str) -> None:
    code, stderr = validate(tmp_path, GOOD.replace("version: 1\n", f"version: 1\nstate_dir: {value}\n"))
    assert code == 2 and f"state_dir: the flow's state_dir: {fragment}" in stderr


def test_a_file_reference_with_a_nul_byte_is_refused_and_never_opened(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + '        what_to_test: {file: "notes\\0.txt"}\n')
    assert code == 2
    assert "profiles[0].flow[0].what_to_test.file: the file path: the path contains a NUL byte" in stderr
    assert "embedded null" not in stderr


def test_a_processing_timeout_of_a_billion_years_is_refused(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "        processing_timeout: 99999999999999999999\n")
    assert code == 2 and "seconds is longer than any processing takes" in stderr


def test_a_5000_digit_number_is_text_not_a_python_value_error(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD + "        processing_timeout: " + "9" * 5000 + "\n")
    assert code == 2 and "processing_timeout" in stderr and "ValueError" not in stderr


def test_a_huge_file_is_refused_without_being_parsed(tmp_path: Path) -> None:
    started = time.monotonic()
    code, stderr = validate(tmp_path, GOOD + "# " + "x" * (MAX_FLOW_CHARS * 5) + "\n")
    assert code == 2 and "far more than a flow file holds" in stderr
    assert time.monotonic() - started < 2
    with pytest.raises(FlowError, match="a flow file is at most"):
        load_flow_text(GOOD + "#" + "x" * MAX_FLOW_CHARS, "f.yml")


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "flow.yml"
    os.mkfifo(fifo)
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["validate", str(fifo)], ctx=ctx) == 2
    assert "is not a regular file" in ctx.stderr.getvalue()


def test_a_path_with_a_nul_byte_is_an_input_error() -> None:
    with pytest.raises(Exception) as caught:
        load_flow("flow\0.yml")
    assert type(caught.value).__name__ == "InputError" and "NUL byte" in str(caught.value)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    code, stderr = validate(tmp_path, GOOD.encode() + b"# caf\xe9\n")
    assert code == 2 and "is not UTF-8 text (line 6" in stderr


@pytest.mark.parametrize("tagged", ["!!binary aGVsbG8=", "!!python/object:os.system ls", "!!set {a, b}",
                                    "!!timestamp 2025-01-01", "!custom x"])
def test_tags_other_than_the_json_ones_are_refused_with_their_place(tmp_path: Path, tagged: str) -> None:
    code, stderr = validate(tmp_path, GOOD + f"        xcode_version: {tagged}\n")
    assert code == 2 and "flow.yml:6:24: profiles[0].flow[0].xcode_version: the tag" in stderr, stderr


@pytest.mark.parametrize("texts, copies, copy, item", [(1000, 100, 98, 898), (270, 400, 367, 269)])
def test_the_value_bound_falls_on_the_same_text_item_however_items_are_built(texts: int, copies: int, copy: int,
                                                                              item: int) -> None:
    # Texts under an anchor, then aliases of them: root, t, its texts and u are texts + 3 values, and each copy
    # texts + 1 more, so the 100001st value is `item` of `copy` (with 270 texts, the last of a copy: no copy is
    # built in one step past the bound).
    assert (texts + 3) + copy * (texts + 1) + 1 + item + 1 == 100_001
    line, column = "t: &t [", {}
    for i in range(texts):
        column[i] = len(line) + 1
        line += f"v{i}" + (", " if i < texts - 1 else "]")
    data, positions, problems = parse_yaml(line + "\nu: [" + ", ".join(["*t"] * copies) + "]\n", "f.yml")
    assert data is None and problems == [Diagnostic(1, column[item], "(yaml)", "the document is more than 100000 "
                                                    "values once aliases are expanded; write the flow out without "
                                                    "such aliases", "f.yml")]
    assert all(positions.values[("u", c, i)] == (1, column[i]) for c in (0, copy - 1) for i in range(texts))
    assert positions.values[("u", copy, item - 1)] == (1, column[item - 1]) and ("u", copy, item) not in positions.values
    assert len(positions.values) == 100_000
    # The aliased list of texts was read once, its copies built in one step each: they share its positions.
    assert positions.values[("u", 0, 5)] is positions.values[("u", copy - 1, 5)] is positions.values[("t", 5)]


def test_the_depth_bound_falls_on_a_text_item_expanded_65_levels_deep() -> None:
    lines = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, 70)]
    data, positions, problems = parse_yaml("\n".join(lines) + "\n", "f.yml")
    assert data is None and problems == [Diagnostic(1, 10, "(yaml)", "the document is nested more than 64 levels deep "
                                                    "(a recursive alias?); write the flow out without such aliases",
                                                    "f.yml")]
    assert positions.values[("l63",) + (0,) * 63] == (1, 5) and ("l63",) + (0,) * 64 not in positions.values
    assert positions.values[("l62",) + (0,) * 63] == (1, 10)
