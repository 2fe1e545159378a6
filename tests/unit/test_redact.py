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
