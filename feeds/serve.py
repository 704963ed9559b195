"""Serve a built output folder over HTTP the way feed readers expect (``feeds serve``).

Standard library only (``http.server``), for previews, tests and small
deployments: exact media types, strong validators and conditional requests,
gzip, CORS, index pages, and nothing outside the folder, ever. Section numbers
refer to RFC 9110 (HTTP Semantics) unless another RFC is named.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import os
import re
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click

from .config import load_site
from .errors import FeedsError
from .headers import CachePolicy, compressible, content_type
from .version import __version__

_UTF8 = "; charset=utf-8"
_ETAGS = re.compile(r'(?:W/)?("[^"]*")')  # entity-tag = [ weakness ] opaque-tag (§8.8.3)


def accepts_gzip(field: str) -> bool:
    """Whether Accept-Encoding (§12.5.3) allows gzip: q=0 refuses, ``*`` stands for unnamed codings.

    Without the field any coding would do, but identity is what an unknown client surely reads.
    """
    weights: dict[str, float] = {}
    for item in field.lower().split(","):
        coding, _, weight = item.partition(";")
        q = re.fullmatch(r"\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*", weight)  # weight = ";" "q=" qvalue (§12.4.2)
        weights[coding.strip()] = float(q[1]) if q else 0.0 if weight else 1.0
    found = [weights[coding] for coding in ("gzip", "x-gzip", "*") if coding in weights]  # x-gzip is gzip (§8.4.1.3)
    return bool(found) and found[0] > 0


def hidden(name: str) -> bool:
    """Never served: dotfiles and dot-folders (.feeds-cache), and temporary files (the publisher's .*.tmp)."""
    return name.startswith(".") or name.endswith(".tmp")


def etag_matches(field: str, etag: str) -> bool:
    """If-None-Match (§13.1.2): ``*``, or any listed tag equal by weak comparison (§8.8.3.2)."""
    return field.strip() == "*" or etag in _ETAGS.findall(field)


@dataclass(frozen=True)
class Entry:
    """What a file's bytes give, kept while its mtime and size stay the same."""

    mtime_ns: int
    size: int
    etag: str  # strong (§8.8.3): the SHA-256 of the bytes, quoted
    gzipped: bytes | None  # None when gzip would not make the file smaller


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path, address: tuple[str, int], max_age: int) -> None:
        self.root = directory.resolve(strict=True)
        self.max_age = max_age
        self.cache: dict[Path, Entry] = {}
        self.lock = threading.Lock()
        self._policy: tuple[tuple[int, int] | None, CachePolicy] = (
            None,
            CachePolicy(max_age),
        )  # (the manifest's mtime and size, its policy)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's version does a slow reverse DNS lookup
        self.server_name, self.server_port = self.socket.getsockname()[:2]

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):  # a client went away: no traceback
            super().handle_error(request, client_address)

    def policy(self) -> CachePolicy:
        """The caching policy of the tree, read again from its manifest whenever that changes."""
        manifest = self.root / "manifest.json"
        try:
            stat = manifest.stat()
            seen: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            seen = None
        with self.lock:
            known, policy = self._policy
        if seen != known:
            try:
                data = manifest.read_bytes() if seen else None
            except OSError:
                data = None
            policy = CachePolicy.from_manifest(data, self.max_age)
            with self.lock:
                self._policy = (seen, policy)
        return policy

    def entry(self, path: Path, stat: os.stat_result, read: Callable[[], bytes]) -> tuple[Entry, bytes | None]:
        """The cached entry for ``path`` (and its bytes, when they had to be read)."""
        with self.lock:
            entry = self.cache.get(path)
        if entry is not None and (entry.mtime_ns, entry.size) == (stat.st_mtime_ns, stat.st_size):
            return entry, None
        data = read()
        packed = None  # mtime=0 makes the gzip bytes depend on the content alone
        if compressible(content_type(path.name)):
            packed = gzip.compress(data, compresslevel=9, mtime=0)
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        entry = Entry(stat.st_mtime_ns, stat.st_size, etag, packed if packed and len(packed) < len(data) else None)
        with self.lock:
            self.cache[path] = entry
        return entry, data


class Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"  # persistent connections; every response says its length
    server_version = f"feeds/{__version__}"
    timeout = 30  # seconds an idle connection may stay open

    def version_string(self) -> str:
        return self.server_version

    def log_error(self, format: str, *args: Any) -> None:
        if not format.startswith("Request timed out"):  # an idle keep-alive connection closing is no news
            super().log_error(format, *args)

    def do_GET(self) -> None:
        self.respond(send_body=True)

    def do_HEAD(self) -> None:  # §9.3.2: the same header fields as GET, no content
        self.respond(send_body=False)

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):  # any other method: 405 with Allow (§15.5.6)
            return lambda: self.fail(HTTPStatus.METHOD_NOT_ALLOWED, {"Allow": "GET, HEAD"})
        raise AttributeError(name)

    def fail(self, status: HTTPStatus, headers: dict[str, str] | None = None) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send(status, {"Content-Type": "text/plain" + _UTF8, **(headers or {})}, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def send(self, status: HTTPStatus, headers: dict[str, str], length: int | None) -> None:
        self.send_response(status)
        if self.headers.get("Content-Length", "0").strip() != "0" or "Transfer-Encoding" in self.headers:
            headers["Connection"] = "close"  # unread request content would be taken for the next request
        for name, value in headers.items() if length is None else {**headers, "Content-Length": str(length)}.items():
            self.send_header(name, value)
        self.end_headers()

    def locate(self) -> Path | str | HTTPStatus:
        """The file the request-target names (symlinks resolved), a redirect Location, or an error."""
        target = self.path
        if re.match(r"https?://", target, re.IGNORECASE):  # absolute-form (RFC 9112 §3.2.2)
            target = urlsplit(target).path or "/"
        if not target.startswith("/"):
            return HTTPStatus.BAD_REQUEST
        raw, _, query = target.partition("?")
        names: list[str] = []
        for i, segment in enumerate(raw.split("/")[1:]):
            if segment == "" and i == raw.count("/") - 1:
                break  # the trailing slash of a directory
            try:
                name = unquote(segment, errors="strict")
            except UnicodeDecodeError:
                return HTTPStatus.NOT_FOUND
            if not name or hidden(name) or not name.isprintable() or "/" in name or "\\" in name:
                return HTTPStatus.NOT_FOUND  # empty, dot or hidden; encoded separators; NUL and other controls
            names.append(name)
        found = self.inside(self.server.root.joinpath(*names))
        if found is not None and found.is_dir():
            if not raw.endswith("/"):
                return raw + "/" + (f"?{query}" if query else "")
            found = self.inside(found / "index.html")  # a folder's page; never a listing
        elif raw.endswith("/"):
            return HTTPStatus.NOT_FOUND
        return found if found is not None and found.is_file() else HTTPStatus.NOT_FOUND

    def inside(self, path: Path) -> Path | None:
        """``path`` with symlinks resolved, if it exists inside the root and is not hidden."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
            return None
        if not real.is_relative_to(self.server.root):
            return None
        return None if any(map(hidden, real.relative_to(self.server.root).parts)) else real

    def respond(self, send_body: bool) -> None:
        located = self.locate()
        if isinstance(located, HTTPStatus):
            return self.fail(located)
        if isinstance(located, str):  # §15.4.2; the target has no "//", so this stays on this site
            return self.fail(HTTPStatus.MOVED_PERMANENTLY, {"Location": located})
        want_gzip = accepts_gzip(", ".join(self.headers.get_all("Accept-Encoding") or []))
        try:
            with located.open("rb") as stream:  # one open file: its stat, bytes and cache entry agree
                stat = os.fstat(stream.fileno())
                entry, data = self.server.entry(located, stat, stream.read)
                if send_body and data is None and not (want_gzip and entry.gzipped):
                    data = stream.read()
        except OSError:
            return self.fail(HTTPStatus.NOT_FOUND)
        gzipped = entry.gzipped if want_gzip else None
        etag = entry.etag[:-1] + '-gzip"' if gzipped else entry.etag  # a different representation (§8.8.3.3)
        modified = min(int(stat.st_mtime), int(time.time()))  # never later than Date (§8.8.2.1)
        cache_control = self.server.policy().cache_control(located.relative_to(self.server.root).as_posix())
        headers = {"ETag": etag, "Cache-Control": cache_control}
        if entry.gzipped:
            headers["Vary"] = "Accept-Encoding"  # §12.5.5: the choice of coding depended on it
        headers["Access-Control-Allow-Origin"] = "*"  # feeds are public; browser-based readers need CORS
        if self.not_modified(etag, modified):  # §15.4.5: a 304 carries validators and caching fields only
            return self.send(HTTPStatus.NOT_MODIFIED, headers, None)
        headers["Content-Type"] = content_type(located.name)
        if gzipped is not None:
            headers["Content-Encoding"] = "gzip"
        headers["Last-Modified"] = email.utils.formatdate(modified, usegmt=True)  # an IMF-fixdate (§5.6.7)
        headers["X-Content-Type-Options"] = "nosniff"
        body = gzipped if gzipped is not None else data
        self.send(HTTPStatus.OK, headers, stat.st_size if body is None else len(body))
        if send_body and body is not None:
            self.wfile.write(body)

    def not_modified(self, etag: str, modified: int) -> bool:
        """§13.2.2: If-None-Match decides when present; only then If-Modified-Since (GET and HEAD only)."""
        if_none_match = self.headers.get_all("If-None-Match")
        if if_none_match is not None:
            return etag_matches(", ".join(if_none_match), etag)
        since = self.headers.get("If-Modified-Since")
        try:
            moment = email.utils.parsedate_to_datetime(since) if since else None
        except (TypeError, ValueError, IndexError, OverflowError):  # not an HTTP-date: ignored (§13.1.3)
            return False
        return moment is not None and modified <= (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def make_server(directory: Path, host: str, port: int, max_age: int) -> ThreadingHTTPServer:
    """A server for ``directory``, bound but not yet serving; port 0 picks any free port."""
    return FeedServer(directory, (host, port), max_age)


def serve(directory: Path, host: str, port: int, max_age: int) -> None:
    """Serve ``directory`` until interrupted (Ctrl-C)."""
    with make_server(directory, host, port, max_age) as server:
        bound, chosen = server.socket.getsockname()[:2]
        shown = f"[{bound}]" if ":" in bound else bound
        click.echo(f"Serving {directory} at http://{shown}:{chosen}/ (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


@click.command("serve")
@click.argument(
    "directory", metavar="[DIR]", default="dist", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (:: or 0.0.0.0: all).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--max-age",
    type=click.IntRange(min=0),
    help="Seconds a client may reuse a file. Default: refresh_minutes of the settings (15 minutes).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Site settings (YAML). Default: feeds.yaml in the working directory, if present.",
)
def serve_command(directory: Path, host: str, port: int, max_age: int | None, config_path: Path | None) -> None:
    """Serve DIR (default: dist) over HTTP, for previews, tests and small sites.

    Feeds get exact media types, ETag and Last-Modified (and 304 answers),
    gzip and CORS; a folder serves its index.html. Nothing outside DIR and no
    hidden file is served. Logs one line per request to stderr; Ctrl-C stops.

    \b
    Example:
      feeds build && feeds serve dist --port 8000
      curl -I http://127.0.0.1:8000/all/rss.xml
    """
    if max_age is None:
        if config_path is None and Path("feeds.yaml").is_file():
            config_path = Path("feeds.yaml")
        try:
            max_age = load_site(config_path).refresh_minutes * 60
        except FeedsError as e:
            raise click.ClickException(str(e)) from e
    try:
        serve(directory, host, port, max_age)
    except OSError as e:
        raise click.ClickException(f"cannot serve on {host} port {port}: {e.strerror or e}") from e
