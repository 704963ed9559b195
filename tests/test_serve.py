"""`feeds serve`: the HTTP details feed readers rely on, checked header by header and by real clients."""

from __future__ import annotations

import gzip
import hashlib
import html
import http.client
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from reader import make_reader

from feeds.config import load_site
from feeds.connections import FeedServer
from feeds.httphead import Head, HeadError, Limits, Request, read_head
from feeds.publish import build
from feeds.serve import Tree, accepts_gzip, make_server, serve_command

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
SECRET = "top secret: never served"
UTF8 = "; charset=utf-8"


def build_seeds(out: Path) -> None:
    build(SEEDS, out, load_site(ROOT / "feeds.yaml"), NOW)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds built into <tmp>/dist, plus the traps a public folder can hold."""
    base = tmp_path_factory.mktemp("serve")
    out = base / "dist"
    build_seeds(out)
    (base / "secret.txt").write_text(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text(SECRET)
    for name in ("index.html", "topics/ai/index.html", "feeds.opml", "feed.xsl"):
        assert (out / name).is_file(), name  # the build writes the discovery files served below
    (out / "robots.txt").write_text("User-agent: *\n")
    (out / ".feeds-cache").mkdir()
    (out / ".feeds-cache" / "state.json").write_text(SECRET)
    (out / "all" / ".rss.xml.k2j4.tmp").write_text(SECRET)
    (out / "empty").mkdir()
    (out / "escape.txt").symlink_to(base / "secret.txt")
    (out / "escape-dir").symlink_to(base / "outside", target_is_directory=True)
    (out / "to-hidden.txt").symlink_to(out / ".feeds-cache" / "state.json")
    (out / "loop").symlink_to(out / "loop")
    (out / "latest.xml").symlink_to(Path("all") / "rss.xml")  # inside, pointing inside: fine
    return out


@pytest.fixture(scope="module")
def manifest(tree: Path) -> dict[str, Any]:
    return json.loads((tree / "manifest.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int
    headers: dict[str, str]


@dataclass
class Running:
    server: FeedServer
    tree: Tree
    seen: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def get(self, target: str, method: str = "GET", **headers: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send ``target`` exactly as written (http.client does not normalise it)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name.replace("_", "-"), value)
            conn.endheaders()
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


def start(directory: Path, limits: Limits | None = None) -> Running:
    """A server on a free port in a daemon thread; it records every request it answers."""
    tree = Tree(directory, 300)
    server = FeedServer(tree.answer, "127.0.0.1", 0, limits or Limits())
    running = Running(server, tree)

    def observe(request: Request | None, status: int) -> None:
        if request is not None:
            headers = {name.title(): value for name, value in request.fields}
            running.seen.append(Seen(request.method, request.target, int(status), headers))

    server.observe = observe
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return running


@pytest.fixture
def site(tree: Path) -> Iterator[Running]:
    running = start(tree)
    yield running
    running.server.shutdown()
    running.server.server_close()


def etag_of(path: Path) -> str:
    return f'"{hashlib.sha256(path.read_bytes()).hexdigest()}"'


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("all/rss.xml", "application/rss+xml" + UTF8),
        ("all/atom.xml", "application/atom+xml" + UTF8),
        ("all/feed.json", "application/feed+json" + UTF8),
        ("topics/ai/feed.json", "application/feed+json" + UTF8),
        ("manifest.json", "application/json"),
        ("feeds.opml", "text/x-opml" + UTF8),
        ("index.html", "text/html" + UTF8),
        ("extensions/related.html", "text/html" + UTF8),
        ("feed.xsl", "application/xslt+xml" + UTF8),
        ("robots.txt", "text/plain"),
        ("latest.xml", "application/rss+xml" + UTF8),  # a symlink inside: typed by the file it names
    ],
)
def test_content_types(site: Running, tree: Path, path: str, expected: str) -> None:
    status, headers, body = site.get("/" + path)
    assert (status, headers["Content-Type"], body) == (200, expected, (tree / path).read_bytes())
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_strong_etag_last_modified_and_both_validators(site: Running, tree: Path) -> None:
    path = tree / "all" / "rss.xml"
    etag, modified = etag_of(path), formatdate(int(path.stat().st_mtime), usegmt=True)
    status, headers, _ = site.get("/all/rss.xml")
    assert (status, headers["ETag"], headers["Last-Modified"]) == (200, etag, modified)
    assert headers["Cache-Control"] == "public, max-age=300"
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT", modified)  # IMF-fixdate
    earlier = formatdate(int(path.stat().st_mtime) - 1, usegmt=True)
    cases = [
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": f'"other", W/{etag}'}, 304),  # a list; weak comparison
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-None-Match": etag[:-1] + '-gzip"'}, 200),  # the gzip representation's tag
        ({"If-Modified-Since": modified}, 304),
        ({"If-Modified-Since": earlier}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": modified}, 200),  # If-None-Match decides
    ]
    for conditions, expected in cases:
        for method in ("GET", "HEAD"):
            status, headers, body = site.get("/all/rss.xml", method, **conditions)
            assert status == expected, (method, conditions)
            if status == 304:
                assert body == b"" and "Content-Type" not in headers and "Content-Length" not in headers
                assert (headers["ETag"], headers["Cache-Control"]) == (etag, "public, max-age=300")
                assert (headers["Vary"], headers["Access-Control-Allow-Origin"]) == ("Accept-Encoding", "*")


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_head_has_the_headers_of_get_and_no_body(site: Running, encoding: str) -> None:
    _, got, body = site.get("/all/atom.xml", Accept_Encoding=encoding)
    status, head, nothing = site.get("/all/atom.xml", "HEAD", Accept_Encoding=encoding)
    assert (status, nothing) == (200, b"")
    assert [(k, v) for k, v in head.items() if k != "Date"] == [(k, v) for k, v in got.items() if k != "Date"]
    assert int(head["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, GZIP;Q=0.5", True),
        ("*", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*, gzip;q=0", False),
        ("*;q=0", False),
        ("identity", False),
        ("br, deflate", False),
        ("", False),
    ],
)
def test_gzip_follows_accept_encoding(site: Running, tree: Path, accept: str, gzipped: bool) -> None:
    assert accepts_gzip(accept) is gzipped
    data, etag = (tree / "all" / "feed.json").read_bytes(), etag_of(tree / "all" / "feed.json")
    status, headers, body = site.get("/all/feed.json", Accept_Encoding=accept)
    assert (status, headers["Vary"]) == (200, "Accept-Encoding")
    if gzipped:
        assert (headers["Content-Encoding"], headers["ETag"]) == ("gzip", etag[:-1] + '-gzip"')
        assert gzip.decompress(body) == data and body[4:8] == b"\0\0\0\0"  # gzip MTIME 0: deterministic
        assert site.get("/all/feed.json", Accept_Encoding=accept)[2] == body
        assert site.get("/all/feed.json", Accept_Encoding=accept, If_None_Match=headers["ETag"])[0] == 304
    else:
        assert ("Content-Encoding" not in headers, headers["ETag"], body) == (True, etag, data)


def test_no_gzip_and_no_vary_when_gzip_would_not_help(site: Running) -> None:
    status, headers, body = site.get("/robots.txt", Accept_Encoding="gzip")
    assert (status, body) == (200, b"User-agent: *\n")
    assert "Content-Encoding" not in headers and "Vary" not in headers


def test_feeds_allow_any_origin(site: Running, manifest: dict[str, Any]) -> None:
    for path in [*manifest["feeds"][0]["paths"].values(), "manifest.json"]:
        assert site.get("/" + path)[1]["Access-Control-Allow-Origin"] == "*"


def test_folders_serve_their_index_and_redirect_to_the_slash(site: Running, tree: Path) -> None:
    assert site.get("/")[::2] == (200, (tree / "index.html").read_bytes())
    status, headers, body = site.get("/topics/ai/")
    assert (status, headers["Content-Type"], body) == (
        200,
        "text/html" + UTF8,
        (tree / "topics/ai/index.html").read_bytes(),
    )
    for target, location in [
        ("/topics/ai", "/topics/ai/"),
        ("/topics/ai?utm=x", "/topics/ai/?utm=x"),
        ("/empty", "/empty/"),
    ]:
        status, headers, _ = site.get(target)
        assert (status, headers["Location"]) == (301, location)
    assert site.get("/empty/")[0] == 404  # no index.html: no listing either
    index = tree / "topics" / "index.html"  # a folder shows its own index.html or nothing
    expected = (200, index.read_bytes()) if index.exists() else (404, b"404 Not Found\n")
    assert site.get("/topics/")[::2] == expected
    assert b"rss.xml" not in site.get("/empty/")[2]


@pytest.mark.parametrize(
    "target",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2E/secret.txt",
        "/all/../../secret.txt",
        "/all/..%2f..%2fsecret.txt",
        "/..%2fsecret.txt",
        "/%2fsecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/all%2frss.xml",
        "/all\\rss.xml",
        "/all/rss.xml%00",
        "/all/rss.xml%00.html",
        "/%00",
        "//secret.txt",
        "/etc/passwd",
        "/%ff%fe",
        "http://127.0.0.1/../secret.txt",
        "/escape.txt",
        "/escape-dir/secret.txt",
        "/escape-dir/",
        "/to-hidden.txt",
        "/loop",
        "/.feeds-cache/state.json",
        "/%2efeeds-cache/state.json",
        "/all/.rss.xml.k2j4.tmp",
        "/all/./rss.xml",
        "/all//rss.xml",
        "/all/rss.xml/",
        "/nope.xml",
        "/all/nope.json",
    ],
)
def test_nothing_outside_the_folder_and_nothing_hidden_is_served(site: Running, target: str) -> None:
    status, headers, body = site.get(target)
    assert status == 404, target
    assert SECRET.encode() not in body and headers["Content-Type"] == "text/plain" + UTF8


def test_absolute_paths_and_bad_targets(site: Running, tree: Path) -> None:
    assert site.get(str(tree.parent / "secret.txt"))[0] == 404  # a file-system path is just a URL path here
    assert site.get("secret.txt")[0] == 400
    assert site.get("http://127.0.0.1/all/rss.xml")[0] == 200  # absolute-form, RFC 9112 §3.2.2


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"])
def test_only_get_and_head(site: Running, method: str) -> None:
    status, headers, _ = site.get("/all/rss.xml", method)
    assert (status, headers["Allow"]) == (405, "GET, HEAD")
    status, headers, _ = site.get("/all/rss.xml", method, Content_Length="0")
    assert "Connection" not in headers
    conn = http.client.HTTPConnection("127.0.0.1", site.server.server_address[1], timeout=10)
    conn.request(method, "/all/rss.xml", body=b"x=1")
    response = conn.getresponse()
    assert (response.status, response.headers["Connection"]) == (405, "close")  # the unread body ends the connection
    conn.close()


def test_cache_follows_the_file(site: Running, tree: Path) -> None:
    path = tree / "changing.json"
    path.write_text('{"a": 1}')
    first = site.get("/changing.json")[1]["ETag"]
    entry = site.tree.cache[path.resolve()]
    assert site.get("/changing.json")[1]["ETag"] == first and site.tree.cache[path.resolve()] is entry
    path.write_text('{"a": 2}')
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert site.get("/changing.json")[1]["ETag"] == etag_of(path) != first


def test_one_log_line_per_request_and_no_traceback_when_a_client_leaves(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(tree, "127.0.0.1", 0, 60)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        running = Running(server, Tree(tree, 60))
        assert running.get("/all/rss.xml")[0] == 200 and running.get("/nope")[0] == 404
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 2 and lines[0].endswith('"GET /all/rss.xml HTTP/1.1" 200 -') and " 404 " in lines[1]
        for _ in range(20):  # clients that leave mid-response, with a reset
            with socket.create_connection(("127.0.0.1", running.port)) as client:
                client.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: x\r\n\r\n" * 8)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        original = Tree.answer

        def buggy(self: Tree, request: Request) -> Any:
            if request.target == "/bug":
                raise ValueError("a real bug")
            return original(self, request)

        monkeypatch.setattr(Tree, "answer", buggy)
        with_bug = make_server(tree, "127.0.0.1", 0, 60)
        threading.Thread(target=with_bug.serve_forever, daemon=True).start()
        assert Running(with_bug, Tree(tree, 60)).get("/bug")[0] == 500
        with_bug.shutdown()
        with_bug.server_close()
        assert running.get("/all/atom.xml")[0] == 200  # the server goes on
        errors = capsys.readouterr().err
        assert "ValueError: a real bug" in errors and "BrokenPipe" not in errors and "ConnectionReset" not in errors
        assert "Traceback" in errors and errors.count("Traceback") == 1 and '"GET /bug HTTP/1.1" 500 -' in errors
    finally:
        server.shutdown()
        server.server_close()
    thread.join(10)
    assert not thread.is_alive()


def test_feedparser_reads_every_feed_and_revalidates(site: Running, manifest: dict[str, Any]) -> None:
    """feedparser 6.0 reads RSS and Atom (not JSON Feed; reader does, below)."""
    assert len(manifest["feeds"]) == 23
    for feed in manifest["feeds"]:
        for fmt in ("rss", "atom"):
            url = site.base + feed["paths"][fmt]
            parsed = feedparser.parse(url)
            assert (parsed.status, parsed.bozo, len(parsed.entries)) == (200, False, feed["items"]), url
            again = feedparser.parse(url, etag=parsed.etag, modified=parsed.modified)
            assert (again.status, again.entries) == (304, []), url


def test_reader_subscribes_and_polls_conditionally(site: Running, tree: Path, manifest: dict[str, Any]) -> None:
    everything = manifest["feeds"][0]
    assert everything["kind"] == "all"
    items = json.loads((tree / everything["paths"]["json"]).read_text(encoding="utf-8"))["items"]
    assert len(items) == everything["items"] == 34
    client = make_reader(":memory:")
    try:
        urls = {fmt: site.base + path for fmt, path in everything["paths"].items()}
        for url in urls.values():
            client.add_feed(url)
        client.update_feeds(scheduled=False)
        first = len(site.seen)
        client.update_feeds(scheduled=False)  # the second poll: conditional, answered 304
        for fmt, url in urls.items():
            assert client.get_feed(url).last_exception is None, url
            entries = sorted(client.get_entries(feed=url), key=lambda e: (-e.published.timestamp(), e.link))
            assert [e.link for e in entries] == [item["url"] for item in items], fmt
            titles = [e.title if fmt == "json" else html.unescape(e.title) for e in entries]  # XML titles are HTML
            assert titles == [item["title"] for item in items], fmt
            assert [e.published for e in entries] == [datetime.fromisoformat(item["date_published"]) for item in items]
            expected = [[a["url"] for a in item.get("attachments", [])] for item in items]
            enclosures = [[x.href for x in e.enclosures] for e in entries]
            assert enclosures == ([u[:1] for u in expected] if fmt == "rss" else expected), fmt
            assert sum(map(bool, expected)) >= 10
        for fmt, path in everything["paths"].items():
            polls = [seen for seen in site.seen if seen.path == "/" + path]
            assert [seen.status for seen in polls] == [200, 304], fmt
            assert "If-None-Match" not in polls[0].headers and polls[1].headers["If-None-Match"].endswith('-gzip"')
            assert polls[1].headers["If-Modified-Since"] and polls[1] in site.seen[first:]
    finally:
        client.close()


def test_a_rebuild_keeps_etag_and_last_modified(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build_seeds(out)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    for path in files:  # an old mtime: a rewrite would show as a new Last-Modified
        os.utime(out / path, (1_700_000_000, 1_700_000_000))

    def validators() -> list[tuple[str, str, str]]:
        running = start(out)
        try:
            return [(p, *(running.get("/" + p, "HEAD")[1][k] for k in ("ETag", "Last-Modified"))) for p in files]
        finally:
            running.server.shutdown()
            running.server.server_close()

    before = validators()
    build_seeds(out)
    assert validators() == before
    assert {modified for _, _, modified in before} == {"Tue, 14 Nov 2023 22:13:20 GMT"}


def test_the_command_prints_where_and_stops_cleanly_on_ctrl_c(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: FeedServer) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(FeedServer, "serve_forever", interrupted)
    result = CliRunner().invoke(serve_command, [str(tree), "--port", "0", "--max-age", "60"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        rf"Serving {re.escape(str(tree))} at http://127\.0\.0\.1:\d+/ \(Ctrl-C to stop\)\n", result.output
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = CliRunner().invoke(serve_command, [str(tree), "--port", str(taken.getsockname()[1])])
        assert result.exit_code == 1 and "cannot serve on 127.0.0.1 port" in result.output
    help_text = CliRunner().invoke(serve_command, ["--help"]).output
    assert "Example:" in help_text and "--max-age" in help_text and "[DIR]" in help_text


# ---------------------------------------------------------------- under load, over raw sockets


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def read_answers(data: bytes, methods: list[str]) -> list[Answer]:
    """The responses in ``data``, one per request method, framed by their Content-Length."""
    answers = []
    for method in methods:
        head, found, data = data.partition(b"\r\n\r\n")
        assert found, f"no complete response for {method}: {head[:200]!r}"
        line, *fields = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
        status = int(line.split()[1])
        length = 0 if method == "HEAD" or status == 304 else int(headers["content-length"])
        answers.append(Answer(status, headers, data[:length]))
        data = data[length:]
    assert data == b"", "more than was asked for"
    return answers


def until_closed(sock: socket.socket, deadline: float = 20.0) -> bytes:
    """Everything the server sends until it closes the connection (a generous deadline)."""
    sock.settimeout(deadline)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def request(target: str, method: str = "GET", version: str = "1.1", *fields: str) -> bytes:
    return "\r\n".join([f"{method} {target} HTTP/{version}", "Host: feeds.test", *fields, "", ""]).encode()


@pytest.fixture
def limited(tree: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    """A server with the limits a test names, e.g. ``@pytest.mark.parametrize("limited", [Limits(...)])``."""
    running = start(tree, request.param)
    yield running
    running.server.shutdown()
    running.server.server_close()


def test_the_backlog_holds_511_connections(site: Running) -> None:
    listing = subprocess.run(["ss", "-ltnH", f"sport = :{site.port}"], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        pytest.skip("no ss (iproute2) to read the backlog with")
    assert int(listing.stdout.split()[2]) >= 511  # Send-Q of a listening socket: its backlog


def test_two_hundred_concurrent_connections_are_all_answered(site: Running, tree: Path) -> None:
    body = (tree / "all" / "rss.xml").read_bytes()
    clients = [socket.create_connection(("127.0.0.1", site.port), timeout=20) for _ in range(200)]
    try:
        for client in clients:  # all 200 open at once, each with its request sent
            client.sendall(request("/all/rss.xml", "GET", "1.0"))
        for client in clients:
            (answer,) = read_answers(until_closed(client), ["GET"])
            assert (answer.status, answer.body, answer.headers["connection"]) == (200, body, "close")
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize(
    ("version", "fields", "kept", "said"),
    [
        ("1.1", (), True, None),
        ("1.1", ("Connection: close",), False, "close"),
        ("1.0", ("Connection: keep-alive",), True, "keep-alive"),
        ("1.0", ("Connection: Keep-Alive",), True, "keep-alive"),
        ("1.0", (), False, "close"),
    ],
)
def test_persistent_connections_http_1_0_and_1_1(
    site: Running, tree: Path, version: str, fields: tuple[str, ...], kept: bool, said: str | None
) -> None:
    """RFC 9112 §9.3: 1.1 persists unless closed; 1.0 only with keep-alive, answered in kind (what ab -k sends)."""
    body = (tree / "all" / "rss.xml").read_bytes()
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.settimeout(20)
        for _ in range(3 if kept else 1):
            client.sendall(request("/all/rss.xml", "GET", version, *fields))
            data = b""
            while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < len(body):
                chunk = client.recv(65536)
                assert chunk, "closed before the answer was complete"
                data += chunk
            (answer,) = read_answers(data, ["GET"])
            assert (answer.status, answer.body, answer.headers["content-length"]) == (200, body, str(len(body)))
            assert answer.headers.get("connection") == said
        if not kept:
            assert until_closed(client) == b""  # the server closes after the answer


def test_pipelined_requests_are_answered_in_order(site: Running, tree: Path) -> None:
    wanted = [("GET", "/all/rss.xml"), ("HEAD", "/all/atom.xml"), ("GET", "/nope"), ("GET", "/robots.txt")] * 5
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.sendall(b"".join(request(target, method) for method, target in wanted))
        client.sendall(request("/all/feed.json", "GET", "1.1", "Connection: close"))
        answers = read_answers(until_closed(client), [method for method, _ in wanted] + ["GET"])
    expected = [404 if target == "/nope" else 200 for _, target in wanted] + [200]
    assert [answer.status for answer in answers] == expected
    assert answers[0].body == (tree / "all" / "rss.xml").read_bytes()
    assert answers[3].body == b"User-agent: *\n" and answers[-1].body == (tree / "all" / "feed.json").read_bytes()
    assert [seen.path for seen in site.seen] == [target for _, target in wanted] + ["/all/feed.json"]


@pytest.mark.parametrize("count", [1, 3, 40])
def test_a_half_closed_connection_gets_every_answer_then_closes(site: Running, tree: Path, count: int) -> None:
    """The client sends its requests and its FIN at once: each request is answered before the server closes."""
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.sendall(request("/all/rss.xml") * count)
        client.shutdown(socket.SHUT_WR)
        answers = read_answers(until_closed(client), ["GET"] * count)
    assert [answer.body for answer in answers] == [(tree / "all" / "rss.xml").read_bytes()] * count


SMUGGLING = {
    "duplicate Content-Length": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n",
    "same Content-Length twice": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
    "Content-Length list": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\n",
    "Content-Length sign": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n",
    "space before the colon": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n Content-Length: 44\r\n\r\n",
    "folded with a tab": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tx\r\n\r\n",
    "Transfer-Encoding on GET": b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding on HEAD": b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Transfer-Encoding and Content-Length": (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
    ),
    "Transfer-Encoding not chunked last": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "Transfer-Encoding in HTTP/1.0": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bare CR in a value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rContent-Length: 44\r\n\r\n",
    "bare CR in the request line": b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    "NUL in a value": b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n",
    "invalid token in a name": b"GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n",
    "no colon": b"GET / HTTP/1.1\r\nHost: a\r\nX-A 1\r\n\r\n",
    "invalid token in the method": b"G(ET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "two spaces in the request line": b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    "lower-case version": b"GET / http/1.1\r\nHost: a\r\n\r\n",
    "HTTP/0.9": b"GET /\r\n\r\n",
    "HTTP/1.1 without Host": b"GET / HTTP/1.1\r\n\r\n",
    "two Hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
}


@pytest.mark.parametrize("shape", SMUGGLING)
def test_ambiguous_or_malformed_heads_get_400_and_no_hidden_request(site: Running, shape: str) -> None:
    """RFC 9112 §2.2, §3, §5, §6.3, §11.2: refused, and the connection ends, so nothing after it is read."""
    hidden_request = request("/all/rss.xml")  # what a lenient server would answer as a second request
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.sendall(SMUGGLING[shape] + hidden_request)
        (answer,) = read_answers(until_closed(client), ["GET"])
    assert (answer.status, answer.headers["connection"], answer.body) == (400, "close", b"400 Bad Request\n")
    assert site.seen == []


def test_other_major_versions_get_505(site: Running) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.sendall(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
        assert read_answers(until_closed(client), ["GET"])[0].status == 505


def test_empty_lines_before_a_request_are_ignored(site: Running) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:  # RFC 9112 §2.2
        client.sendall(b"\r\n\r\n" + request("/robots.txt", "GET", "1.1", "Connection: close"))
        assert read_answers(until_closed(client), ["GET"])[0].status == 200


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (request("/" + "a" * 8200), 414),
        (request("/all/rss.xml", "GET", "1.1", "X-Long: " + "a" * 8200), 431),
        (request("/all/rss.xml", "GET", "1.1", *(f"X-{i}: 1" for i in range(100))), 431),
        (request("/all/rss.xml", "GET", "1.1", *(f"X-{i}: {'a' * 8000}" for i in range(5))), 431),
        (request("/all/rss.xml", "GET", "1.1", *(f"X-{i}: 1" for i in range(99))), 200),  # with Host: 100,
        (request("/all/rss.xml", "GET", "1.1", *(f"X-{i}: {'a' * 8000}" for i in range(3))), 200),
        (b"GET /" + b"a" * 9000, 414),  # not even a whole request line: refused all the same
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X-A: bbbbbbbbbb\r\n" * 3000, 431),  # no end in sight
    ],
)
def test_limits_on_the_target_and_the_head(site: Running, head: bytes, status: int) -> None:
    with socket.create_connection(("127.0.0.1", site.port), timeout=20) as client:
        client.sendall(head + (b"" if status in (414, 431) else request("/", "HEAD", "1.1", "Connection: close")))
        answers = read_answers(until_closed(client), ["GET"] if status != 200 else ["GET", "HEAD"])
    assert answers[0].status == status
    if status != 200:
        assert answers[0].headers["connection"] == "close"


@pytest.mark.parametrize("limited", [Limits(head_timeout=1.0, idle_timeout=1.0)], indirect=True)
def test_deadlines_cut_a_slow_head_and_an_idle_connection(limited: Running) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=20) as slow:
        slow.sendall(b"GET /all/rss.xml HTTP/1.1\r\nHost: a\r\n")
        try:
            for _ in range(100):  # a byte every 0.1 s never finishes the head: the deadline is for all of it
                slow.sendall(b"X")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_answers(until_closed(slow), ["GET"])[0].status == 408
    with socket.create_connection(("127.0.0.1", limited.port), timeout=20) as idle:
        idle.sendall(request("/robots.txt"))  # answered, then left open and idle
        assert read_answers(until_closed(idle), ["GET"])[0].status == 200  # closed by the idle timeout


@pytest.mark.parametrize("limited", [Limits(max_connections=2)], indirect=True)
def test_connections_beyond_the_cap_wait_in_the_backlog(limited: Running) -> None:
    first, second = (socket.create_connection(("127.0.0.1", limited.port), timeout=20) for _ in range(2))
    for client in (first, second):
        client.sendall(request("/robots.txt"))
        read_answers(client.recv(65536), ["GET"])  # both taken, and kept open
    with socket.create_connection(("127.0.0.1", limited.port), timeout=20) as third:
        third.sendall(request("/robots.txt", "GET", "1.1", "Connection: close"))
        assert select.select([third], [], [], 0.5)[0] == []  # queued: not taken while two are open
        first.close()
        assert read_answers(until_closed(third), ["GET"])[0].status == 200  # taken once one closed
    second.close()


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1])  # type: ignore[index]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's RSS from /proc")
def test_memory_returns_to_its_baseline_after_a_flood_of_huge_slow_heads(tree: Path) -> None:
    """The flood of the issue: many connections, each with nearly the largest head allowed, sent slowly."""
    command = [sys.executable, "-m", "feeds", "serve", str(tree), "--port", "0", "--max-age", "60"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        port = int(re.search(r":(\d+)/ ", server.stdout.readline())[1])  # type: ignore[index]
        for _ in range(50):  # warm: the cache filled, the allocator settled
            with socket.create_connection(("127.0.0.1", port), timeout=20) as client:
                client.sendall(request("/all/rss.xml", "GET", "1.0"))
                until_closed(client)
        baseline = rss_kib(server.pid)
        for _ in range(2):
            clients = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(400)]
            for part in range(4):  # 4 x 7.5 KB of fields: each head stays just under its 32 KB limit
                for client in clients:
                    client.sendall(b"GET / HTTP/1.1\r\n" if part == 0 else b"")
                    client.sendall(b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(7)))
            peak = rss_kib(server.pid)
            for client in clients:
                client.close()
        deadline = time.monotonic() + 30
        while rss_kib(server.pid) > baseline * 1.10 and time.monotonic() < deadline:
            time.sleep(0.2)
        after = rss_kib(server.pid)
        assert after <= baseline * 1.10, (baseline, peak, after)
        with socket.create_connection(("127.0.0.1", port), timeout=20) as client:  # and it still serves
            client.sendall(request("/all/rss.xml", "GET", "1.0"))
            assert read_answers(until_closed(client), ["GET"])[0].status == 200
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()


# ---------------------------------------------------------------- the head reader alone

HEAD_PARTS = st.sampled_from(
    [b"GET / HTTP/1.1", b"HEAD /a?b HTTP/1.0", b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b"Host: a", b"X-A: 1",
     b"Content-Length: 3", b"Transfer-Encoding: chunked", b"\0", b"\xff", b"a" * 40]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(HEAD_PARTS, max_size=30).map(b"".join) | st.binary(max_size=300), st.integers(0, 300))
def test_the_head_reader_never_raises_and_reads_the_same_in_pieces(data: bytes, cut: int) -> None:
    """Any bytes give a head, a refusal or "not yet"; a head that arrives in two pieces reads as one."""
    limits = Limits(max_target=64, max_field_line=64, max_fields=8, max_head=256)
    whole = read_head(data, limits)
    assert whole is None or isinstance(whole, Head | HeadError)
    first = read_head(data[:cut], limits)
    if first is None:  # what the connection does: look again, from where it had looked
        assert read_head(data, limits, scanned=len(data[:cut])) == whole
    if isinstance(whole, Head):
        request = whole.request
        assert b"\r\n\r\n" in data[: whole.size] and request.method.isascii() and " " not in request.target
        assert all(name == name.lower() and value == value.strip(" \t") for name, value in request.fields)
