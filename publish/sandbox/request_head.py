"""The head of a request (request line and headers) read without the email package, for the plain requests every
client sends; anything else goes to http.server's own reading, so every answer stays the stdlib's.

http.server reads headers through http.client.parse_headers, which hands them to email.parser: ~90 us a request,
about a fifth of what the simulator spends on an exchange. Plain header lines ("Name: value" with CRLF, a token
for a name) need none of what the email parser is for (folded lines, defects, MIME), and for them the message
below is the one the parser builds: the same (name, value) pairs in order, the same empty payload.
tests/sandbox/test_sandbox_request_head.py holds the two readings equal over plain and hostile heads."""

from __future__ import annotations

import email.parser
import http.client
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Protocol

# http.client's bounds (_MAXLINE, _MAXHEADERS), spelt here as they are private there; the tests compare them.
MAX_LINE = 65536
MAX_HEADERS = 100

# A head the email parser reads as nothing but (name, value) pairs: lines of a name of token characters
# (headerRE's [\041-\071\073-\176], so no space, no "From " line), a colon, then anything but CR and LF up to the
# CRLF; then the blank line.
_PLAIN_HEAD = re.compile(rb"(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r\n)*\r\n")
# The email parser reads a body after a multipart or message content type (and notes defects when it is not
# there): such a head is its to read. Any spelling of those words in a Content-Type value counts.
_MIME_CONTAINER = re.compile("multipart|message", re.IGNORECASE)
_PLAIN_VERSIONS = {"HTTP/1.1": (1, 1), "HTTP/1.0": (1, 0)}


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def read_header_lines(rfile: _Lines) -> list[bytes]:
    """The header lines up to and including the blank line (or end of input), as http.client reads them: the same
    bounds, the same errors (LineTooLong, HTTPException) at the same points."""
    lines = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def parse_header_lines(lines: list[bytes], message_class: type[http.client.HTTPMessage]) -> http.client.HTTPMessage:
    """The message http.client.parse_headers makes of these lines: built directly when the head is plain (see
    _PLAIN_HEAD) and names no MIME container, else by the email parser itself."""
    return read_head(lines, message_class)[0]


def read_head(lines: list[bytes],
              message_class: type[http.client.HTTPMessage]) -> tuple[http.client.HTTPMessage, list[tuple[str, str]]]:
    """parse_header_lines' message, and the (name, value) pairs its items() gives, in order. For a plain head the
    pairs are what the message was built of: items() would hand each value through email's policy again (~1 us a
    header, and a request's handler asks for all of them)."""
    head = b"".join(lines)
    if _PLAIN_HEAD.fullmatch(head):
        pairs = []
        for line in head.decode("iso-8859-1").split("\r\n")[:-2]:
            name, _, value = line.partition(":")
            if name.lower() == "content-type" and _MIME_CONTAINER.search(value):
                break
            pairs.append((name, value.lstrip(" \t")))  # email's compat32 policy: leading blanks go, nothing else
        else:
            message = message_class()
            for name, value in pairs:
                message.set_raw(name, value)
            message.set_payload("")
            return message, pairs
    message = email.parser.Parser(_class=message_class).parsestr(head.decode("iso-8859-1"))
    return message, message.items()


class PlainRequestHead(BaseHTTPRequestHandler):
    """parse_request for a request line of three words and HTTP/1.0 or 1.1, the stdlib's steps in its order; any
    other request line is left to the stdlib's parse_request whole (its errors and its HTTP/0.9 and 2.x rules)."""

    raw_requestline: bytes  # BaseHTTPRequestHandler's: set by handle_one_request
    # The request's headers by lower-case name (the last of repeated ones), as {k.lower(): v for k, v in
    # self.headers.items()} gives them; None when the stdlib's parse_request read the head.
    header_fields: dict[str, str] | None = None

    def parse_request(self) -> bool:
        self.header_fields = None  # not a previous request's, on a kept-alive connection
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        version_number = _PLAIN_VERSIONS.get(words[-1]) if len(words) == 3 else None
        if version_number is None:
            return super().parse_request()
        self.requestline = requestline
        self.request_version = words[2]
        self.close_connection = not (version_number >= (1, 1) and self.protocol_version >= "HTTP/1.1")
        self.command, self.path = words[0], words[1]
        if self.path.startswith("//"):  # as the stdlib does (gh-87389: no open redirect through //host paths)
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers, pairs = read_head(read_header_lines(self.rfile), self.MessageClass)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        fields: dict[str, str] = {}
        first: dict[str, str] = {}  # what the message's get() answers: the first of repeated headers
        for name, value in pairs:
            fields[name.lower()] = value
            first.setdefault(name.lower(), value)
        self.header_fields = fields
        conntype = first.get("connection", "")
        if conntype.lower() == "close":
            self.close_connection = True
        elif conntype.lower() == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = first.get("expect", "")
        if (expect.lower() == "100-continue" and self.protocol_version >= "HTTP/1.1"
                and self.request_version >= "HTTP/1.1" and not self.handle_expect_100()):
            return False
        return True
