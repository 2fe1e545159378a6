"""`appstore-publish sandbox keygen` and `sandbox serve`, through publish.cli.main."""

from __future__ import annotations

import io
import json
import re
import stat
import time
from pathlib import Path

import jwt
import requests

from publish.cli import CliContext, main
from publish.commands import sandbox as sandbox_command


def _ctx() -> CliContext:
    return CliContext(stdout=io.StringIO(), stderr=io.StringIO(), env={})


def test_keygen_then_serve_accepts_the_key(tmp_path: Path, monkeypatch) -> None:
    ctx = _ctx()
    assert main(["sandbox", "keygen", "--out", str(tmp_path), "--bundle-id", "com.acme.app"], ctx) == 0
    key = json.loads((tmp_path / "api_key.json").read_text())
    p8 = next(tmp_path.glob("AuthKey_*.p8"))
    assert stat.S_IMODE(p8.stat().st_mode) == 0o600
    assert p8.read_text() == key["key"]
    assert key["key"] not in ctx.stdout.getvalue()  # the private key is never printed

    seen = {}

    def probe() -> None:
        url = re.search(r"listening on (\S+)", serve_ctx.stdout.getvalue()).group(1)
        now = int(time.time())
        token = jwt.encode({"iss": key["issuer_id"], "iat": now, "exp": now + 600, "aud": "appstoreconnect-v1"},
                           key["key"], algorithm="ES256", headers={"kid": key["key_id"]})
        response = requests.get(f"{url}/v1/apps", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        seen["apps"] = [a["attributes"]["bundleId"] for a in response.json()["data"]]
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox_command, "_wait_for_interrupt", probe)
    serve_ctx = _ctx()
    code = main(["sandbox", "serve", "--data", str(tmp_path / "sandbox-data.json"), "--error-rate", "0"], serve_ctx)
    assert code == 0, serve_ctx.stderr.getvalue()
    assert seen["apps"] == ["com.acme.app"]
    assert "simulator stopped" in serve_ctx.stdout.getvalue()


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    assert main(["sandbox", "keygen", "--out", str(tmp_path)], _ctx()) == 0
    ctx = _ctx()
    assert main(["sandbox", "keygen", "--out", str(tmp_path)], ctx) == 2
    assert "refusing to overwrite" in ctx.stderr.getvalue() and "--force" in ctx.stderr.getvalue()


def test_bad_data_file_lists_every_problem(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("keys:\n  - key_id: K\napps:\n  - bundle_id: com.x\n    colour: red\n")
    ctx = _ctx()
    assert main(["sandbox", "serve", "--data", str(data)], ctx) == 2
    error = ctx.stderr.getvalue()
    assert "keys.0: give exactly one of public_key" in error
    assert "apps.0: 'name' is a required property" in error
    assert "'colour' was unexpected" in error
    assert "sandbox keygen" in error


def test_private_key_in_data_file_is_refused(tmp_path: Path) -> None:
    assert main(["sandbox", "keygen", "--out", str(tmp_path)], _ctx()) == 0
    data = json.loads((tmp_path / "sandbox-data.json").read_text())
    private = next(tmp_path.glob("AuthKey_*.p8")).read_text()
    data["keys"][0]["public_key"] = "-----BEGIN PUBLIC KEY-----\n" + private
    (tmp_path / "sandbox-data.json").write_text(json.dumps(data))
    ctx = _ctx()
    assert main(["sandbox", "serve", "--data", str(tmp_path / "sandbox-data.json")], ctx) == 2
    assert "private key" in ctx.stderr.getvalue()
    assert "PRIVATE KEY-----\nMI" not in ctx.stderr.getvalue()


def test_bad_flags_exit_2() -> None:
    ctx = _ctx()
    assert main(["sandbox", "serve", "--error-rate", "1.5"], ctx) == 2
    assert "--error-rate must be between 0 and 1" in ctx.stderr.getvalue()
    assert main(["sandbox", "serve", "--part-size", "0"], _ctx()) == 2


def test_data_file_seeds_apps_builds_and_versions(tmp_path: Path) -> None:
    from publish.sandbox.data import read_data_file
    from publish.sandbox.server import SandboxServer

    data = tmp_path / "data.yaml"
    data.write_text("""
apps:
  - bundle_id: com.example.app
    name: Example
    beta_groups: [{name: Team, internal: true}]
    testers: [{email: ada@example.com, groups: [Team]}]
    builds: [{version: "1.0.0", build_number: "7"}]
    app_store_versions: [{version_string: "1.0.0"}]
""")
    with SandboxServer(read_data_file(data)) as server:
        assert [b.attributes["version"] for b in server.store.all("builds")] == ["7"]
        assert [v.attributes["appVersionState"] for v in server.store.all("appStoreVersions")] == [
            "READY_FOR_DISTRIBUTION"]
        tester = server.store.all("betaTesters")[0]
        assert tester.rels["betaGroups"] == [server.store.all("betaGroups")[0].id]
