"""The demo's workspace: an app with two beta groups and an earlier release (store page in English and German) on
a running simulator, a throwaway API key registered with it, a sample signed IPA and two flow files that use them:
one ships the IPA to TestFlight, the other promotes that very build to the App Store (`run --build`, no IPA).
The simulator behaves as App Store Connect really does (protocol.md H, every behaviour on), so the run shows the
waits a real release meets. Shares no code with the client: the demo command
(publish/commands/demo.py) runs the flow through the same path as `appstore-publish run`."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.sandbox import appstore
from publish.sandbox.sample_ipa import build_ipa
from publish.sandbox.testflight import add_beta_test_information

DEMO_BUNDLE_ID = "com.example.demo"
DEMO_APP_NAME = "Demo App"
DEMO_VERSION = "1.0.0"
DEMO_BUILD_NUMBER = "1"
# The version already on the store, and its store page's languages: the demo ships an update, which needs
# What's New in each of them (a first release would take none).
DEMO_RELEASED_VERSION = "0.9.0"
DEMO_LOCALES = ("en-US", "de-DE")
DEMO_KEY_ID = "DEMOKEY123"
INTERNAL_GROUP = "QA Team"
EXTERNAL_GROUP = "Public Beta"
# Big enough for several parts with the demo's part size, small enough to stay instant.
DEMO_IPA_SIZE = 600 * 1024
DEMO_PART_SIZE = 256 * 1024

_FLOW_HEADER = """\
version: 1
api_keys:
  demo:
    key_id: {key_id}
    issuer_id: {issuer_id}
    private_key: {{file: {key_file}}}
state_dir: state
profiles:
  - bundle_id: {bundle_id}
    name: {app_name}
    keep_binaries: true
    flow:
"""
TESTFLIGHT_FLOW_TEMPLATE = """\
# Step one of the demo (`appstore-publish demo`, against the built-in App Store Connect simulator): upload the IPA
# and give it to the testers.
""" + _FLOW_HEADER + """\
      - step: send_to_testflight
        api_key: demo
        what_to_test: {{file: WHAT_TO_TEST.md}}
        groups: [{internal}, {external}]
        testers:
          - {{email: ann@example.com, first_name: Ann, last_name: Tester}}
"""
APP_STORE_FLOW_TEMPLATE = """\
# Step two of the demo: once tested and marked as release candidate, the same build goes to the App Store,
# promoted with `appstore-publish run THIS_FILE --build '{version} ({build_number})'` (no IPA, no second upload).
""" + _FLOW_HEADER + """\
      - step: send_to_app_store
        api_key: demo
        stage_type: app_store
        require_rc: true
        whats_new:
          en-US: Faster start and fewer crashes.
          de-DE: Schnellerer Start und weniger Abstürze.
        release_type: after_approval
        phased_release: true
        submit_for_review: true
"""


@dataclass(frozen=True)
class DemoWorkspace:
    directory: Path
    flow_path: Path  # the TestFlight flow, run with the IPA
    app_store_flow_path: Path  # the App Store flow, run on the uploaded build (--build)
    ipa_path: Path
    state_dir: Path
    app_id: str


def make_api_key() -> tuple[str, str]:
    """(private key PKCS#8 PEM, public key PEM) of a fresh P-256 key, like an App Store Connect .p8."""
    private = ec.generate_private_key(ec.SECP256R1())
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def prepare_demo(directory: Path, server: Any) -> DemoWorkspace:
    """Fill a running SandboxServer and `directory` with everything the demo flow needs."""
    directory.mkdir(parents=True, exist_ok=True)
    app_id = server.add_app(DEMO_BUNDLE_ID, DEMO_APP_NAME, sku="DEMO-APP")
    server.add_beta_group(app_id, INTERNAL_GROUP, internal=True)
    server.add_beta_group(app_id, EXTERNAL_GROUP, internal=False)
    with server.store.lock:
        released = appstore.create_version(server.sim, str(app_id), DEMO_RELEASED_VERSION, "IOS",
                                           state="READY_FOR_DISTRIBUTION")
        for locale in DEMO_LOCALES[1:]:  # the primary locale's page comes with the version
            appstore.add_localization(server.sim, released.id, locale, description="Eine Demo-App.")
    add_beta_test_information(server.sim, app_id)  # as after a first beta review (protocol.md H.4)

    issuer_id = str(uuid.uuid4())
    private_pem, public_pem = make_api_key()
    server.register_key(DEMO_KEY_ID, issuer_id, public_pem)
    key_file = f"AuthKey_{DEMO_KEY_ID}.p8"
    key_path = directory / key_file
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(private_pem)

    ipa_path = build_ipa(directory / "Demo.ipa", bundle_id=DEMO_BUNDLE_ID, version=DEMO_VERSION,
                         build_number=DEMO_BUILD_NUMBER, display_name=DEMO_APP_NAME,
                         uses_non_exempt_encryption=False, pad_to=DEMO_IPA_SIZE)
    (directory / "WHAT_TO_TEST.md").write_text("Try the new onboarding and report anything odd.\n")
    values = dict(key_id=DEMO_KEY_ID, issuer_id=issuer_id, key_file=key_file, bundle_id=DEMO_BUNDLE_ID,
                  app_name=DEMO_APP_NAME, internal=INTERNAL_GROUP, external=EXTERNAL_GROUP, version=DEMO_VERSION,
                  build_number=DEMO_BUILD_NUMBER)
    flow_path = directory / "appstore-publish.yml"
    flow_path.write_text(TESTFLIGHT_FLOW_TEMPLATE.format(**values))
    app_store_flow_path = directory / "appstore-publish.app-store.yml"
    app_store_flow_path.write_text(APP_STORE_FLOW_TEMPLATE.format(**values))
    return DemoWorkspace(directory=directory, flow_path=flow_path, app_store_flow_path=app_store_flow_path,
                         ipa_path=Path(ipa_path), state_dir=directory / "state", app_id=str(app_id))
