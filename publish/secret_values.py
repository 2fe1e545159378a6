"""One secret value as the user keeps it: a flow file's literal or `{env: NAME}` / `{file: path}` reference (plain
or base64), fastlane's API-key JSON, and the key ID + .p8 text pair an API key is made of.

Every value is bounded before it is copied, decoded or registered for masking (a key is ~250 characters; a 10 MB
"key" must be refused at once, not fed to the redactor), and registered with the redactor the moment it is read.
No error message ever quotes a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from publish.asc.auth import ApiKey
from publish.asc.p8 import parse_p8
from publish.errors import InputError
from publish.spec import SecretRef, Value

SECRET_HINT = (
    "in GitHub Actions store it as a repository secret and map it: `env: {name}: ${{{{ secrets.{name} }}}}`; "
    "in GitLab CI add a masked CI/CD variable {name}; elsewhere `export {name}=...`"
)
# A secret is a key (~250 characters), a password or a small JSON file; far larger text is a mistake (a whole file
# or archive in the variable) and is refused before anything copies, decodes or registers it for masking.
MAX_SECRET_CHARS = 64 * 1024

Register = Callable[[str], object]


def read_value(value: Value, *, what: str, env: Mapping[str, str], base_dir: Path, register: Register | None,
               secret: bool) -> str:
    """The text a literal or a secret reference stands for; secrets are registered before anything else happens."""
    if isinstance(value, str):
        return value.strip()
    if value.env:
        raw = env.get(value.env)
        if raw is None:
            raise InputError(f"{what}: environment variable {value.env} is not set",
                             hint=SECRET_HINT.format(name=value.env))
        origin = f"environment variable {value.env}"
        raw = bounded(raw, what=f"{what} ({origin})")
    else:
        path = Path(value.file or "")
        path = path if path.is_absolute() else base_dir / path
        try:
            raw = _read_small_text(path, what=what)
        except FileNotFoundError:
            raise InputError(f"{what}: file {path} does not exist",
                             hint="a relative path is relative to the flow file's directory") from None
        except IsADirectoryError:
            raise InputError(f"{what}: {path} is a directory, not a file") from None
        except UnicodeDecodeError:
            raise InputError(f"{what}: file {path} is not text",
                             hint="if it holds base64, add `encoding: base64`; a .p8 key is PEM text") from None
        except ValueError:  # a NUL byte in the path (a flow file's paths are checked when it is loaded)
            raise InputError(f"{what}: the file path contains a NUL byte", hint="give the path as it is on disk") \
                from None
        except OSError as exc:
            raise InputError(f"{what}: cannot read file {path}: {exc.strerror}") from None
        origin = f"file {path}"
    if secret and register is not None:
        register(raw)
    if value.encoding == "base64":
        raw = decode_base64(raw, what=f"{what} ({origin})")
        if secret and register is not None:
            register(raw)
    if not raw.strip():
        raise InputError(f"{what}: {origin} is empty", hint=SECRET_HINT.format(name=value.env) if value.env else None)
    return raw if secret else raw.strip()


def bounded(text: str, *, what: str) -> str:
    if len(text) > MAX_SECRET_CHARS:
        raise InputError(f"{what} is {len(text)} characters long; a key, password or API-key JSON is far smaller "
                         f"(at most {MAX_SECRET_CHARS} are read), so this is not one",
                         hint="check that the variable or file holds the secret itself, e.g. the AuthKey_<KEY_ID>.p8 "
                         "file's text, not a path to a folder, an archive or a log")
    return text


def _read_small_text(path: Path, *, what: str) -> str:
    """A secret file's text, reading no more than the bound (a device or a huge file is not read to its end)."""
    with open(path, "rb") as handle:
        data = handle.read(4 * MAX_SECRET_CHARS + 1)
    if len(data) > 4 * MAX_SECRET_CHARS:
        raise InputError(f"{what}: file {path} is larger than {4 * MAX_SECRET_CHARS} bytes, far larger than a key "
                         "or password file", hint="give the path of the AuthKey_<KEY_ID>.p8 (or secret) file itself")
    return bounded(data.decode("utf-8"), what=f"{what}: file {path}")


def decode_base64(text: str, *, what: str) -> str:
    body = "".join(text.split())
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what} is not valid base64",
                         hint="encode the file with `base64 -w0 FILE` (macOS: `base64 -i FILE`), or drop "
                         "`encoding: base64` if the value is plain text") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is base64 of binary data, not of text",
                         hint="encode the .p8 file itself (PEM text), not a DER or other binary form") from None


# --------------------------------------------------------------------------------------------------- P8 keys


def normalize_private_key(text: str, *, what: str = "the App Store Connect private key") -> str:
    """A .p8 key as canonical PEM, or an InputError saying precisely what is wrong with it (never quoting it).

    The one parser (publish.asc.p8) the token signer uses too, so both repair and refuse alike.
    """
    return parse_p8(text, what=what).pem


def make_api_key(key_id: str, issuer_id: str | None, pem_text: str, *, what: str, register: Register) -> ApiKey:
    register(pem_text)
    pem = normalize_private_key(pem_text, what=what)
    register(pem)
    key_id = key_id.strip().strip("\"'")
    if not key_id or not re.fullmatch(r"[\x21-\x7e]+", key_id):
        raise InputError(f"the key ID for {what} is empty or contains spaces",
                         hint="copy the Key ID shown next to the key in App Store Connect > Users and Access > "
                         "Integrations (10 letters and digits, e.g. 2X9R4HXF34)")
    issuer = issuer_id.strip().strip("\"'") if issuer_id is not None else None
    return ApiKey(key_id=key_id, issuer_id=issuer or None, private_key_pem=pem)


# --------------------------------------------------------------------------------------------------- fastlane JSON


def parse_fastlane_json(text: str, *, what: str, base_dir: Path, register: Register) -> ApiKey:
    """fastlane's API-key JSON: {key_id, issuer_id, key, is_key_content_base64, in_house, duration} (or filepath)."""
    register(text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})",
                         hint="fastlane's API-key JSON looks like {\"key_id\": \"...\", \"issuer_id\": \"...\", "
                         "\"key\": \"-----BEGIN PRIVATE KEY-----\\n...\"}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a JSON object with key_id, issuer_id and key")
    key_id = data.get("key_id")
    if not isinstance(key_id, str) or not key_id.strip():
        raise InputError(f"{what} has no key_id", hint="add \"key_id\": \"<the key's ID>\"")
    issuer_id = data.get("issuer_id")
    if issuer_id is not None and not isinstance(issuer_id, str):
        raise InputError(f"{what}: issuer_id must be a string")
    key = data.get("key")
    if key is None:
        filepath = data.get("filepath") or data.get("key_filepath")
        if not isinstance(filepath, str):
            raise InputError(f"{what} has no key", hint="add \"key\": the contents of the .p8 file (or \"filepath\")")
        key = read_value(SecretRef(file=filepath), what=f"{what} filepath", env={}, base_dir=base_dir,
                         register=register, secret=True)
    if not isinstance(key, str):
        raise InputError(f"{what}: key must be a string holding the .p8 file's contents")
    register(key)
    if data.get("is_key_content_base64") in (True, "true", "1", 1):
        key = decode_base64(key, what=f"{what} key (is_key_content_base64)")
    return make_api_key(key_id, issuer_id or None, key, what=what, register=register)
