"""Serve a built output folder over HTTP the way feed readers expect (``feeds serve``).

Standard library only (asyncio, by way of ``connections``), for previews, tests
and small deployments: exact media types, strong validators and conditional
requests, gzip, CORS, index pages, and nothing outside the folder, ever.
Section numbers refer to RFC 9110 (HTTP Semantics) unless another RFC is named.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from urllib.parse import unquote, urlsplit

import click

from .config import load_site
from .connections import FeedServer, Response, plain
from .errors import FeedsError
from .headers import CachePolicy, compressible, content_type
from .httphead import Limits, Request
from .version import __version__

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


class Tree:
    """A built output folder, answering requests for its files (the bytes of each are read once per change)."""

    def __init__(self, directory: Path, max_age: int) -> None:
        self.root = directory.resolve(strict=True)
        self._root = str(self.root)
        self._inner = self._root.rstrip(os.sep) + os.sep  # what every path inside begins with
        self.max_age = max_age
        self.cache: dict[Path, Entry] = {}
        self._policy: tuple[tuple[int, int] | None, CachePolicy] = (
            None,
            CachePolicy(max_age),
        )  # (the manifest's mtime and size, its policy)

    def policy(self) -> CachePolicy:
        """The caching policy of the tree, read again from its manifest whenever that changes."""
        manifest = self.root / "manifest.json"
        try:
            stat = manifest.stat()
            seen: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            seen = None
        known, policy = self._policy
        if seen != known:
            try:
                data = manifest.read_bytes() if seen else None
            except OSError:
                data = None
            policy = CachePolicy.from_manifest(data, self.max_age)
            self._policy = (seen, policy)
        return policy

    def entry(self, path: Path, stat: os.stat_result, read: Callable[[], bytes]) -> tuple[Entry, bytes | None]:
        """The cached entry for ``path`` (and its bytes, when they had to be read)."""
        entry = self.cache.get(path)
        if entry is not None and (entry.mtime_ns, entry.size) == (stat.st_mtime_ns, stat.st_size):
            return entry, None
        data = read()
        packed = None  # mtime=0 makes the gzip bytes depend on the content alone
        if compressible(content_type(path.name)):
            packed = gzip.compress(data, compresslevel=9, mtime=0)
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        entry = Entry(stat.st_mtime_ns, stat.st_size, etag, packed if packed and len(packed) < len(data) else None)
        self.cache[path] = entry
        return entry, data

    def answer(self, request: Request) -> Response:
        """The response to one request: GET and HEAD of a file (§9.3.1, §9.3.2), 405 for other methods."""
        send_body = request.method != "HEAD"  # §9.3.2: the same header fields as GET, no content
        if request.method not in ("GET", "HEAD"):  # §15.5.6
            return plain(HTTPStatus.METHOD_NOT_ALLOWED, send_body, (("Allow", "GET, HEAD"),))
        located = self.locate(request.target)
        if isinstance(located, HTTPStatus):
            return plain(located, send_body)
        if isinstance(located, str):  # §15.4.2; the target has no "//", so this stays on this site
            return plain(HTTPStatus.MOVED_PERMANENTLY, send_body, (("Location", located),))
        want_gzip = accepts_gzip(request.get("accept-encoding") or "")
        try:
            with located.open("rb") as stream:  # one open file: its stat, bytes and cache entry agree
                stat = os.fstat(stream.fileno())
                entry, data = self.entry(located, stat, stream.read)
                if send_body and data is None and not (want_gzip and entry.gzipped):
                    data = stream.read()
        except OSError:
            return plain(HTTPStatus.NOT_FOUND, send_body)
        gzipped = entry.gzipped if want_gzip else None
        etag = entry.etag[:-1] + '-gzip"' if gzipped else entry.etag  # a different representation (§8.8.3.3)
        modified = min(int(stat.st_mtime), int(time.time()))  # never later than Date (§8.8.2.1)
        headers = {
            "ETag": etag,
            "Cache-Control": self.policy().cache_control(located.relative_to(self.root).as_posix()),
        }
        if entry.gzipped:
            headers["Vary"] = "Accept-Encoding"  # §12.5.5: the choice of coding depended on it
        headers["Access-Control-Allow-Origin"] = "*"  # feeds are public; browser-based readers need CORS
        if self.not_modified(request, etag, modified):  # §15.4.5: a 304 carries validators and caching fields only
            return Response(HTTPStatus.NOT_MODIFIED, tuple(headers.items()))
        headers["Content-Type"] = content_type(located.name)
        if gzipped is not None:
            headers["Content-Encoding"] = "gzip"
        headers["Last-Modified"] = email.utils.formatdate(modified, usegmt=True)  # an IMF-fixdate (§5.6.7)
        headers["X-Content-Type-Options"] = "nosniff"
        body = gzipped if gzipped is not None else data
        length = stat.st_size if body is None else len(body)
        return Response(HTTPStatus.OK, tuple(headers.items()), body if send_body and body is not None else b"", length)

    def locate(self, target: str) -> Path | str | HTTPStatus:
        """The file the request-target names (symlinks resolved), a redirect Location, or an error."""
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
        found = self.inside(os.path.join(self._root, *names))
        if found is not None and S_ISDIR(found[1]):
            if not raw.endswith("/"):
                return raw + "/" + (f"?{query}" if query else "")
            found = self.inside(os.path.join(found[0], "index.html"))  # a folder's page; never a listing
        elif raw.endswith("/"):
            return HTTPStatus.NOT_FOUND
        return Path(found[0]) if found is not None and S_ISREG(found[1]) else HTTPStatus.NOT_FOUND

    def inside(self, path: str) -> tuple[str, int] | None:
        """``path`` with symlinks resolved and its st_mode, if it exists inside the root and is not hidden.

        On strings rather than pathlib: this runs for every request.
        """
        real = os.path.realpath(path)
        try:
            mode = os.stat(real).st_mode
        except (OSError, ValueError):  # missing, unreadable, a symlink loop
            return None
        if real != self._root and not real.startswith(self._inner):
            return None
        return None if any(map(hidden, real[len(self._inner) :].split(os.sep))) else (real, mode)

    @staticmethod
    def not_modified(request: Request, etag: str, modified: int) -> bool:
        """§13.2.2: If-None-Match decides when present; only then If-Modified-Since (GET and HEAD only)."""
        if_none_match = request.get("if-none-match")
        if if_none_match is not None:
            return etag_matches(if_none_match, etag)
        since = request.get("if-modified-since")
        try:
            moment = email.utils.parsedate_to_datetime(since) if since else None
        except (TypeError, ValueError, IndexError, OverflowError):  # not an HTTP-date: ignored (§13.1.3)
            return False
        return moment is not None and modified <= (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def make_server(directory: Path, host: str, port: int, max_age: int, limits: Limits | None = None) -> FeedServer:
    """A server for ``directory``, bound and listening but not yet serving; port 0 picks any free port."""
    return FeedServer(Tree(directory, max_age).answer, host, port, limits or Limits(), f"feeds/{__version__}")


def serve(directory: Path, host: str, port: int, max_age: int) -> None:
    """Serve ``directory`` until interrupted (Ctrl-C)."""
    with make_server(directory, host, port, max_age) as server:
        bound, chosen = server.server_address
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
