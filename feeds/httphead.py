"""Read one HTTP/1.1 request head from the bytes a connection has received, strictly (RFC 9112).

Anything a lenient parser could read two ways (and a proxy in front could read
the other way: request smuggling) is refused rather than repaired. Section
numbers refer to RFC 9112 (HTTP/1.1) unless another RFC is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus

# token = 1*tchar (RFC 9110 §5.6.2)
_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# request-line = method SP request-target SP HTTP-version (§3), one SP each; a target is visible ASCII
_REQUEST_LINE = re.compile(rb"(" + _TCHAR + rb"+) ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# field-line = field-name ":" OWS field-value OWS (§5); no whitespace before the colon (§5.1);
# a value is visible characters, obs-text, SP and HTAB: no CR, LF, NUL or other controls (RFC 9110 §5.5)
_FIELD_LINE = re.compile(rb"(" + _TCHAR + rb"+):([\t\x20-\x7e\x80-\xff]*)")
_DIGITS = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Limits:
    """What one connection may send and how long it may take.

    The size limits are nginx's (``large_client_header_buffers 4 8k``); the
    timeouts are shorter than its defaults, since each open connection here
    costs more.
    """

    max_target: int = 8192  # bytes of request-target, else 414
    max_field_line: int = 8192  # bytes of one field line, else 431
    max_fields: int = 100  # field lines, else 431
    max_head: int = 32768  # bytes of the whole head, request line included, else 431
    max_connections: int = 512  # beyond it, new connections wait in the listen backlog
    backlog: int = 1024  # the listen queue (the kernel caps it at net.core.somaxconn)
    head_timeout: float = 10.0  # seconds from a request's first byte to the end of its head, else 408
    idle_timeout: float = 15.0  # seconds a persistent connection may wait for its next request
    send_timeout: float = 30.0  # seconds a client may leave a response unread before it is dropped
    linger_timeout: float = 2.0  # seconds a closing connection waits for the client to close


@dataclass(frozen=True)
class HeadError:
    """A head that is not answered but refused, and why (for the log)."""

    status: HTTPStatus
    reason: str
    line: bytes = b""  # the request line, as received, when there was one


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: tuple[int, int]
    fields: tuple[tuple[str, str], ...]  # (lower-case name, value without OWS), in order received
    line: bytes  # the request line, for the log
    has_content: bool  # a Content-Length above 0 or a chunked body: not read, so the connection ends

    def get_all(self, name: str) -> list[str] | None:
        """Every value of the field ``name`` (any case), or None when it is absent."""
        name = name.lower()
        found = [value for key, value in self.fields if key == name]
        return found or None

    def get(self, name: str) -> str | None:
        """The values of ``name`` joined into one list (RFC 9110 §5.3), or None."""
        found = self.get_all(name)
        return None if found is None else ", ".join(found)

    @property
    def persistent(self) -> bool:
        """§9.3: HTTP/1.1 stays open unless told to close; HTTP/1.0 only when it asks to keep alive."""
        options = {option.strip().lower() for option in (self.get("connection") or "").split(",")}
        if "close" in options:
            return False
        return self.version >= (1, 1) or "keep-alive" in options


@dataclass(frozen=True)
class Head:
    request: Request
    size: int  # bytes of the buffer the head took, leading empty lines included


def _skip_empty_lines(buffer: bytes | bytearray, start: int) -> int:
    """Where the request line begins: §2.2 lets a server ignore empty lines before it."""
    while buffer.startswith(b"\r\n", start):
        start += 2
    return start


def read_head(buffer: bytes | bytearray, limits: Limits, scanned: int = 0) -> Head | HeadError | None:
    """The request head at the start of ``buffer``; None while it is incomplete and within the limits.

    ``scanned`` is how far an earlier call already looked for the blank line that
    ends the head, so a head arriving a byte at a time is not searched from its
    start each time.
    """
    start = _skip_empty_lines(buffer, 0)
    end = buffer.find(b"\r\n\r\n", max(start, scanned - 3))
    if end < 0:
        first = buffer.find(b"\r\n", start)
        if first < 0 and len(buffer) - start > limits.max_target + 64:  # a method and a version besides
            return HeadError(HTTPStatus.REQUEST_URI_TOO_LONG, "request line too long")
        if len(buffer) - start > limits.max_head:
            return HeadError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
        return None
    if end + 4 - start > limits.max_head:
        return HeadError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
    lines = bytes(buffer[start:end]).split(b"\r\n")
    parsed = _parse(lines, limits)
    return Head(parsed, end + 4) if isinstance(parsed, Request) else parsed


def _parse(lines: list[bytes], limits: Limits) -> Request | HeadError:
    line = lines[0]
    if len(lines) - 1 > limits.max_fields:
        return HeadError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many fields", line)
    matched = _REQUEST_LINE.fullmatch(line)
    if matched is None:  # also a bare CR or LF in it (§2.2), and HTTP/0.9's two-word line
        return HeadError(HTTPStatus.BAD_REQUEST, "malformed request line", line)
    method, target, major, minor = matched.groups()
    if len(target) > limits.max_target:
        return HeadError(HTTPStatus.REQUEST_URI_TOO_LONG, "request-target too long", line)
    if major != b"1":
        return HeadError(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, "not HTTP/1", line)
    fields: list[tuple[str, str]] = []
    for field in lines[1:]:
        if len(field) > limits.max_field_line:
            return HeadError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "field line too long", line)
        if field[:1] in (b" ", b"\t"):  # obs-fold: a server must refuse it or unfold it (§5.2)
            return HeadError(HTTPStatus.BAD_REQUEST, "obsolete line folding", line)
        found = _FIELD_LINE.fullmatch(field)
        if found is None:  # a space before the colon (§5.1), no colon, a bare CR (§2.2), a control
            return HeadError(HTTPStatus.BAD_REQUEST, "malformed field line", line)
        fields.append((found[1].decode("ascii").lower(), found[2].strip(b" \t").decode("latin-1")))
    request = Request(
        method.decode("ascii"), target.decode("ascii"), (1, int(minor)), tuple(fields), line, has_content=False
    )
    return _framed(request)


def _framed(request: Request) -> Request | HeadError:
    """§6.3: the content's length must be beyond doubt; §3.2: exactly one Host in HTTP/1.1."""
    line = request.line
    hosts = request.get_all("host") or []
    if len(hosts) > 1 or (request.version >= (1, 1) and not hosts):
        return HeadError(HTTPStatus.BAD_REQUEST, "no Host or more than one", line)
    lengths = request.get_all("content-length")
    codings = request.get_all("transfer-encoding")
    if lengths is not None and (len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0])):
        return HeadError(HTTPStatus.BAD_REQUEST, "Content-Length twice or not a number", line)  # §6.3 (5)
    if codings is not None:
        if lengths is not None:  # §6.1: a message with both may be an attempt at smuggling
            return HeadError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding and Content-Length", line)
        if request.version < (1, 1):  # §6.1: in HTTP/1.0 the framing is faulty
            return HeadError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding in HTTP/1.0", line)
        if request.method in ("GET", "HEAD"):  # no content is defined for them (RFC 9110 §9.3.1)
            return HeadError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding on GET or HEAD", line)
        last = ",".join(codings).split(",")[-1].strip().lower()
        if last != "chunked":  # §6.3 (4): the length of the content cannot be known
            return HeadError(HTTPStatus.BAD_REQUEST, "Transfer-Encoding not ending in chunked", line)
    has_content = codings is not None or (lengths is not None and int(lengths[0]) > 0)
    return Request(request.method, request.target, request.version, request.fields, line, has_content)
