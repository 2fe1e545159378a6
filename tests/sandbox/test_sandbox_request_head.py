"""The simulator reads a request's head (request line, headers) itself for plain requests (publish/sandbox/
request_head.py): every head, plain or hostile, must come out as http.server reads it (the same message, the same
request attributes, the same error answer), and a plain head must not go through the email parser."""

from __future__ import annotations

import email.parser
import http.client
import io
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from publish.sandbox import request_head
from publish.sandbox.request_head import PlainRequestHead, parse_header_lines, read_head, read_header_lines

TOKEN = "Bearer eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"
PLAIN = (b"Host: 127.0.0.1:5000\r\nUser-Agent: python-requests/2.34\r\nAccept-Encoding: gzip, deflate\r\n"
         b"Accept: */*\r\nConnection: keep-alive\r\nAuthorization: " + TOKEN.encode() + b"\r\n"
         b"Content-Type: application/json\r\nContent-Length: 17\r\n\r\n")

HEADS = {
    "plain": PLAIN,
    "no headers": b"\r\n",
    "value blanks kept inside and at the end": b"X-A:  \t a  b \t \r\nX-B:\r\nX-C:   \r\n\r\n",
    "duplicates and case": b"Connection: close\r\nconnection: keep-alive\r\nX-Y: 1\r\nx-y: 2\r\n\r\n",
    "latin-1 and control bytes in a value": b"X-A: caf\xe9 \x00\x7f\x85\xa0 end\r\n\r\n",
    "colon in the value": b"Host: [::1]:80\r\nX-T: a:b:c\r\n\r\n",
    "folded line": b"X-A: one\r\n two\r\n\tthree\r\nX-B: 2\r\n\r\n",
    "first line folded": b" X-A: one\r\nX-B: 2\r\n\r\n",
    "bare LF line ends": b"Host: x\nAccept: y\n\n",
    "mixed line ends": b"Host: x\r\nAccept: y\n\r\n",
    "bare CR inside a value": b"X-A: one\rtwo\r\nX-B: 2\r\n\r\n",
    "no colon": b"Host: x\r\nnot a header\r\nX-B: 2\r\n\r\n",
    "empty name": b": value\r\nX-B: 2\r\n\r\n",
    "space before the colon": b"Host : x\r\n\r\n",
    "From line": b"From someone\r\nHost: x\r\n\r\n",
    "non-token name": b"X\xe9: 1\r\nX(a): 2\r\n\r\n",
    "end of input before the blank line": b"Host: x\r\nAccept: y\r\n",
    "nothing at all": b"",
    "blank line alone as LF": b"\n",
    "101 headers": b"".join(b"X-%d: v\r\n" % n for n in range(101)) + b"\r\n",
    "100 headers": b"".join(b"X-%d: v\r\n" % n for n in range(99)) + b"\r\n",
    "line too long": b"X-A: " + b"a" * 65536 + b"\r\n\r\n",
    "longest line": b"X-A: " + b"a" * (65536 - 7) + b"\r\n\r\n",
    "multipart": b"Content-Type: multipart/mixed; boundary=x\r\nMIME-Version: 1.0\r\n\r\n",
    "multipart, spelt otherwise": b"content-TYPE:  MultiPart/x\r\n\r\n",
    "message": b"Content-Type: message/rfc822\r\n\r\n",
    "delivery status": b"Content-Type: message/delivery-status\r\n\r\n",
    "JSON": b"Content-Type: application/json; charset=utf-8\r\n\r\n",
    "not a content type": b"Content-Type: multipart\r\nContent-Type: message/x\r\n\r\n",
}


def _ours(head: bytes) -> Any:
    return parse_header_lines(read_header_lines(io.BytesIO(head)), http.client.HTTPMessage)


def _state(message: Any) -> dict[str, Any]:
    state = dict(vars(message))
    state["defects"] = [(type(d), str(d)) for d in state["defects"]]
    if isinstance(state["_payload"], list):  # a message/* or multipart head: the parts read from the body
        state["_payload"] = [_state(part) for part in state["_payload"]]
    return state


@pytest.mark.parametrize("head", list(HEADS.values()), ids=list(HEADS))
def test_every_head_reads_as_http_client_reads_it(head: bytes) -> None:
    theirs, ours = io.BytesIO(head + b"BODY after the head"), io.BytesIO(head + b"BODY after the head")
    try:
        expected = _state(http.client.parse_headers(theirs))
    except http.client.HTTPException as exc:
        with pytest.raises(type(exc), match=str(exc)):
            read_header_lines(ours)
        return
    message, pairs = read_head(read_header_lines(ours), http.client.HTTPMessage)
    assert _state(message) == expected
    assert pairs == message.items() == http.client.parse_headers(io.BytesIO(head)).items()
    assert ours.read() == theirs.read()  # the same bytes left for the body


def test_the_bounds_are_http_clients() -> None:
    assert (request_head.MAX_LINE, request_head.MAX_HEADERS) == (http.client._MAXLINE,  # type: ignore[attr-defined]
                                                                 http.client._MAXHEADERS)  # type: ignore[attr-defined]


def test_a_plain_head_skips_the_email_parser_and_an_odd_one_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing(email.parser.Parser):
        def parsestr(self, text: str, headersonly: bool = False) -> Any:
            raise AssertionError("the email parser was asked")

    monkeypatch.setattr(request_head.email.parser, "Parser", Refusing)
    assert _ours(PLAIN)["Authorization"] == TOKEN
    with pytest.raises(AssertionError, match="email parser"):
        _ours(HEADS["folded line"])


class _Stdlib(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Tue, 01 Dec 2026 00:00:00 GMT"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class _Ours(PlainRequestHead, _Stdlib):
    pass


REQUEST_LINES = [b"GET /v1/apps HTTP/1.1", b"POST /v1/builds?x=1 HTTP/1.0", b"GET //evil.example/x HTTP/1.1",
                 b"PATCH /v1/apps/1 HTTP/1.1 extra", b"GET /x", b"POST /x", b"GET /x HTTP/2.0", b"GET /x HTTP/1.10",
                 b"GET /x HTTP/01.1", b"GET /x HTTQ/1.1", b"GET\x85/x\xa0HTTP/1.1", b"", b"   ", b"GET /x HTTP/1"]
HEAD_CASES = {"plain": PLAIN, "close": b"Connection: close\r\n\r\n", "keep-alive": b"Connection: Keep-Alive\r\n\r\n",
              "expect": b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n", "folded": HEADS["folded line"],
              "too many": HEADS["101 headers"], "too long": HEADS["line too long"], "cut": HEADS["nothing at all"]}


def _parse(handler_class: type[BaseHTTPRequestHandler], line: bytes, head: bytes) -> tuple[Any, ...]:
    handler: Any = handler_class.__new__(handler_class)
    handler.rfile, handler.wfile = io.BytesIO(head + b"abc"), io.BytesIO()
    handler.raw_requestline = line + b"\r\n"
    handler.request_version, handler.command = handler.default_request_version, None  # as handle_one_request
    result = handler.parse_request()
    headers = getattr(handler, "headers", None)
    return (result, handler.command, getattr(handler, "path", None), handler.request_version,
            handler.close_connection, getattr(handler, "requestline", None),
            None if headers is None else _state(headers), handler.wfile.getvalue(), handler.rfile.read())


@pytest.mark.parametrize("head", list(HEAD_CASES.values()), ids=list(HEAD_CASES))
@pytest.mark.parametrize("line", REQUEST_LINES, ids=[repr(line) for line in REQUEST_LINES])
def test_a_request_parses_and_is_refused_as_the_stdlib_does(line: bytes, head: bytes) -> None:
    assert _parse(_Ours, line, head) == _parse(_Stdlib, line, head)


@pytest.mark.parametrize("head", [*HEAD_CASES.values(), HEADS["duplicates and case"]],
                         ids=[*HEAD_CASES, "duplicates and case"])
def test_the_header_fields_are_the_messages_by_lower_case_name(head: bytes) -> None:
    handler: Any = _Ours.__new__(_Ours)
    handler.header_fields = {"stale": "from the request before"}
    handler.rfile, handler.wfile = io.BytesIO(head), io.BytesIO()
    handler.raw_requestline, handler.request_version = b"GET /v1/apps HTTP/1.1\r\n", "HTTP/0.9"
    if handler.parse_request():
        assert handler.header_fields == {k.lower(): v for k, v in handler.headers.items()}
    handler.header_fields = {"stale": "from the request before"}
    handler.rfile, handler.raw_requestline = io.BytesIO(head), b"GET /x HTTP/2.0\r\n"  # the stdlib's reading
    handler.parse_request()
    assert handler.header_fields is None


def test_a_plain_request_asks_its_message_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the message was asked")

    handler: Any = _Ours.__new__(_Ours)
    handler.rfile, handler.wfile = io.BytesIO(HEAD_CASES["keep-alive"] + PLAIN), io.BytesIO()
    handler.raw_requestline, handler.request_version = b"GET /v1/apps HTTP/1.0\r\n", "HTTP/0.9"
    for name in ("get", "items", "__getitem__", "keys", "values"):
        monkeypatch.setattr(http.client.HTTPMessage, name, refuse)
    assert handler.parse_request() and handler.close_connection is False  # keep-alive read from the fields
    assert handler.header_fields["connection"] == "Keep-Alive"
