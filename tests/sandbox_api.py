"""The simulator's tests talk to it as any HTTP client would: a raw client (requests + a hand-made ES256 token) with
Apple's JSON:API bodies spelled out. The `sandbox`, `api` and `ipa_factory` fixtures are in conftest.py."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publish.sandbox.server import SandboxServer

KEY_ID = "SANDBOX1"
ISSUER = "69a6de70-03db-47e3-e053-5b8c7c11a4d1"
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def token(*, kid: str = KEY_ID, iss: str | None = ISSUER, lifetime: int = 600, now: float | None = None,
          key: Any = PRIVATE_KEY, aud: str = "appstoreconnect-v1", **extra: Any) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"iat": issued, "exp": issued + lifetime, "aud": aud, **extra}
    if iss is None:
        claims["sub"] = "user"
    else:
        claims["iss"] = iss
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": "JWT"})


class Api:
    """requests against the simulator, with Apple's JSON:API bodies spelled out."""

    def __init__(self, server: SandboxServer, bearer: str | None = None) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {bearer or token()}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.server.url + path, timeout=10, **kwargs)

    def get(self, path: str, **params: str) -> requests.Response:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.call("POST", path, json=body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.call("PATCH", path, json=body)

    def delete(self, path: str, body: Any = None) -> requests.Response:
        return self.call("DELETE", path, json=body)

    # the upload flow -------------------------------------------------------------------------------------------
    def create_upload(self, app_id: str, version: str = "1.0.0", build: str = "1", platform: str = "IOS") -> str:
        response = self.post("/v1/buildUploads", {"data": {
            "type": "buildUploads",
            "attributes": {"cfBundleShortVersionString": version, "cfBundleVersion": build, "platform": platform},
            "relationships": {"app": {"data": {"type": "apps", "id": app_id}}}}})
        assert response.status_code == 201, response.text
        return response.json()["data"]["id"]

    def reserve(self, upload_id: str, size: int, name: str = "App.ipa") -> dict[str, Any]:
        response = self.post("/v1/buildUploadFiles", {"data": {
            "type": "buildUploadFiles",
            "attributes": {"fileName": name, "fileSize": size, "uti": "com.apple.ipa", "assetType": "ASSET"},
            "relationships": {"buildUpload": {"data": {"type": "buildUploads", "id": upload_id}}}}})
        assert response.status_code == 201, response.text
        return response.json()["data"]

    def put_parts(self, operations: list[dict[str, Any]], data: bytes) -> None:
        parts = requests.Session()
        for op in operations:
            response = parts.request(op["method"], op["url"], data=data[op["offset"]:op["offset"] + op["length"]],
                                     headers={h["name"]: h["value"] for h in op["requestHeaders"]}, timeout=10)
            assert response.status_code == 200, response.text

    def commit(self, file_id: str, md5: str | None = None) -> requests.Response:
        attributes: dict[str, Any] = {"uploaded": True}
        if md5 is not None:
            attributes["sourceFileChecksums"] = {"file": {"algorithm": "MD5", "hash": md5}}
        return self.patch(f"/v1/buildUploadFiles/{file_id}", {"data": {
            "type": "buildUploadFiles", "id": file_id, "attributes": attributes}})

    def upload(self, app_id: str, ipa: Path, version: str, build: str) -> tuple[str, requests.Response]:
        data = ipa.read_bytes()
        upload_id = self.create_upload(app_id, version, build)
        file = self.reserve(upload_id, len(data))
        self.put_parts(file["attributes"]["uploadOperations"], data)
        return upload_id, self.commit(file["id"], hashlib.md5(data).hexdigest())

    def poll_upload(self, upload_id: str, times: int = 5) -> dict[str, Any]:
        for _ in range(times):
            document = self.get(f"/v1/buildUploads/{upload_id}", include="build").json()
            if document["data"]["attributes"]["state"]["state"] in ("COMPLETE", "FAILED"):
                return document
        return document

    def uploaded_build(self, app_id: str, ipa: Path, version: str, build: str, *, valid: bool = True) -> str:
        upload_id, response = self.upload(app_id, ipa, version, build)
        assert response.status_code == 200, response.text
        document = self.poll_upload(upload_id)
        assert document["data"]["attributes"]["state"]["state"] == "COMPLETE", document
        build_id = document["data"]["relationships"]["build"]["data"]["id"]
        while valid and self.get(f"/v1/builds/{build_id}").json()["data"]["attributes"]["processingState"] != "VALID":
            pass
        return build_id
