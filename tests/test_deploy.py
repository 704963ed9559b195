"""`feeds deploy` against a real S3-compatible server (SeaweedFS), and its decisions on their own."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feeds import deploy as deploying
from feeds.cli import main
from feeds.deploy import (
    Change,
    LocalFile,
    RemoteObject,
    Target,
    Upload,
    cdn_paths,
    compare,
    connect,
    deploy,
    parse_cdn,
    parse_target,
    stale_objects,
    upload_groups,
)
from feeds.deploy import local as deploying_local
from feeds.errors import DeployError
from feeds.headers import ARCHIVE_MAX_AGE, CachePolicy
from feeds.model import Site
from feeds.publish import build, build_lock
from feeds.websub import ping as websub_ping

from .conftest import NOW, ROOT, SEEDS, record_file
from .seaweed import ACCESS_KEY, SECRET_KEY, Relay, Seaweed, seaweed

BASE = "https://feeds.example.org/"
SITE = Site(title="Deploy Test", base_url=BASE)

# ---------------------------------------------------------------- decisions, no server


def test_targets_and_distributions() -> None:
    assert parse_target("s3://bucket") == Target("bucket", "")
    assert parse_target("s3://bucket/a//b/") == Target("bucket", "a/b/")
    assert str(parse_target("s3://bucket/a/b")) == "s3://bucket/a/b/"
    for bad in ("bucket/a", "s3://", "s3:///a", "s3://b/../x", "http://b"):
        with pytest.raises(DeployError):
            parse_target(bad)
    assert parse_cdn("cloudfront:E2QWRUHEXAMPLE") == "E2QWRUHEXAMPLE"
    for bad in ("fastly:x", "cloudfront:", "cloudfront:a/b"):
        with pytest.raises(DeployError):
            parse_cdn(bad)


def test_upload_order_never_links_ahead() -> None:
    paths = [
        "manifest.json",
        "feeds.opml",
        "index.html",
        "all/index.html",
        "all/rss.xml",
        "all/archive/10/rss.xml",
        "all/archive/9/rss.xml",
        "topics/archive/rss.xml",  # a topic named "archive" is a feed, not an archive page
        "feed.xsl",
    ]
    uploads = [Upload(p, Change.NEW) for p in paths] + [Upload("all/archive/8/rss.xml", Change.CHANGED)]
    waves = [[u.path for u in wave] for wave in upload_groups(uploads)]
    assert waves == [
        ["feed.xsl"],
        ["all/archive/9/rss.xml", "all/archive/10/rss.xml"],  # new pages before the changed one that links to them
        ["all/archive/8/rss.xml"],
        ["all/rss.xml", "topics/archive/rss.xml"],
        ["all/index.html"],
        ["index.html"],
        ["feeds.opml"],
        ["manifest.json"],
    ]


def test_compare_trusts_md5_etags_and_asks_the_metadata_otherwise() -> None:
    md5 = hashlib.md5(b"x").hexdigest()
    local = {p: LocalFile(p, 1, md5) for p in ("same", "resized", "edited", "multipart", "new")}
    remote = {
        "same": RemoteObject("same", md5, 1),
        "resized": RemoteObject("resized", "0" * 32, 2),
        "edited": RemoteObject("edited", "0" * 32, 1),  # same size: a change, or a server whose ETags are not MD5s
        "multipart": RemoteObject("multipart", "0" * 32 + "-3", 1),
        "stale": RemoteObject("stale", md5, 1),
    }
    uploads, ask, same = compare(local, remote)
    assert uploads == [Upload("resized", Change.CHANGED), Upload("new", Change.NEW)]
    assert ask == ["edited", "multipart"] and same == 1
    forced, _, _ = compare(local, remote, forced=True)
    assert {u.path for u in forced} == set(local)


def test_feeds_are_never_stale_and_cdn_paths() -> None:
    local = {"all/rss.xml": LocalFile("all/rss.xml", 1, "")}
    remote = {p: RemoteObject(p, "", 1) for p in ("all/rss.xml", "topics/x/atom.xml", "all/archive/3/rss.xml", "a.png")}
    assert stale_objects(local, remote) == (["topics/x/atom.xml"], ["a.png", "all/archive/3/rss.xml"])
    assert stale_objects(local, remote, {"a.png"}) == (["a.png", "topics/x/atom.xml"], ["all/archive/3/rss.xml"])
    assert cdn_paths("https://x.org/news/", ["topics/ai/index.html", "all/rss.xml"]) == [
        "/news/all/rss.xml",
        "/news/topics/ai/",
        "/news/topics/ai/index.html",
    ]
    assert cdn_paths("https://x.org", ["index.html"]) == ["/", "/index.html"]
    assert cdn_paths(BASE, [f"p{i}.html" for i in range(200)]) == ["/*"]


def test_header_policy_fingerprint_follows_max_age() -> None:
    assert CachePolicy(900).fingerprint == CachePolicy(900, frozenset({"a"})).fingerprint
    assert CachePolicy(900).fingerprint != CachePolicy(60).fingerprint
    assert CachePolicy(60).headers("all/feed.json") == {
        "Content-Type": "application/feed+json; charset=utf-8",
        "Cache-Control": "public, max-age=60",
    }


def test_the_tree_is_its_files_without_hidden_ones_or_links_out(tmp_path: Path) -> None:
    tree = tmp_path / "dist"
    (tree / "all").mkdir(parents=True)
    (tree / "all" / "rss.xml").write_bytes(b"<rss/>")
    (tree / "all" / ".rss.xml.123.tmp").write_bytes(b"half")
    (tree / ".feeds-cache").mkdir()
    (tree / ".feeds-cache" / "index").write_bytes(b"x")
    (tmp_path / "secret.txt").write_bytes(b"not for the bucket")
    (tree / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (tree / "same.xml").symlink_to(tree / "all" / "rss.xml")
    (tree / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    assert list(deploying.walk_tree(tree)) == ["all/rss.xml", "same.xml"]


def test_unchanged_files_are_not_hashed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "dist"
    (tree / "all").mkdir(parents=True)
    (tree / "all" / "rss.xml").write_bytes(b"<rss>one</rss>")
    (tree / "index.html").write_bytes(b"<p>index</p>")
    memo = deploying.digests_path(tree)
    monkeypatch.setattr(deploying_local, "RACY_NS", -(10**12))  # no file is too new to be remembered
    first = deploying.scan_tree(tree, False, memo)
    read: list[str] = []
    real = deploying_local.read_file

    def counted(root: Path, path: str, use_gzip: bool) -> tuple[LocalFile, bytes]:
        read.append(path)
        return real(root, path, use_gzip)

    monkeypatch.setattr(deploying_local, "read_file", counted)
    assert deploying.scan_tree(tree, False, memo) == first and read == []
    feed = tree / "all" / "rss.xml"
    before = feed.stat()
    feed.write_bytes(b"<rss>two</rss>")  # the same size, and the same mtime put back: the ctime still moves
    os.utime(feed, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = deploying.scan_tree(tree, False, memo)
    assert read == ["all/rss.xml"] and again["all/rss.xml"].md5 == hashlib.md5(b"<rss>two</rss>").hexdigest()
    assert deploying.scan_tree(tree, True, memo)["index.html"] == first["index.html"]  # too small to gzip
    memo.write_text("{not json")
    assert deploying.scan_tree(tree, False, memo) == again


def test_without_boto3_build_works_and_deploy_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now raises ImportError
    monkeypatch.setitem(sys.modules, "boto3.session", None)
    runner = CliRunner()
    out = tmp_path / "out"
    assert runner.invoke(main, ["build", str(SEEDS), "-o", str(out), "-q", "--no-cache"]).exit_code == 0
    result = runner.invoke(main, ["deploy", str(out), "s3://bucket"])
    assert result.exit_code == 1
    assert "feeds deploy needs boto3: pip install 'feeds[s3]'" in result.stderr
    again = tmp_path / "again"
    result = runner.invoke(main, ["build", str(SEEDS), "-o", str(again), "-q", "--deploy", "s3://bucket"])
    assert result.exit_code == 1
    assert "feeds deploy needs boto3" in result.stderr
    assert not again.exists()  # said before the build, not after it


# ---------------------------------------------------------------- a real server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    with seaweed(tmp_path_factory.mktemp("seaweed")) as running:
        yield running


class Recorder(ThreadingHTTPServer):
    """Stands in for a WebSub hub and for CloudFront's API, and notes what each was sent, in order.

    When pinged, the hub fetches the feed from the bucket at once, as a real hub would.
    """

    daemon_threads = True

    def __init__(self, fetch: Any) -> None:
        self.events: list[tuple[str, Any]] = []
        self.fetch = fetch
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Recording)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


class _Recording(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/hub":
            topic = urllib.parse.parse_qs(body.decode())["hub.url"][0]
            with self.server.lock:
                self.server.events.append(("ping", (topic, self.server.fetch(topic))))
            return self._reply(204)
        found = re.fullmatch(r"/2020-05-31/distribution/(\w+)/invalidation", self.path)
        if found:
            paths = re.findall(r"<Path>([^<]*)</Path>", body.decode())
            with self.server.lock:
                self.server.events.append(("invalidate", (found[1], paths)))
            answer = _invalidation("I1", "InProgress", paths)
            return self._reply(201, answer, {"Location": self.path + "/I1", "Content-Type": "text/xml"})
        self._reply(404)

    def do_GET(self) -> None:
        if re.fullmatch(r"/2020-05-31/distribution/\w+/invalidation/I1", self.path):
            with self.server.lock:
                self.server.events.append(("completed?", self.path))
            return self._reply(200, _invalidation("I1", "Completed", []), {"Content-Type": "text/xml"})
        self._reply(404)


def _invalidation(ident: str, status: str, paths: list[str]) -> bytes:
    items = "".join(f"<Path>{p}</Path>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">'
        f"<Id>{ident}</Id><Status>{status}</Status><CreateTime>2026-11-26T00:00:00Z</CreateTime>"
        f"<InvalidationBatch><Paths><Quantity>{len(paths)}</Quantity><Items>{items}</Items></Paths>"
        "<CallerReference>r</CallerReference></InvalidationBatch></Invalidation>"
    ).encode()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: Seaweed) -> None:
    """Credentials in the environment and nothing else: no config files, no instance metadata service."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")


@pytest.fixture
def tree(tmp_path: Path, built: tuple[Path, Any]) -> Path:
    """A copy of the seeds' tree, so a test may change it."""
    return Path(shutil.copytree(built[0], tmp_path / "dist"))


@pytest.fixture
def recorder(server: Seaweed) -> Iterator[Recorder]:
    recorder = Recorder(lambda topic: None)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


def local_files(tree: Path) -> dict[str, str]:
    return {
        p.relative_to(tree).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in tree.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def remote_files(server: Seaweed, prefix: str) -> dict[str, str]:
    found = {}
    for page in server.client().get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", ()):
            found[item["Key"][len(prefix) + 1 :]] = item["ETag"].strip('"')
    return found


def run(tree: Path, site: Site, prefix: str, server: Seaweed, **options: Any) -> deploying.DeployReport:
    distribution = options.pop("distribution", None)
    target = Target(server.bucket, prefix + "/")
    with connect(target, endpoint_url=server.endpoint, distribution=distribution) as connection:
        return deploy(tree, site, connection, notify=websub_ping, **options)


@pytest.mark.usefixtures("aws")
def test_first_deploy_uploads_every_file_and_the_second_none_with_one_listing(
    tree: Path, prefix: str, server: Seaweed
) -> None:
    first = run(tree, SITE, prefix, server)
    assert sorted(first.uploaded) == sorted(local_files(tree))
    assert remote_files(server, prefix) == local_files(tree)
    assert first.uploaded[0] == "extensions/related.html" and first.uploaded[-1] == "manifest.json"
    assert first.requests["PutObject"] == len(local_files(tree)) and first.requests["ListObjectsV2"] == 1
    assert first.sent >= sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    second = run(tree, SITE, prefix, server)
    assert second.uploaded == () and second.deleted == () and second.unchanged == len(local_files(tree))
    assert second.requests == {"ListObjectsV2": 1, "HeadObject": 1}  # the listing, and the manifest's headers


@pytest.mark.usefixtures("aws")
def test_each_kind_of_file_has_its_headers_and_readers_get_304s(tmp_path: Path, prefix: str, server: Seaweed) -> None:
    site = replace(SITE, max_items=2, archives=True, archive_page_size=2, refresh_minutes=10)
    out = tmp_path / "dist"
    build(SEEDS, out, site, NOW)
    run(out, site, prefix, server)
    expected = {
        "all/rss.xml": "application/rss+xml; charset=utf-8",
        "all/atom.xml": "application/atom+xml; charset=utf-8",
        "all/feed.json": "application/feed+json; charset=utf-8",
        "all/index.html": "text/html; charset=utf-8",
        "index.html": "text/html; charset=utf-8",
        "feeds.opml": "text/x-opml; charset=utf-8",
        "feed.xsl": "application/xslt+xml; charset=utf-8",
        "manifest.json": "application/json",
        "all/archive/1/atom.xml": "application/atom+xml; charset=utf-8",
    }
    newest = json.loads((out / "manifest.json").read_text())["feeds"][0]["archive_pages"]
    expected[f"all/archive/{newest}/rss.xml"] = "application/rss+xml; charset=utf-8"
    client = server.client()
    for path, media_type in expected.items():
        head = client.head_object(Bucket=server.bucket, Key=f"{prefix}/{path}")
        assert head["ContentType"] == media_type, path
        full = path.startswith("all/archive/") and path != f"all/archive/{newest}/rss.xml"
        cache = f"public, max-age={ARCHIVE_MAX_AGE}, immutable" if full else "public, max-age=600"
        assert head["CacheControl"] == cache, path
        assert head["Metadata"]["feeds-md5"] == hashlib.md5((out / path).read_bytes()).hexdigest()
    # What a feed reader polling the bucket gets: no credentials, the ETag back, 304.
    url = f"{server.endpoint}/{server.bucket}/{prefix}/all/rss.xml"
    with urllib.request.urlopen(url) as response:
        etag = response.headers["ETag"]
        assert response.read() == (out / "all/rss.xml").read_bytes()
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}))
    answer.value.close()
    assert answer.value.code == 304


@pytest.mark.usefixtures("aws")
def test_dry_run_changes_nothing(tree: Path, prefix: str, server: Seaweed) -> None:
    run(tree, SITE, prefix, server)
    before = remote_files(server, prefix)
    (tree / "all" / "rss.xml").write_bytes(b"<rss/>")
    (tree / "extra.html").write_bytes(b"<p>new</p>")
    result = CliRunner().invoke(
        main, ["deploy", str(tree), f"s3://{server.bucket}/{prefix}", "--dry-run", "--endpoint-url", server.endpoint]
    )
    assert result.exit_code == 0, result.output
    assert "would upload extra.html (new)" in result.stdout and "would upload all/rss.xml (changed)" in result.stdout
    assert "would upload 2 files (1 new, 1 changed) and delete 0" in result.stdout
    assert remote_files(server, prefix) == before


@pytest.mark.usefixtures("aws")
def test_deletions_are_capped_and_only_of_what_this_tool_uploaded(tree: Path, prefix: str, server: Seaweed) -> None:
    (tree / "old").mkdir()
    for i in range(3):
        (tree / "old" / f"{i}.html").write_bytes(b"gone soon")
    run(tree, SITE, prefix, server)
    client = server.client()
    client.put_object(Bucket=server.bucket, Key=f"{prefix}/robots.txt", Body=b"User-agent: *\n")  # someone else's
    shutil.rmtree(tree / "old")
    feed = tree / "topics" / "ai" / "atom.xml"
    feed.unlink()  # a feed the tree lost: never deleted
    before = remote_files(server, prefix)
    result = CliRunner().invoke(
        main, ["deploy", str(tree), f"s3://{server.bucket}/{prefix}", "--max-deletes", "2", "-q"]
    )
    assert result.exit_code == 1
    assert "would delete 3 objects, more than --max-deletes 2; nothing was changed" in result.stderr
    assert remote_files(server, prefix) == before
    result = CliRunner().invoke(main, ["deploy", str(tree), f"s3://{server.bucket}/{prefix}"])
    assert result.exit_code == 0, result.output
    assert "0 files uploaded (0 new, 0 changed), 3 deleted" in result.stdout
    assert "1 objects under" in result.stderr and "robots.txt" in result.stderr
    assert "1 feed documents are no longer in" in result.stderr and "topics/ai/atom.xml" in result.stderr
    after = remote_files(server, prefix)
    assert "robots.txt" in after and "topics/ai/atom.xml" in after and not any(p.startswith("old/") for p in after)


@pytest.mark.usefixtures("aws")
def test_adding_a_record_then_build_deploy_uploads_only_its_feeds_and_pages(
    tmp_path: Path, prefix: str, server: Seaweed
) -> None:
    seeds = Path(shutil.copytree(SEEDS, tmp_path / "seeds"))
    out = tmp_path / "dist"
    target = f"s3://{server.bucket}/{prefix}"
    command = ["build", str(seeds), "-o", str(out), "--now", "2026-11-26T00:00:00Z", "--base-url", BASE]
    runner = CliRunner()
    first = runner.invoke(main, [*command, "--deploy", target, "-q"])
    assert first.exit_code == 0, first.output
    assert remote_files(server, prefix) == local_files(out)
    (seeds / "new.txt").write_bytes(
        record_file(
            "title: New chip\nsourceUrl: https://news.example.com/new-chip\n"
            "publishedDateTime: 2026-11-25T12:00:00Z\npublished: true\ntopics: [Semiconductors]\n"
            "provider: {name: Daily Circuit, domain: news.example.com}"
        )
    )
    second = runner.invoke(main, [*command, "--deploy", target, "--report", str(tmp_path / "report.json")])
    assert second.exit_code == 0, second.output
    written = set(json.loads((tmp_path / "report.json").read_text())["files"]["written"])
    line = second.stdout.splitlines()[-1]
    assert f": {len(written)} files uploaded (" in line and "0 deleted" in line
    folders = {str(Path(p).parent) for p in written if "/" in p}
    assert folders == {"all", "topics/semiconductors", "providers/news-example-com"}
    assert written <= {f"{f}/{n}" for f in folders for n in ("rss.xml", "atom.xml", "feed.json", "index.html")} | {
        "index.html",
        "feeds.opml",
        "manifest.json",
    }
    assert remote_files(server, prefix) == local_files(out)


@pytest.mark.usefixtures("aws")
def test_ping_and_invalidation_follow_the_upload_for_changed_paths_only(
    tmp_path: Path, prefix: str, server: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fetch(topic: str) -> str:  # what the hub gets when it fetches the feed, at the moment it is pinged
        url = f"{server.endpoint}/{server.bucket}/{prefix}/{topic.removeprefix(BASE)}"
        with urllib.request.urlopen(url) as response:
            return hashlib.md5(response.read()).hexdigest()

    recorder = Recorder(fetch)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFRONT", recorder.url)
        site = replace(SITE, hubs=(recorder.url + "/hub",))
        out = tmp_path / "dist"
        build(SEEDS, out, site, NOW)
        run(out, site, prefix, server)
        assert recorder.events == []  # nothing asked for
        (out / "all" / "rss.xml").write_bytes(b"<rss>new</rss>")
        (out / "all" / "index.html").write_bytes(b"<p>new</p>")
        report = run(out, site, prefix, server, ping=True, distribution="EDFDVBD6EXAMPLE")
        assert sorted(report.uploaded) == ["all/index.html", "all/rss.xml"]
        assert recorder.kinds() == ["invalidate", "completed?", "ping"]
        assert recorder.events[0][1] == ("EDFDVBD6EXAMPLE", ["/all/", "/all/index.html", "/all/rss.xml"])
        assert recorder.events[2][1] == (BASE + "all/rss.xml", hashlib.md5(b"<rss>new</rss>").hexdigest())
        assert report.pinged == (BASE + "all/rss.xml",)
        assert not list(tmp_path.glob(".dist.deploy-*.json"))  # nothing owed
    finally:
        recorder.shutdown()
        recorder.server_close()


@pytest.mark.usefixtures("aws")
def test_a_deploy_killed_mid_upload_is_finished_by_the_next(
    tmp_path: Path, prefix: str, server: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(lambda topic: None)
    threading.Thread(target=recorder.serve_forever, daemon=True).start()
    relay = Relay(int(server.endpoint.rsplit(":", 1)[1]), delay=0.05)  # slow enough to be caught in the middle
    try:
        out = tmp_path / "dist"
        build(SEEDS, out, SITE, NOW)
        config = tmp_path / "feeds.yaml"
        config.write_text(f"base_url: {BASE}\nhubs: ['{recorder.url}/hub']\n")
        command = [sys.executable, "-m", "feeds", "deploy", str(out), f"s3://{server.bucket}/{prefix}"]
        command += ["--endpoint-url", relay.endpoint, "--config", str(config), "--ping"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(remote_files(server, prefix)) < 30 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        partial = remote_files(server, prefix)
        assert 30 <= len(partial) < len(local_files(out)), "the deploy was not caught in the middle"
        assert "manifest.json" not in partial and recorder.events == []
        result = CliRunner().invoke(
            main, ["deploy", str(out), f"s3://{server.bucket}/{prefix}", "--config", str(config), "--ping"]
        )
        assert result.exit_code == 0, result.output
        assert remote_files(server, prefix) == local_files(out)
        # Feeds the killed deploy uploaded are unchanged now, and still announced: it left a note.
        pinged = {topic for kind, (topic, _) in recorder.events if kind == "ping"}
        feeds = {p for p in local_files(out) if p.endswith((".xml", ".json")) and p != "manifest.json"}
        assert pinged == {BASE + p for p in feeds if p != "feed.xsl"}
    finally:
        relay.close()
        recorder.shutdown()
        recorder.server_close()


@pytest.mark.usefixtures("aws")
def test_network_errors_are_retried(tree: Path, prefix: str, server: Seaweed) -> None:
    relay = Relay(int(server.endpoint.rsplit(":", 1)[1]), drop=3)
    try:
        with connect(Target(server.bucket, prefix + "/"), endpoint_url=relay.endpoint) as connection:
            report = deploy(tree, SITE, connection)
        assert len(report.uploaded) == len(local_files(tree)) and relay.connections > 3
        assert remote_files(server, prefix) == local_files(tree)
    finally:
        relay.close()


@pytest.mark.usefixtures("aws")
def test_a_failed_upload_stops_the_deploy_and_names_the_file(
    tree: Path, prefix: str, server: Seaweed, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deploying.Bucket.put

    def refuse_feeds(self: deploying.Bucket, path: str, *args: Any) -> None:
        if path == "topics/ai/rss.xml":
            raise OSError("disk on fire")
        real(self, path, *args)

    monkeypatch.setattr(deploying.Bucket, "put", refuse_feeds)
    with pytest.raises(DeployError) as failure:
        run(tree, SITE, prefix, server)
    assert failure.value.failures == (f"s3://{server.bucket}/{prefix}/topics/ai/rss.xml: upload failed: disk on fire",)
    assert "deploy stopped: 1 of" in str(failure.value) and "nothing was deleted" in str(failure.value)
    partial = remote_files(server, prefix)
    assert "topics/ai/atom.xml" in partial and "index.html" not in partial  # the pages wait for every feed
    monkeypatch.setattr(deploying.Bucket, "put", real)
    run(tree, SITE, prefix, server)
    assert remote_files(server, prefix) == local_files(tree)


@pytest.mark.usefixtures("aws")
def test_the_metadata_decides_when_the_etag_is_not_an_md5(tree: Path, prefix: str, server: Seaweed) -> None:
    run(tree, SITE, prefix, server)
    client = server.client()
    key = f"{prefix}/all/feed.json"
    body = (tree / "all" / "feed.json").read_bytes()
    head = client.head_object(Bucket=server.bucket, Key=key)
    upload = client.create_multipart_upload(
        Bucket=server.bucket,
        Key=key,
        ContentType=head["ContentType"],
        CacheControl=head["CacheControl"],
        Metadata=head["Metadata"],
    )
    part = client.upload_part(Bucket=server.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=body)
    client.complete_multipart_upload(
        Bucket=server.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert remote_files(server, prefix)["all/feed.json"].endswith("-1")  # not an MD5 of the bytes
    report = run(tree, SITE, prefix, server)
    assert report.uploaded == () and report.requests["HeadObject"] == 2


@pytest.mark.usefixtures("aws")
def test_new_caching_headers_upload_everything_again_and_gzip_is_a_setting(
    tree: Path, prefix: str, server: Seaweed
) -> None:
    run(tree, SITE, prefix, server)
    longer = replace(SITE, refresh_minutes=60)
    assert len(run(tree, longer, prefix, server).uploaded) == len(local_files(tree))
    client = server.client()
    assert client.head_object(Bucket=server.bucket, Key=f"{prefix}/all/rss.xml")["CacheControl"].endswith("=3600")
    packed = replace(longer, deploy_gzip=True)
    assert len(run(tree, packed, prefix, server).uploaded) == len(local_files(tree))
    assert run(tree, packed, prefix, server).uploaded == ()
    stored = client.get_object(Bucket=server.bucket, Key=f"{prefix}/all/rss.xml")
    assert stored["ContentEncoding"] == "gzip"
    assert gzip.decompress(stored["Body"].read()) == (tree / "all" / "rss.xml").read_bytes()


@pytest.mark.usefixtures("aws")
def test_a_deploy_never_reads_a_tree_being_built_nor_a_folder_without_a_manifest(
    tree: Path, prefix: str, server: Seaweed
) -> None:
    with build_lock(tree):
        result = CliRunner().invoke(main, ["deploy", str(tree), f"s3://{server.bucket}/{prefix}"])
    assert result.exit_code == 3 and "another build is running" in result.stderr
    assert remote_files(server, prefix) == {}
    (tree / "manifest.json").unlink()
    result = CliRunner().invoke(main, ["deploy", str(tree), f"s3://{server.bucket}/{prefix}"])
    assert result.exit_code == 1 and "no manifest.json; deploy a folder that feeds build wrote" in result.stderr


def test_credentials_and_buckets_that_are_not_there_get_one_line(
    tree: Path, server: Seaweed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    runner = CliRunner()
    command = ["deploy", str(tree), f"s3://{server.bucket}/x", "--endpoint-url", server.endpoint]

    def error(*extra: str) -> str:
        result = runner.invoke(main, [*command, *extra])
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
        return result.stderr

    assert "no AWS credentials found" in error()
    assert "--profile nobody: no such profile" in error("--profile", "nobody")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-at-all")
    message = error()
    assert "the secret key does not match the access key" in message and "not-the-secret" not in message
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    command[2] = "s3://no-such-bucket"
    assert error() == "Error: s3://no-such-bucket: no such bucket\n"
    assert SECRET_KEY not in error()
