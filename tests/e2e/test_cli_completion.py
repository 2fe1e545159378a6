"""`appstore-publish completion bash|zsh|fish`: scripts generated from the parser, exercised by the real shells
where they are installed."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.commands import COMMANDS


@functools.cache
def _script(shell: str) -> str:
    """The script `completion SHELL` prints, generated once a shell: it is the same text each time (derived from
    the parser alone, with no environment), and each generation builds the whole parser (~15 ms; 19 tests)."""
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    assert main(["completion", shell], ctx=ctx) == 0, ctx.stderr.getvalue()
    return ctx.stdout.getvalue()


BASH = shutil.which("bash")


def _complete(tmp_path: Path, words: list[str]) -> list[str]:
    """What bash offers for the last word of `words` (the line typed so far, the program name first)."""
    script = tmp_path / "completion.bash"
    script.write_text(_script("bash"))
    array = " ".join(f"'{w}'" for w in words)
    program = (f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; "
               "_appstore_publish; printf '%s\\n' \"${COMPREPLY[@]}\"")
    completed = subprocess.run([BASH, "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                               timeout=30, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    return [line for line in completed.stdout.splitlines() if line]


needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@needs_bash
def test_bash_script_is_valid_bash(tmp_path: Path) -> None:
    path = tmp_path / "c.bash"
    path.write_text(_script("bash"))
    completed = subprocess.run([BASH, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr


@needs_bash
@pytest.mark.parametrize("words, expected", [
    (["appstore-publish", ""], sorted({c.name for c in COMMANDS})),
    (["appstore-publish", "ru"], ["run"]),
    (["appstore-publish", "-v", "va"], ["validate"]),
    (["appstore-publish", "run", "flow.yml", "--poll"], ["--poll-interval"]),
    (["appstore-publish", "run", "--re"], ["--restart", "--result-json"]),
    (["appstore-publish", "sandbox", ""], ["keygen", "serve"]),
    (["appstore-publish", "sandbox", "serve", "--lat"], ["--latency-ms"]),
    (["appstore-publish", "completion", ""], ["bash", "fish", "zsh"]),
    (["appstore-publish", "history", "--q"], ["--quiet"]),
])
def test_bash_completes_commands_subcommands_options_and_choices(tmp_path: Path, words: list[str],
                                                                 expected: list[str]) -> None:
    assert sorted(_complete(tmp_path, words)) == sorted(expected)


@needs_bash
def test_bash_completes_directories_for_directory_options(tmp_path: Path) -> None:
    (tmp_path / "state-a").mkdir()
    (tmp_path / "state-file").write_text("")
    assert _complete(tmp_path, ["appstore-publish", "run", "--state-dir", "state"]) == ["state-a"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_is_valid_zsh(tmp_path: Path) -> None:
    path = tmp_path / "_appstore-publish"
    path.write_text(_script("zsh"))
    completed = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr


def test_zsh_script_is_a_compdef_over_the_bash_one() -> None:
    text = _script("zsh")
    assert text.startswith("#compdef appstore-publish\n") and "bashcompinit" in text
    assert "complete -o default -F _appstore_publish appstore-publish" in text


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_is_valid_fish(tmp_path: Path) -> None:
    path = tmp_path / "appstore-publish.fish"
    path.write_text(_script("fish"))
    completed = subprocess.run(["fish", "--no-execute", str(path)], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 0, completed.stderr


def test_fish_script_names_every_command_and_the_options_of_run() -> None:
    text = _script("fish")
    for command in COMMANDS:
        assert f"-n '__fish_use_subcommand' -a {command.name} " in text, command.name
    assert "-n '__fish_seen_subcommand_from run' -l poll-interval -r -F" in text
    assert "-n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'" in text


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize("line, expected", [
    ("appstore-publish ru", {"run"}),
    ("appstore-publish run flow.yml --poll", {"--poll-interval"}),
    ("appstore-publish sandbox ", {"serve", "keygen"}),
    ("appstore-publish completion ", {"bash", "zsh", "fish"}),
])
def test_fish_completes_what_the_parser_accepts(tmp_path: Path, line: str, expected: set[str]) -> None:
    path = tmp_path / "appstore-publish.fish"
    path.write_text(_script("fish"))
    completed = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete -C '{line}'"],
                               capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    offered = {row.split("\t")[0] for row in completed.stdout.splitlines() if row}
    assert offered == expected, offered
