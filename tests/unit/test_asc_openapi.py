"""Every call the typed helpers make exists in Apple's OpenAPI description: the path and method, each query
parameter name (and enum value), the request body (validated against the operation's request schema), and the
success status the helper expects. Responses are served from a callback shaped by the same description."""

from __future__ import annotations

import functools
import json
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from contract import load_description, to_json_schema
from publish.asc import ApiKey, AppStoreConnect

BASE = "https://api.appstoreconnect.apple.com"
PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


class Spec:
    """The description as the helpers' calls are checked against it: contract.py's, read once a process (its
    converter is the suite's one)."""

    def __init__(self, path: Path) -> None:
        self.description = load_description(path)
        self.doc = self.description.doc
        self.validator = self.description.validator

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        template = self.description.route(path, method)
        if template is None:
            raise AssertionError(f"{method} {path} is not in the OpenAPI description")
        return template, self.doc["paths"][template][method.lower()]

    def response_ref(self, operation: dict[str, Any], status: int) -> str | None:
        content = operation["responses"].get(str(status), {}).get("content", {})
        return content.get("application/json", {}).get("schema", {}).get("$ref")

    def response_is_list(self, operation: dict[str, Any], status: int) -> bool:
        ref = self.response_ref(operation, status)
        if ref is None:
            return False
        schema = self.doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return schema.get("properties", {}).get("data", {}).get("type") == "array"


@pytest.fixture(scope="module")
def spec(openapi_path: Path) -> Spec:
    return Spec(openapi_path)


class Recorder:
    """Answers like App Store Connect would (status and document shape per the OpenAPI) and checks each request."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.problems: list[str] = []
        self.seen: list[str] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        method = request.method
        template, operation = self.spec.operation(method, parts.path)
        self.seen.append(f"{method} {template}")
        declared = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name not in declared:
                self.problems.append(f"{method} {template}: undeclared query parameter {name}")
                continue
            schema = declared[name].get("schema", {})
            allowed = schema.get("items", {}).get("enum") or schema.get("enum")
            values = value.split(",") if schema.get("type") == "array" else [value]
            if allowed and any(v not in allowed for v in values):
                self.problems.append(f"{method} {template}: {name}={value} not in {allowed}")
        for name, parameter in declared.items():
            if parameter.get("required") and name not in dict(parse_qsl(parts.query)):
                self.problems.append(f"{method} {template}: required query parameter {name} missing")
        content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        if content:
            body = json.loads(request.body)
            for error in self.spec.validator(content["schema"]["$ref"]).iter_errors(body):
                self.problems.append(f"{method} {template}: body {list(error.absolute_path)}: {error.message}")
        elif request.body:
            self.problems.append(f"{method} {template}: sends a body the operation does not take")
        success = sorted(int(s) for s in operation["responses"] if s.startswith("2"))
        status = success[0]
        if status == 204:
            return 204, {}, ""
        if self.spec.response_is_list(operation, status):
            document: dict[str, Any] = {"data": [], "links": {"self": request.url}}
        else:
            data_type = template.rstrip("/").split("/")[-1] if "{" not in template.split("/")[-1] \
                else template.split("/")[-2]
            document = {"data": {"type": data_type, "id": "X1", "attributes": {}}, "links": {"self": request.url}}
        return status, {"Content-Type": "application/json"}, json.dumps(document)


def exercise(c: AppStoreConnect) -> None:
    """Every typed helper once, with realistic arguments."""
    c.find_app("com.example.app")
    c.get_app("A1")
    c.list_builds("A1", version="1.2.3", build_number="45", processing_states=["VALID"], platform="IOS",
                  pre_release_version_id="P1")
    c.list_builds("A1")
    c.get_build("B1", include=["preReleaseVersion", "buildBetaDetail"])
    c.update_build("B1", uses_non_exempt_encryption=False)
    c.update_build("B1", expired=True)
    c.find_pre_release_version("A1", "1.2.3")
    c.list_build_uploads("A1", version="1.2.3", states=["PROCESSING", "FAILED", "COMPLETE"], build_number="45",
                         platform="IOS")
    c.list_build_uploads("A1")
    c.create_build_upload("A1", version="1.2.3", build_number="45")
    c.get_build_upload("U1", include_build=True)
    c.get_build_upload("U1")
    c.delete_build_upload("U1")
    c.create_build_upload_file("U1", file_name="App.ipa", file_size=48213377)
    c.get_build_upload_file("F1")
    c.list_build_upload_files("U1")
    c.commit_build_upload_file("F1")
    c.list_beta_groups("A1")
    c.list_beta_groups("A1", name="QA")
    c.add_build_to_beta_groups("B1", ["G1", "G2"])
    c.remove_build_from_beta_groups("B1", ["G1"])
    c.find_beta_tester("qa@example.com", "A1")
    c.create_beta_tester("qa@example.com")
    c.create_beta_tester("qa@example.com", first_name="Q", last_name="A", build_ids=["B1"], group_ids=["G1"])
    c.add_individual_testers("B1", ["T1"])
    c.list_beta_build_localizations("B1")
    c.list_beta_build_localizations("B1", locale="en-US")
    c.create_beta_build_localization("B1", "en-US", "Fixes")
    c.update_beta_build_localization("L1", "More fixes")
    c.get_build_beta_detail("B1")
    c.update_build_beta_detail("D1", auto_notify_enabled=True)
    c.create_build_beta_notification("B1")
    c.list_beta_app_review_submissions("B1")
    c.create_beta_app_review_submission("B1")
    c.list_app_store_versions("A1", version_string="1.2.3", states=["PREPARE_FOR_SUBMISSION", "REJECTED"])
    c.get_app_store_version("V1")
    c.create_app_store_version("A1", platform="IOS", version_string="1.2.3", release_type="SCHEDULED",
                               earliest_release_date="2026-07-01T16:00:00Z")
    c.update_app_store_version("V1", release_type="MANUAL", version_string="1.2.4", earliest_release_date=None)
    c.delete_app_store_version("V1")
    c.get_app_store_version_build("V1")
    c.attach_build("V1", "B1")
    c.list_app_store_version_localizations("V1", locale="en-US")
    c.create_app_store_version_localization("V1", "en-US", whats_new="Fixes", support_url="https://example.com")
    c.update_app_store_version_localization("L1", whats_new="Fixes", promotional_text="New!")
    c.get_phased_release("V1")
    c.create_phased_release("V1")
    c.update_phased_release("PR1", "ACTIVE")
    c.delete_phased_release("PR1")
    c.list_review_submissions("A1", states=["READY_FOR_REVIEW"])
    c.get_review_submission("RS1")
    c.create_review_submission("A1")
    c.list_review_submission_items("RS1")
    c.create_review_submission_item("RS1", "V1")
    c.delete_review_submission_item("I1")
    c.update_review_submission("RS1", submitted=True)
    c.update_review_submission("RS1", canceled=True)


@responses.activate
def test_every_helper_call_matches_the_openapi_description(spec: Spec) -> None:
    recorder = Recorder(spec)
    for method in ("GET", "POST", "PATCH", "DELETE"):
        responses.add_callback(method, re.compile(re.escape(BASE) + r"/v1/.*"), callback=recorder)
    c = AppStoreConnect(ApiKey("K1", "issuer", PEM), sleep=lambda s: None, random=random.Random(0))
    exercise(c)
    assert recorder.problems == []
    assert len(recorder.seen) == c.call_count >= 55


def test_nullable_conversion() -> None:
    schema = to_json_schema({"properties": {"a": {"type": "string", "nullable": True},
                                            "b": {"$ref": "#/x", "nullable": True},
                                            "c": {"enum": ["X"], "type": "string", "nullable": True}}})
    assert schema["properties"]["a"] == {"type": ["string", "null"]}
    assert schema["properties"]["b"] == {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    assert schema["properties"]["c"]["enum"] == ["X", None]


@functools.cache
def _bad_body_problems(openapi: str) -> list[str]:
    spec = Spec(Path(openapi))
    validator = spec.validator("#/components/schemas/BuildUploadCreateRequest")
    bad = {"data": {"type": "buildUploads", "attributes": {"cfBundleVersion": "1", "platform": "ANDROID",
                                                           "bundleVersion": "1"}}}
    return [e.message for e in validator.iter_errors(bad)]


def test_the_body_check_can_fail(openapi_path: Path) -> None:
    problems = _bad_body_problems(str(openapi_path))
    assert any("relationships" in p for p in problems)
    assert any("cfBundleShortVersionString" in p for p in problems)
    assert any("ANDROID" in p for p in problems)
    assert any("bundleVersion" in p and "not allowed" in p for p in problems)
