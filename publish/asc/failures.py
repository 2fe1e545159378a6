"""What a failed API call becomes for the user: the error for an answer that never came, an ambiguous write, a
wait that would pass the deadline, a redirect. Messages say what happened in Apple's terms and what to check;
none of them holds a token or a URL's query beyond the API path already shown in logs."""

from __future__ import annotations

from urllib.parse import urlsplit

from publish.asc.errors import AscAmbiguousWriteError, AscApiError, AscRateLimitError, AscTransportError
from publish.asc.observe import duration

__all__ = ["ambiguous", "duration", "given_up", "no_answer", "redirected"]
from publish.asc.retry import Attempts, Decision, Failure
from publish.asc.wire import WireFailure, WireResponse
from publish.errors import RemoteError

TLS_HINT = ("Retrying cannot fix a certificate: check this machine's clock and CA certificates (a proxy that "
            "re-signs TLS needs its CA in REQUESTS_CA_BUNDLE or SSL_CERT_FILE) and the base URL ({base}).")
RERUN_HINT = "Run again: the current state is read before anything is created again."


def no_answer(failure: WireFailure, call: str, attempts: Attempts, base_url: str) -> AscTransportError:
    if failure.kind == "tls":
        return AscTransportError(f"Could not reach App Store Connect securely for {call}: {failure.description}.",
                                 hint=TLS_HINT.format(base=base_url))
    if failure.kind == "oversized":
        return AscTransportError(f"App Store Connect's answer to {call} was refused: {failure.description}.",
                                 hint="A proxy or gateway may be in the way; check the base URL and the network.")
    tries = attempts.retries + 1
    return AscTransportError(
        f"Could not reach App Store Connect for {call}{f' after {tries} attempts' if tries > 1 else ''}: "
        f"{failure.description}.",
        hint=f"Check the network connection and the base URL ({base_url}); try again later.",
    )


def ambiguous(error: RemoteError, method: str, shown: str) -> AscAmbiguousWriteError:
    if isinstance(error, AscTransportError) and error.message.startswith("Could not reach"):
        detail = error.message.split(": ", 1)[-1].rstrip(".")
        message = (f"The connection broke during {method} {shown} ({detail}); App Store Connect may or may not have "
                   "applied it.")
    else:
        message = f"{error.message}\nApp Store Connect may or may not have applied this {method}."
    return AscAmbiguousWriteError(message, hint=RERUN_HINT, method=method, path=shown, cause=error)


def given_up(error: RemoteError, failure: Failure, decision: Decision, attempts: Attempts,
             key_id: str) -> RemoteError:
    """The error to raise when the policy says stop; a wait that would pass the deadline is named in it."""
    left = duration(attempts.budget_left or 0.0)
    if isinstance(error, AscRateLimitError) and decision.delay:
        error.retry_after = decision.delay
        error.message += (f"\nWaiting {duration(decision.delay)} for the rate limit of key {key_id} would pass this "
                          f"run's deadline ({left} left), so it stops here.")
        error.hint = error.advice()
    elif isinstance(error, AscApiError) and decision.delay and failure.retry_after is not None:
        error.message += (f"\nApp Store Connect asked to retry in {duration(decision.delay)}, past this run's "
                          f"deadline ({left} left).")
    return error


def redirected(response: WireResponse, call: str, base_url: str) -> AscTransportError:
    target = urlsplit(response.header("Location") or "").netloc or "the same host"
    return AscTransportError(
        f"App Store Connect answered {call} with a redirect (HTTP {response.status}) to {target}; redirects are "
        "not followed, so the API token is never sent anywhere else.",
        hint=f"The API never redirects: a proxy or a wrong base URL is in the way. Check the base URL ({base_url}).",
    )
