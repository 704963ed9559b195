"""An HTTP/1.1 server on asyncio: persistent connections, pipelining, deadlines and a connection cap.

It knows nothing of files: each request head goes to an ``answer`` function,
and its response is written in the order the requests came. Section numbers
refer to RFC 9112 (HTTP/1.1) unless another RFC is named.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import email.utils
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus

from .httphead import Head, HeadError, Limits, Request, read_head

_UTF8 = "; charset=utf-8"


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one (Linux with glibc); elsewhere None."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_malloc_trim = _find_malloc_trim()
_QUIET = 4  # connections open when the server counts as quiet again


@dataclass(frozen=True)
class Response:
    status: HTTPStatus
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""  # what is sent: nothing for HEAD, which still says the length of GET's content
    length: int | None = None  # the Content-Length to send; None sends none (a 304, §15.4.5 of RFC 9110)


def plain(status: HTTPStatus, send_body: bool = True, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """A short text/plain response naming the status."""
    text = f"{status.value} {status.phrase}\n".encode()
    return Response(status, (("Content-Type", "text/plain" + _UTF8), *headers), text if send_body else b"", len(text))


class Wait(Enum):
    IDLE = "idle"  # between requests
    HEAD = "head"  # a request has begun and its head is not complete
    SEND = "send"  # the client is not reading what was written
    LINGER = "linger"  # the last response is out; waiting for the client to close


class Connection(asyncio.Protocol):
    """One client: heads are read from one buffer, so pipelined requests are answered in order."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.limits = server.limits
        self.buffer = bytearray()
        self.scanned = 0
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.timer: asyncio.TimerHandle | None = None
        self.waiting = Wait.IDLE
        self.ended = False  # the client sent its FIN; what came before it is still answered
        self.blocked = False  # the transport's write buffer is full: answer nothing more until it drains
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # Room for one feed besides what is in flight, so a response is not a pause and a resume of reading.
        transport.set_write_buffer_limits(high=256 * 1024, low=64 * 1024)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else "-"
        self.wait(Wait.IDLE)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.buffer = bytearray()
        self.server.release(self)

    def wait(self, what: Wait) -> None:
        """Start the one clock this connection runs on; each state has its own limit."""
        if self.timer is not None:
            self.timer.cancel()
        self.waiting = what
        seconds = {
            Wait.IDLE: self.limits.idle_timeout,
            Wait.HEAD: self.limits.head_timeout,
            Wait.SEND: self.limits.send_timeout,
            Wait.LINGER: self.limits.linger_timeout,
        }[what]
        self.timer = self.server.loop.call_later(seconds, self.timed_out)

    def timed_out(self) -> None:
        assert self.transport is not None
        self.timer = None
        if self.waiting is Wait.HEAD and not self.closing:  # §9.5 lets a server close; 408 says why
            self.refuse(HeadError(HTTPStatus.REQUEST_TIMEOUT, "head not complete in time"))
        elif self.waiting in (Wait.SEND, Wait.LINGER):
            self.transport.abort()
        else:
            self.transport.close()  # an idle connection closes without a word (§9.5)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # lingering: what a refused client still sends is dropped
        self.buffer += data
        self.answer_waiting()

    def eof_received(self) -> bool:
        self.ended = True
        if self.closing:
            return False  # the client read our last response and closed: the transport closes
        self.answer_waiting()
        return True  # half-closed: keep writing the answers to what came before the FIN

    def pause_writing(self) -> None:
        assert self.transport is not None
        self.blocked = True
        self.transport.pause_reading()  # pipelined requests wait in the kernel, not in our memory
        self.wait(Wait.SEND)

    def resume_writing(self) -> None:
        assert self.transport is not None
        self.blocked = False
        if self.closing:
            self.wait(Wait.LINGER)
            return
        if not self.ended:
            self.transport.resume_reading()
        self.wait(Wait.HEAD if self.buffer else Wait.IDLE)
        self.answer_waiting()

    def answer_waiting(self) -> None:
        """Answer every complete head in the buffer, in order, while the client keeps reading."""
        assert self.transport is not None
        while not self.closing and not self.blocked:
            head = read_head(self.buffer, self.limits, self.scanned)
            if head is None:
                if self.ended:  # nothing more will come: every request received has been answered
                    self.transport.close()
                    self.closing = True
                else:
                    self.scanned = len(self.buffer)
                    if self.buffer and self.waiting is Wait.IDLE:
                        self.wait(Wait.HEAD)  # the deadline counts from a request's first byte
                return
            self.scanned = 0
            if isinstance(head, HeadError):
                self.refuse(head)
                return
            self.respond(head)

    def respond(self, head: Head) -> None:
        assert self.transport is not None
        request = head.request
        del self.buffer[: head.size]
        try:
            response = self.server.answer(request)
        except Exception:  # a bug: said once on stderr, answered 500, and the server goes on
            traceback.print_exc(file=sys.stderr)
            response = plain(HTTPStatus.INTERNAL_SERVER_ERROR, request.method != "HEAD")
        # Content not read would be taken for the next request: answer, then close.
        persistent = request.persistent and not request.has_content and response.status < 500
        self.server.log(self.peer, request, response.status)  # before the answer: logs keep the order of events
        self.write(response, persistent, request.version)
        if not persistent:
            self.linger()
        elif not self.blocked:
            self.wait(Wait.HEAD if self.buffer else Wait.IDLE)

    def refuse(self, error: HeadError) -> None:
        """A head not answered but refused: say why, and close, since what follows cannot be framed."""
        self.server.log(self.peer, error, error.status)
        self.write(plain(error.status), False, (1, 1))
        self.linger()

    def write(self, response: Response, persistent: bool, version: tuple[int, int]) -> None:
        assert self.transport is not None
        lines = [f"HTTP/1.1 {response.status.value} {response.status.phrase}", *self.server.stamp()]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if response.length is not None:
            lines.append(f"Content-Length: {response.length}")  # always: how a persistent connection frames it
        if not persistent:
            lines.append("Connection: close")  # §9.6
        elif version < (1, 1):
            lines.append("Connection: keep-alive")  # HTTP/1.0 keeps the connection only when told so (§C.2.2)
        self.transport.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + response.body)

    def linger(self) -> None:
        """Close gracefully: send FIN after the response and drop what still arrives (§9.6).

        Closing at once with unread bytes would send a reset, and a reset can
        destroy the response before the client reads it.
        """
        assert self.transport is not None
        self.closing = True
        self.buffer = bytearray()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if not self.ended:
            self.transport.resume_reading()
        if not self.blocked:
            self.wait(Wait.LINGER)
        if self.ended:
            self.transport.close()


class FeedServer:
    """A listening socket and the event loop that serves it (in the thread that calls serve_forever)."""

    def __init__(
        self, answer: Callable[[Request], Response], host: str, port: int, limits: Limits, name: str = "feeds"
    ) -> None:
        self.answer = answer
        self.name = name  # the Server field
        self.limits = limits
        self.connections: set[Connection] = set()
        self.socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(limits.backlog)
        except OSError:
            self.socket.close()
            raise
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self.observe: Callable[[Request | None, HTTPStatus], None] | None = None  # told of every answer (tests)
        self._lock = threading.Lock()
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._done = threading.Event()
        self._accepting = False
        self._date = (0, "")
        self._trimming = False
        self._busiest = 0  # the most connections open at once since memory was last trimmed

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server_close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def serve_forever(self) -> None:
        """Serve until ``shutdown`` is called from another thread (or Ctrl-C)."""
        asyncio.run(self._serve())

    def shutdown(self) -> None:
        """Stop serve_forever and wait until it has returned."""
        with self._lock:
            self._stopped = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            loop.call_soon_threadsafe(stop.set)
            self._done.wait()

    def server_close(self) -> None:
        self.socket.close()

    async def _serve(self) -> None:
        stop = asyncio.Event()
        with self._lock:
            if self._stopped:
                return
            self._loop, self._stop = asyncio.get_running_loop(), stop
        self.socket.setblocking(False)
        try:
            self._accept_more()
            await stop.wait()
        finally:
            self._pause_accepting()
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.abort()
            await asyncio.sleep(0)  # let the aborted transports report connection_lost
            self._done.set()

    def _accept_more(self) -> None:
        if not self._accepting:
            self.loop.add_reader(self.socket, self._accept)
            self._accepting = True

    def _pause_accepting(self) -> None:
        if self._accepting:
            self.loop.remove_reader(self.socket)
            self._accepting = False

    def _accept(self) -> None:
        """Take what the backlog holds, up to the cap; beyond it, the others wait in the backlog."""
        while len(self.connections) < self.limits.max_connections:
            try:
                client, _ = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of file descriptors, most likely: try again in a moment
                print(f"feeds serve: cannot accept a connection: {e.strerror or e}", file=sys.stderr)
                self._pause_accepting()
                self.loop.call_later(1.0, self._accept_more)
                return
            connection = Connection(self)
            self.connections.add(connection)
            self._busiest = max(self._busiest, len(self.connections))
            self.loop.create_task(self._start(connection, client))
        self._pause_accepting()

    async def _start(self, connection: Connection, client: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: connection, client)
        except OSError:  # the client left before its transport was made
            client.close()
            self.release(connection)

    def release(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if len(self.connections) < self.limits.max_connections and not self._stopped and self._loop is not None:
            self._accept_more()
            if len(self.connections) <= _QUIET and self._busiest > 8 * _QUIET and not self._trimming:
                self._trimming = True  # the load is over: once things stay quiet for a second
                self.loop.call_later(1.0, self._trim)

    def _trim(self) -> None:
        """Give the memory of closed connections back to the system (glibc keeps freed heap pages otherwise).

        Their buffers are freed in whatever order clients leave, which leaves
        the heap full of holes that malloc would keep for itself. Only after a
        load: trimming while busy would make the next requests fault the
        pages back in.
        """
        self._trimming = False
        if len(self.connections) <= _QUIET and _malloc_trim is not None:
            _malloc_trim(0)
            self._busiest = len(self.connections)

    def stamp(self) -> tuple[str, str]:
        """The Date (RFC 9110 §6.6.1, formatted once a second) and Server fields of every response."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, email.utils.formatdate(now, usegmt=True))
        return f"Date: {self._date[1]}", f"Server: {self.name}"

    def log(self, peer: str, request: Request | HeadError, status: HTTPStatus) -> None:
        """One line per request on stderr, in the common log format; the request line with controls escaped."""
        shown = request.line[:1000].decode("latin-1").encode("unicode_escape").decode("ascii").replace('"', '\\"')
        moment = time.strftime("%d/%b/%Y %H:%M:%S")
        print(f'{peer} - - [{moment}] "{shown}" {status.value} -', file=sys.stderr)
        if self.observe is not None:
            self.observe(request if isinstance(request, Request) else None, status)
