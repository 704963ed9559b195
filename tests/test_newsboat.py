"""newsboat, a terminal feed reader, imports feeds.opml and reads every feed over HTTP."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from feeds.model import Site
from feeds.publish import build
from feeds.serve import make_server

from .conftest import NOW, SEEDS

pytestmark = pytest.mark.skipif(shutil.which("newsboat") is None, reason="newsboat is not installed (Debian: newsboat)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    out = tmp_path / "dist"
    out.mkdir()
    server = make_server(out, "127.0.0.1", 0, 60)
    build(SEEDS, out, Site(title="Local", base_url=f"http://127.0.0.1:{server.server_address[1]}/"), NOW)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield out
    server.shutdown()
    server.server_close()


def newsboat(tmp_path: Path, *args: str) -> str:
    command = ["newsboat", "-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_newsboat_imports_the_opml_and_reads_every_feed(
    served: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert "finished" in newsboat(tmp_path, "-i", str(served / "feeds.opml"))
    urls = (tmp_path / "urls").read_text(encoding="utf-8").splitlines()
    assert len(urls) == 23 and all(' "' in line for line in urls)  # each feed, tagged with its group
    capfd.readouterr()
    assert newsboat(tmp_path, "-x", "reload", "print-unread").strip() == "34 unread articles"
    assert capfd.readouterr().err.count('" 200 ') == 23  # every feed fetched once, over HTTP
    # A second reload finds nothing new. (newsboat 2.21 sends no If-None-Match or
    # If-Modified-Since, so the server answers 200 again; reader's polls get 304.)
    assert newsboat(tmp_path, "-x", "reload", "print-unread").strip() == "34 unread articles"
