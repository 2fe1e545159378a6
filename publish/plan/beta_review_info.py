"""The step's `test_information` for the external beta review (protocol.md H.4), checked offline: contact, app
information, and a demo account whose password is a secret reference ({env: ...} / {file: ...}), never inline.
What App Store Connect already holds is merged in by the step (publish/steps/beta_review.py), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from publish.errors import InputError
from publish.spec import SecretRef

OTHER_REVIEW_CHOICES = ("fail", "wait", "expire_other")
# Beta App Review detail: Apple attribute -> where it goes in the step
CONTACT = {"contactFirstName": "test_information.contact.first_name",
           "contactLastName": "test_information.contact.last_name",
           "contactPhone": "test_information.contact.phone",
           "contactEmail": "test_information.contact.email"}
APP_INFORMATION = {"feedbackEmail": "test_information.feedback_email",
                   "description": "test_information.description"}
EXAMPLE = ("test_information: {description: What the app does, feedback_email: beta@example.com, contact: "
            "{first_name: Ann, last_name: Lee, phone: '+1 555 0100', email: ann@example.com}}")


@dataclass(frozen=True)
class TestInformation:
    """What the step gives for beta review (None: not given; App Store Connect's value is kept)."""

    review_detail: Mapping[str, Any] = field(default_factory=dict)  # Apple attribute names
    app_information: Mapping[str, str] = field(default_factory=dict)
    demo_password: SecretRef | None = None

    @property
    def given(self) -> bool:
        return bool(self.review_detail or self.app_information or self.demo_password)

    def to_json(self) -> dict[str, Any]:
        """As `plan` shows it: Apple's attribute names; the password only as where it is read from."""
        shown: dict[str, Any] = {**self.app_information, **self.review_detail}
        if self.demo_password is not None:
            shown["demoAccountPassword"] = self.demo_password.describe()
        return shown


def read_test_information(settings: Mapping[str, Any]) -> TestInformation:
    """The step's `test_information`, checked offline (types, e-mails, the password a secret reference)."""
    raw = settings.get("test_information")
    if raw is None:
        return TestInformation()
    if not isinstance(raw, Mapping):
        raise InputError(f"test_information: {raw!r} is not a mapping", hint="write " + EXAMPLE)
    app_information: dict[str, str] = {}
    for key, attribute in (("description", "description"), ("feedback_email", "feedbackEmail")):
        value = _text(raw, key, "test_information")
        if value is not None:
            app_information[attribute] = value
    contact = raw.get("contact") or {}
    if not isinstance(contact, Mapping):
        raise InputError(f"test_information.contact: {contact!r} is not a mapping", hint="write " + EXAMPLE)
    review_detail: dict[str, Any] = {}
    for attribute, where in CONTACT.items():
        value = _text(contact, where.rsplit(".", 1)[1], "test_information.contact")
        if value is not None:
            review_detail[attribute] = value
    notes = _text(raw, "notes", "test_information")
    if notes is not None:
        review_detail["notes"] = notes
    password = _demo_account(raw.get("demo_account"), review_detail)
    for where, email in (("feedback_email", app_information.get("feedbackEmail")),
                         ("contact.email", review_detail.get("contactEmail"))):
        if email is not None and "@" not in email:
            raise InputError(f"test_information.{where}: {email!r} is not an e-mail address")
    return TestInformation(review_detail=review_detail, app_information=app_information, demo_password=password)


def _demo_account(demo: Any, review_detail: dict[str, Any]) -> SecretRef | None:
    """The demo account's name and `required` go to `review_detail`; returns where its password is read from."""
    if demo is None:
        return None
    if not isinstance(demo, Mapping):
        raise InputError(f"test_information.demo_account: {demo!r} is not a mapping",
                         hint="write demo_account: {required: true, name: demo@example.com, password: "
                         "{env: DEMO_PASSWORD}}")
    required = demo.get("required", True)
    if not isinstance(required, bool):
        raise InputError(f"test_information.demo_account.required: {required!r} is not true or false")
    review_detail["demoAccountRequired"] = required
    name = _text(demo, "name", "test_information.demo_account")
    if name is not None:
        review_detail["demoAccountName"] = name
    password = _secret(demo.get("password"))
    if required and (name is None or password is None):
        raise InputError("test_information.demo_account: a required demo account needs a name and a password",
                         hint="add name: and password: {env: DEMO_PASSWORD} (Apple's reviewers sign in with it)")
    return password


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise InputError(f"{where}.{key}: {value!r} is not a non-empty text", hint="write " + EXAMPLE)
    return str(value).strip()


def _secret(value: Any) -> SecretRef | None:
    if value is None:
        return None
    if isinstance(value, SecretRef):
        return value
    if isinstance(value, Mapping) and (value.get("env") or value.get("file")):
        return SecretRef(env=value.get("env"), file=value.get("file"), encoding=value.get("encoding"))
    raise InputError("test_information.demo_account.password must be a secret reference, never written inline",
                     hint="write password: {env: DEMO_PASSWORD} and set that variable from your CI's secrets")


def other_review_choice(choice: Any) -> str:
    """`if_another_build_in_review`: what to do when another build of the app is in beta review (H.3)."""
    if choice not in OTHER_REVIEW_CHOICES:
        raise InputError(f"if_another_build_in_review: {choice!r} is not one of {', '.join(OTHER_REVIEW_CHOICES)}",
                         hint="fail (default) stops before any change; wait waits for the other review to end; "
                         "expire_other expires the other build, then submits")
    return str(choice)
