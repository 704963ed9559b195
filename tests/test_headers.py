"""The header table shared by `feeds serve` and `feeds deploy`: caching by kind of file."""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.config import load_site
from feeds.headers import ARCHIVE_MAX_AGE, CachePolicy, compressible, content_type, full_archive_pages
from feeds.publish import build
from feeds.serve import make_server, serve_command

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def test_types_and_compression() -> None:
    assert content_type("rss.xml") == "application/rss+xml; charset=utf-8"
    assert content_type("photo.PNG") == "image/png"
    assert compressible(content_type("feed.json"))
    assert compressible(content_type("index.html"))
    assert not compressible(content_type("photo.png"))


def test_every_archive_page_but_the_newest_is_full() -> None:
    manifest = {
        "feeds": [
            {"paths": {"rss": "all/rss.xml", "json": "all/feed.json"}, "archive_pages": 3},
            {"paths": {"rss": "topics/ai/rss.xml"}, "archive_pages": 1},
            {"paths": {"rss": "topics/c/rss.xml"}, "archive_pages": 0},
        ]
    }
    assert full_archive_pages(manifest) == {
        "all/archive/1/rss.xml",
        "all/archive/2/rss.xml",
        "all/archive/1/feed.json",
        "all/archive/2/feed.json",
    }
    policy = CachePolicy(600, full_archive_pages(manifest))
    assert policy.cache_control("all/archive/2/rss.xml") == f"public, max-age={ARCHIVE_MAX_AGE}, immutable"
    assert policy.cache_control("all/archive/3/rss.xml") == "public, max-age=600"  # the newest page still grows
    assert policy.cache_control("all/rss.xml") == "public, max-age=600"
    assert CachePolicy.from_manifest(b"not json", 60) == CachePolicy(60)
    assert CachePolicy.from_manifest(None, 60) == CachePolicy(60)


def test_serve_marks_full_archive_pages_immutable_and_follows_the_manifest(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    for seed in seeds:
        (records / seed.name).write_bytes(seed.read_bytes())
    site = replace(load_site(ROOT / "feeds.yaml"), max_items=2, archives=True, archive_page_size=2)
    out = tmp_path / "dist"
    build(records, out, site, NOW)
    pages = json.loads((out / "manifest.json").read_text())["feeds"][0]["archive_pages"]
    assert pages >= 3
    server = make_server(out, "127.0.0.1", 0, 120)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"

    def cache_control(path: str) -> str:
        with urllib.request.urlopen(base + path, timeout=10) as response:
            return str(response.headers["Cache-Control"])

    try:
        assert cache_control("all/archive/1/rss.xml") == f"public, max-age={ARCHIVE_MAX_AGE}, immutable"
        assert cache_control(f"all/archive/{pages}/feed.json") == "public, max-age=120"
        assert cache_control("all/rss.xml") == "public, max-age=120"
        assert cache_control("index.html") == "public, max-age=120"
        # Withdraw every record: the archive pages go, and the policy follows the new manifest.
        for path in records.iterdir():
            path.write_bytes(path.read_bytes().replace(b"published: true", b"published: false"))
        build(records, out, site, NOW, allow_shrink=True)
        assert json.loads((out / "manifest.json").read_text())["feeds"][0]["archive_pages"] == 0
        assert not (out / "all" / "archive").exists()  # withdrawn stories leave no page behind
        assert cache_control("all/rss.xml") == "public, max-age=120"
    finally:
        server.shutdown()
        server.server_close()


def test_serve_takes_its_default_max_age_from_refresh_minutes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("refresh_minutes: 7\n")
    seen: list[int] = []
    # Only the server loop is replaced: the option handling under test runs as it is.
    monkeypatch.setattr("feeds.serve.serve", lambda directory, host, port, max_age: seen.append(max_age))
    result = CliRunner().invoke(serve_command, [str(tmp_path), "--config", str(config)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(serve_command, [str(tmp_path), "--config", str(config), "--max-age", "5"])
    assert result.exit_code == 0, result.output
    config.write_text("refresh_minutes: 0\n")
    result = CliRunner().invoke(serve_command, [str(tmp_path), "--config", str(config)])
    assert result.exit_code == 1
    assert "refresh_minutes: must be a whole number from 1 to 1440" in result.output
    assert seen == [420, 5]
