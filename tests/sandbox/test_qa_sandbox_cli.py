"""`sandbox keygen` wrote data files `sandbox serve` then refused (a bundle ID with a space, an empty app name), and
`sandbox serve --host` with an address not of this machine was told to choose another --port."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest

from publish.cli import CliContext, main
from publish.sandbox.data import read_data_file


def _cli(argv: list[str]) -> tuple[int, str]:
    ctx = CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})
    return main(argv, ctx=ctx), ctx.stdout.getvalue() + ctx.stderr.getvalue()


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--bundle-id", "bad id", "is not a bundle ID: letters, digits, hyphens and periods only"),
    ("--bundle-id", "com.ex\u00e4mple.app", "is not a bundle ID"),
    ("--bundle-id", "", "is not a bundle ID"),
    ("--app-name", "", "give the app's name"),
    ("--app-name", "   ", "give the app's name"),
])
def test_keygen_refuses_what_serve_would_refuse(tmp_path: Path, flag: str, value: str, message: str) -> None:
    code, output = _cli(["sandbox", "keygen", "--out", str(tmp_path / "sim"), flag, value])
    assert code == 2 and message in output, output
    assert not (tmp_path / "sim").exists()


def test_what_keygen_writes_serve_loads(tmp_path: Path) -> None:
    code, output = _cli(["sandbox", "keygen", "--out", str(tmp_path / "sim"), "--bundle-id", "com.Example-Co.App2",
                         "--app-name", "My App"])
    assert code == 0, output
    assert read_data_file(tmp_path / "sim" / "sandbox-data.json")


def _address_not_of_this_machine() -> str:
    for candidate in ("192.0.2.1", "198.51.100.7"):  # TEST-NET addresses (RFC 5737): never assigned to a host
        probe = socket.socket()
        try:
            probe.bind((candidate, 0))
        except OSError:
            return candidate
        finally:
            probe.close()
    pytest.skip("this machine holds the TEST-NET addresses")


@pytest.mark.parametrize("host", ["999.1.1.1", "address"])
def test_a_host_that_cannot_be_bound_is_blamed_not_the_port(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import publish.commands.sandbox as sandbox_command

    monkeypatch.setattr(sandbox_command, "_wait_for_interrupt", lambda: None)
    target = _address_not_of_this_machine() if host == "address" else host
    code, output = _cli(["sandbox", "serve", "--host", target])
    assert code == 2, output
    assert f"cannot listen on {target}:0" in output and "give --host an address of this machine" in output
    assert "choose another --port" not in output
