"""SandboxServer: the App Store Connect simulator over real loopback HTTP (stdlib ThreadingHTTPServer, HTTP/1.1
keep-alive), started in-process by tests or by `appstore-publish sandbox serve`."""

from __future__ import annotations

import json
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from publish.sandbox import app_store_review, appstore, catalog, generic, testflight, uploads
from publish.sandbox.app import Exchange, Handler, Sandbox
from publish.sandbox.auth import KeyRing
from publish.sandbox.blobs import BlobStore, PartError
from publish.sandbox.data import load_into
from publish.sandbox.faults import Faults
from publish.sandbox.http_date import HttpDate
from publish.sandbox.model import ApiError, Store, iso
from publish.sandbox.openapi import OpenApi
from publish.sandbox.realism import Realism
from publish.sandbox.request_head import PlainRequestHead

log = logging.getLogger(__name__)

MAX_API_BODY = 10 * 1024 * 1024


def _handler_modules() -> list[Any]:
    return [catalog, uploads, testflight, appstore, app_store_review]


def build_handlers(openapi: OpenApi) -> dict[tuple[str, str], Handler]:
    handlers: dict[tuple[str, str], Handler] = {}
    for route in openapi.routes:
        if "get" in route.operations:
            handler = generic.get_handler(openapi, route.template, route.operations["get"])
            if handler is not None:
                handlers[("get", route.template)] = handler
    for module in _handler_modules():
        handlers.update(module.HANDLERS)
    return handlers


class SandboxServer:
    """A stateful, strict App Store Connect simulator. See interfaces.md for the agreed API."""

    def __init__(self, data: dict[str, Any] | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 faults: Faults | None = None, clock: Callable[[], float] = time.time, processing_polls: int = 2,
                 part_size: int = 64 * 1024 * 1024, processing_seconds: float | None = None,
                 rate_limit_per_hour: int = 3500, seed: int = 0, realism: Realism | None = None) -> None:
        self.clock = clock
        self.openapi = OpenApi.packaged()
        self.store = Store(seed)
        self.keys = KeyRing(clock, rate_limit_per_hour)
        self._faults = faults or Faults(seed=seed)
        self.blobs = BlobStore(clock, part_size)
        self.sim = Sandbox(openapi=self.openapi, store=self.store, keys=self.keys, faults=self._faults, clock=clock,
                           handlers=build_handlers(self.openapi), observers={})
        self.sim.processing_polls = processing_polls
        self.sim.realism = realism if realism is not None else Realism()
        self.sim.processing_seconds = processing_seconds
        self.sim.extensions["blobs"] = self.blobs
        self.sim.observers.update({
            "buildUploads": lambda r: uploads.observe_upload(self.sim, r),
            "builds": lambda r: uploads.observe_build(self.sim, r),
        })
        for module in _handler_modules():
            self.sim.renderer.filters.update(getattr(module, "FILTERS", {}))
            for type_, observer in getattr(module, "OBSERVERS", {}).items():
                self.sim.observers[type_] = (lambda o: lambda r: o(self.sim, r))(observer)
            for type_, computed in getattr(module, "COMPUTED", {}).items():
                self.sim.renderer.computed[type_] = (lambda c: lambda r: c(self.sim, r))(computed)
        self.sim.renderer.computed["buildBetaDetails"] = lambda r: catalog.beta_detail_states(self.sim, r)
        self.http_date = HttpDate()  # the Date header of every answer (stdlib time, as http.server's)
        self._httpd = _HttpServer((host, port), _make_request_handler(self))
        bound_host, bound_port = str(self._httpd.server_address[0]), self._httpd.server_address[1]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}"
        self.sim.set_base_url(self.url)
        self.blobs.base_url = self.url
        self._thread: threading.Thread | None = None
        if data:
            load_into(self, data)

    # lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_until_stopped, name="asc-sandbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.stop_serving()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self.blobs.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # state for tests and tools -----------------------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value
        self.sim.faults = value

    @property
    def exchanges(self) -> list[Exchange]:
        return self.sim.exchanges

    @property
    def realism(self) -> Realism:
        return self.sim.realism

    @realism.setter
    def realism(self, value: Realism) -> None:
        self.sim.realism = value

    @property
    def processing_polls(self) -> int:
        return self.sim.processing_polls

    @processing_polls.setter
    def processing_polls(self, value: int) -> None:
        self.sim.processing_polls = value

    def register_key(self, key_id: str, issuer_id: str | None, public_key_pem: str, *, read_only: bool = False) -> None:
        self.keys.register(key_id, issuer_id, public_key_pem, read_only=read_only)

    def revoke_key(self, key_id: str) -> None:
        self.keys.revoke(key_id)

    def set_key_read_only(self, key_id: str, read_only: bool = True) -> None:
        self.keys.set_read_only(key_id, read_only)

    def add_app(self, bundle_id: str, name: str, sku: str | None = None, primary_locale: str = "en-US") -> str:
        with self.store.lock:
            app = self.store.add("apps", {"bundleId": bundle_id, "name": name, "sku": sku or bundle_id.upper(),
                                          "primaryLocale": primary_locale, "contentRightsDeclaration": None,
                                          "isOrEverWasMadeForKids": False})
            return app.id

    def add_beta_group(self, app_id: str, name: str, internal: bool, *, has_access_to_all_builds: bool = False) -> str:
        with self.store.lock:
            self.store.require("apps", app_id)
            group = self.store.add("betaGroups", {
                "name": name, "isInternalGroup": internal, "hasAccessToAllBuilds": has_access_to_all_builds,
                "createdDate": iso(self.clock()), "publicLinkEnabled": False, "feedbackEnabled": True,
            }, {"app": app_id})
            return group.id

    def add_beta_tester(self, email: str, *, first_name: str | None = None, last_name: str | None = None,
                        app_ids: tuple[str, ...] = (), group_ids: tuple[str, ...] = ()) -> str:
        with self.store.lock:
            tester = self.store.add("betaTesters", {"email": email, "firstName": first_name, "lastName": last_name,
                                                    "inviteType": "EMAIL", "state": "INVITED"},
                                    {"apps": list(app_ids), "betaGroups": list(group_ids)})
            return tester.id

    def add_build(self, app_id: str, version: str, build_number: str, *, platform: str = "IOS",
                  processing_state: str = "VALID", uses_non_exempt_encryption: bool | None = False) -> str:
        """A build that is already on App Store Connect (as if uploaded earlier)."""
        with self.store.lock:
            self.store.require("apps", app_id)
            build = uploads.create_build(self.sim, app_id, version, build_number, platform,
                                         processing_state=processing_state,
                                         uses_non_exempt_encryption=uses_non_exempt_encryption)
            return build.id

    def add_app_store_version(self, app_id: str, version_string: str, *, platform: str = "IOS",
                              state: str = "READY_FOR_DISTRIBUTION") -> str:
        with self.store.lock:
            self.store.require("apps", app_id)
            return appstore.create_version(self.sim, app_id, version_string, platform, state=state).id

    def finish_review(self, submission_id: str, *, approve: bool = True) -> None:
        """Plays App Review for a submitted review submission: approve (release per releaseType) or reject."""
        with self.store.lock:
            submission = self.store.require("reviewSubmissions", submission_id)
            app_store_review.finish_review(self.sim, submission, approve=approve)


class _HttpServer(ThreadingHTTPServer):
    """serve_forever notices shutdown() only when its select times out (poll_interval), so every stop waited up to
    that long (0.1 s a simulator, 20 s over the test suite). This loop blocks on the listening socket and on a
    wake-up socket that stop_serving writes to: stopping is immediate and an idle simulator spends no CPU."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._wake_reader, self._wake_writer = socket.socketpair()  # first: a failed bind calls server_close
        self._stopping = threading.Event()
        super().__init__(address, handler)

    def serve_until_stopped(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stopping.is_set():
                        self.handle_request()  # ready: it accepts at once
                self.service_actions()

    def stop_serving(self) -> None:
        """Ends serve_until_stopped at once; returns without waiting (join the serving thread for that)."""
        self._stopping.set()
        self._wake_writer.send(b"\0")

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()


class _RequestHandler(PlainRequestHead):
    sandbox: SandboxServer  # the server this handler answers for: set per server by _make_request_handler
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool connections
    server_version = "asc-sandbox"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this
    # An answer goes out in one write (see _send), but a small write after another one would still wait for the
    # client's delayed ACK with Nagle on (~40 ms on Linux loopback).
    disable_nagle_algorithm = True
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's: status line and headers until flush_headers

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("sandbox: " + format, *args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:
            # The client hung up or reset the connection mid-exchange (the hostile and fault tests do it on purpose,
            # and so does any client that gives up): that ends this exchange and the connection, and is nobody's
            # error to report. socketserver would print a traceback to stderr for it.
            self.close_connection = True

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.sandbox.http_date() if timestamp is None else super().date_time_string(timestamp)

    def _headers(self) -> dict[str, str]:
        if self.header_fields is not None:
            return dict(self.header_fields)
        return {k.lower(): v for k, v in self.headers.items()}

    def _latency(self) -> None:
        if self.sandbox.faults.latency_ms:
            time.sleep(self.sandbox.faults.latency_ms / 1000)

    def _dispatch(self) -> None:
        target = urlsplit(self.path)
        self._latency()
        if target.path.startswith("/blob/"):
            self._part(target.path, target.query)
        else:
            self._api(target.path, target.query)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_OPTIONS = _dispatch

    def _api(self, path: str, query: str) -> None:
        headers = self._headers()
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > MAX_API_BODY:
            self.close_connection = True
            self._send(413 if length.isdigit() else 400, ApiError(
                400, "PARAMETER_ERROR.INVALID", "Send a JSON body with a Content-Length under 10 MiB.").document())
            return
        body = self.rfile.read(int(length)) if int(length) else b""
        reply = self.sandbox.sim.handle(self.command, path, query, headers, body)
        self._send(reply.status, reply.document, reply.headers)

    def _part(self, path: str, query: str) -> None:
        headers = self._headers()
        try:
            if self.command != "PUT":
                raise PartError(405, "MethodNotAllowed", "Part URLs accept PUT only.")
            target = self.sandbox.blobs.authorize(path, query, headers)
        except PartError as exc:
            self.close_connection = True  # the body (if any) was not read
            self._send(exc.status, exc.document())
            return
        faults = self.sandbox.faults
        if faults.chance(faults.error_rate_5xx):
            self.close_connection = True
            self._send(503, PartError(503, "SlowDown", "Simulated blob store error; retry the part.").document())
            return
        stop_after = target.length // 2 if faults.chance(faults.drop_part_rate) else None
        rate = faults.bandwidth_bytes_per_sec
        throttle = _Throttle(rate) if rate else None
        try:
            written = self.sandbox.blobs.write(target, self.rfile.read, throttle, stop_after,
                                         chunk_size=max(16 * 1024, min(1 << 20, rate // 20)) if rate else 1 << 20)
        except (ConnectionError, socket.timeout, OSError):
            written = -1
        if stop_after is not None or written != target.length:
            self.close_connection = True
            try:  # drop the connection without an answer, as a flaky network does
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.sandbox.blobs.mark_received(target)
        self._send(200, None)

    def _send(self, status: int, document: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if document is None else json.dumps(document).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            if document is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        body = payload if status != 204 and self.command != "HEAD" else b""
        if not body or self.request_version == "HTTP/0.9":  # HTTP/0.9: no headers, nothing buffered
            self.end_headers()
            if body:
                self.wfile.write(body)
            return
        # end_headers, with the body in the same write: one send (and one wake-up of the client) an answer, not two.
        # send_response buffered the status line and headers in _headers_buffer; flush_headers writes it at once.
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()


def _make_request_handler(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    return type("RequestHandler", (_RequestHandler,), {"sandbox": server})


class _Throttle:
    """Caps one connection's reading rate."""

    def __init__(self, bytes_per_sec: int) -> None:
        self.rate = bytes_per_sec
        self.start = time.monotonic()
        self.total = 0

    def __call__(self, count: int) -> None:
        self.total += count
        ahead = self.total / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            time.sleep(ahead)
