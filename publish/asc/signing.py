"""Re-signing as its own layer of the transport: every API request gets a fresh-enough bearer token, and a 401 is
answered by signing a new token and sending the request once more.

Why the repeat is safe for every method: App Store Connect checks the token before it does anything (protocol.md
A), so a 401 proves nothing was applied. A second 401 is passed up: the key, issuer or clock is wrong, and another
signature would not change that. The token only ever goes to the API base URL's origin: the client refuses links
to other hosts before they reach this layer, and the transport never follows redirects.
"""

from __future__ import annotations

import logging

from publish.asc.auth import TokenProvider
from publish.asc.wire import Transport, WireRequest, WireResponse

log = logging.getLogger(__name__)


class SigningTransport(Transport):
    def __init__(self, inner: Transport, tokens: TokenProvider) -> None:
        self.inner = inner
        self._tokens = tokens

    def send(self, request: WireRequest) -> WireResponse:
        response = self.inner.send(request.with_header("Authorization", f"Bearer {self._tokens.token()}"))
        if response.status != 401:
            return response
        # The token may have expired in flight or been refused: nothing was done, so sign anew once.
        log.info("%s -> 401; signing a fresh token and trying once more", request.method)
        self._tokens.invalidate()
        return self.inner.send(request.with_header("Authorization", f"Bearer {self._tokens.token()}"))

    def close(self) -> None:
        self.inner.close()
