import base64

from publish.redact import Redactor

KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\nabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH\n-----END PRIVATE KEY-----\n"


def test_whole_key_lines_base64_and_escaped_forms_are_masked() -> None:
    r = Redactor([KEY])
    line = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg"
    assert line not in r.redact(f"oops {line} here")
    assert "***" in r.redact(KEY)
    assert KEY.strip() not in r.redact(KEY)
    b64 = base64.b64encode(KEY.strip().encode()).decode()
    assert b64 not in r.redact(b64)
    escaped = KEY.strip().replace("\n", "\\n")
    assert "abcdefghijklmnop" not in r.redact(escaped)


def test_plain_text_untouched() -> None:
    r = Redactor(["s3cr3t-password"])
    assert r.redact("nothing to see") == "nothing to see"
    assert r.redact("pw=s3cr3t-password") == "pw=***"


def test_overlapping_secrets_are_masked_whole() -> None:
    # Two secrets sharing "1234": masking the first occurrence and going on after it (what one regex alternation
    # did) left "BBBBsecret" of the second in clear.
    r = Redactor(["secretAAAA1234", "1234BBBBsecret"])
    assert r.redact("x=secretAAAA1234BBBBsecret;") == "x=***;"
    same = Redactor(["abababab"])  # overlapping occurrences of one fragment
    assert same.redact("<ababababab>") == "<***>"


def test_each_occurrence_and_secrets_added_later_are_masked() -> None:
    r = Redactor(["first-secret"])
    assert r.redact("first-secretfirst-secret and first-secret.") == "****** and ***."
    assert r.redact("later-secret") == "later-secret"
    assert "later-secret" in r.add("later-secret")
    assert r.add("later-secret") == []
    assert r.redact("first-secret, later-secret, PEM line by line") == "***, ***, PEM line by line"
    lines = Redactor([KEY]).redact("".join(f"log: {line}\n" for line in KEY.splitlines()))
    assert "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg" not in lines
    assert "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH" not in lines
    assert lines.startswith("log: -----BEGIN PRIVATE KEY-----\nlog: ***\nlog: ***\nlog: -----END")
