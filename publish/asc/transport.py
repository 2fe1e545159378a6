"""The pieces of the HTTP transport that are pure functions: base-URL rules, retry timing, rate-limit header."""

from __future__ import annotations

import email.utils
import ipaddress
import random
from collections.abc import Mapping
from urllib.parse import urlsplit

from publish.errors import InputError

DEFAULT_BASE_URL = "https://api.appstoreconnect.apple.com"
BASE_URL_ENV = "ASC_API_BASE_URL"


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(base_url: str) -> str:
    """The API base URL without a trailing slash; `http://` only for loopback (the simulator), else `https://`."""
    text = (base_url or "").strip()
    hint = (
        f"Use {DEFAULT_BASE_URL} (the default), another https:// URL, or http://127.0.0.1:PORT for the local "
        "simulator (appstore-publish sandbox serve)."
    )
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise InputError(f"The App Store Connect base URL {text!r} is not a valid URL: {exc}.", hint=hint) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"The App Store Connect base URL {text!r} must start with https:// and name a host.",
                         hint=hint)
    if parts.username or parts.password:
        raise InputError("The App Store Connect base URL must not contain a user name or password.", hint=hint)
    if parts.query or parts.fragment:
        raise InputError(f"The App Store Connect base URL {text!r} must not have a query or fragment.", hint=hint)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InputError(
            f"The App Store Connect base URL {text!r} uses plain http:// for a host that is not this machine; "
            "API keys and tokens must only travel over https.",
            hint=hint,
        )
    del port
    return text.rstrip("/")


def resolve_base_url(flag: str | None, env: Mapping[str, str], *, env_name: str = BASE_URL_ENV) -> str:
    """The base URL from `--api-base-url`, else the `ASC_API_BASE_URL` environment variable, else Apple's; checked
    by `validate_base_url` (the error names where the bad value came from)."""
    if flag:
        return validate_base_url(flag)
    value = (env.get(env_name) or "").strip()
    if not value:
        return DEFAULT_BASE_URL
    try:
        return validate_base_url(value)
    except InputError as error:
        raise InputError(f"{env_name}: {error.message}", hint=error.hint) from None


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def backoff_delay(attempt: int, rng: random.Random, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
    return rng.uniform(0.0, min(cap, base * (2.0**attempt)))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


def parse_rate_limit(value: str | None) -> dict[str, int]:
    """`user-hour-lim:3500;user-hour-rem:500;` -> {"user-hour-lim": 3500, "user-hour-rem": 500}."""
    result: dict[str, int] = {}
    for pair in (value or "").split(";"):
        name, sep, number = pair.partition(":")
        if not sep:
            continue
        try:
            result[name.strip().lower()] = int(number.strip())
        except ValueError:
            continue
    return result
