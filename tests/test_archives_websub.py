"""RFC 5005 archives (a client walking prev-archive sees every item once) and WebSub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.cli import main
from feeds.model import Format, Site
from feeds.publish import build
from feeds.selection import archive_pages

from .conftest import NOW, SEEDS, record_file

SITE = Site(title="Archive", base_url="https://feeds.example.org/", max_items=5, archives=True, archive_page_size=4)
FH = "{http://purl.org/syndication/history/1.0}archive"


def local(url: str, out: Path) -> Path:
    return out / url.removeprefix(SITE.base_url)


def walk(out: Path, fmt: Format) -> list[list[str]]:
    """Follow prev-archive (next_url for JSON Feed) from the head feed; ids per document."""
    documents: list[list[str]] = []
    url: str | None = SITE.url(f"all/{fmt.value}")
    while url:
        data = local(url, out).read_bytes()
        if fmt is Format.JSON:
            document = json.loads(data)
            documents.append([item["id"] for item in document["items"]])
            url = document.get("next_url")
        else:
            parsed = feedparser.parse(data)
            assert not parsed.bozo
            documents.append([entry.id for entry in parsed.entries])
            older = [link.href for link in parsed.feed.links if link.rel == "prev-archive"]
            url = older[0] if older else None
    return documents


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archived")
    build(SEEDS, out, SITE, NOW)
    return out


@pytest.mark.parametrize("fmt", list(Format))
def test_walking_back_from_the_feed_sees_every_item_exactly_once(archived: Path, fmt: Format) -> None:
    documents = walk(archived, fmt)
    seen = [item for document in documents for item in document]
    manifest = json.loads((archived / "manifest.json").read_text(encoding="utf-8"))
    everything = json.loads((archived / "all" / "feed.json").read_text(encoding="utf-8"))
    assert len(documents[0]) == 5 and manifest["feeds"][0]["archive_pages"] == len(documents) - 1
    assert len(seen) == len(set(seen)) == 34
    assert seen[:5] == [item["id"] for item in everything["items"]]


def test_archive_pages_fill_from_the_oldest_and_the_newest_always_has_room() -> None:
    assert archive_pages(0, 4) == []
    assert archive_pages(3, 4) == [(0, 3)]
    assert archive_pages(8, 4) == [(4, 8), (0, 4), (0, 0)]
    assert archive_pages(29, 4)[0] == (25, 29)  # page 1 holds the four oldest


def test_archive_documents_carry_fh_archive_and_their_links(archived: Path) -> None:
    page = etree.parse(str(archived / "all" / "archive" / "2" / "atom.xml")).getroot()
    assert page.find(FH) is not None
    links = {link.get("rel"): link.get("href") for link in page.findall("{http://www.w3.org/2005/Atom}link")}
    assert links["current"] == SITE.url("all/atom.xml")
    assert links["prev-archive"] == SITE.url("all/archive/1/atom.xml")
    assert links["next-archive"] == SITE.url("all/archive/3/atom.xml")
    assert links["self"] == SITE.url("all/archive/2/atom.xml")
    oldest = etree.parse(str(archived / "all" / "archive" / "1" / "rss.xml")).getroot()
    assert oldest.find(f"channel/{FH}") is not None
    assert not oldest.findall("channel/{http://www.w3.org/2005/Atom}link[@rel='prev-archive']")
    head = etree.parse(str(archived / "all" / "rss.xml")).getroot()
    assert head.find(f"channel/{FH}") is None


def test_new_items_never_rewrite_a_full_archive_page(tmp_path: Path) -> None:
    seeds, out = tmp_path / "seeds", tmp_path / "out"
    seeds.mkdir()
    site = replace(SITE, max_items=2, archive_page_size=3)
    start = NOW - timedelta(days=100)

    def add(n: int) -> None:
        when = (start + timedelta(days=n)).isoformat().replace("+00:00", "Z")
        fields = f"title: Story {n}\nsourceUrl: https://a.example/{n}\npublishedDateTime: {when}\npublished: true\n"
        (seeds / f"{n:03d}.txt").write_bytes(record_file(fields))

    full: dict[Path, bytes] = {}
    for n in range(20):
        add(n)
        build(seeds, out, site, NOW)
        for page in sorted((out / "all" / "archive").glob("*/rss.xml")):
            entries = len(etree.parse(str(page)).getroot().findall("channel/item"))
            if page in full:
                assert page.read_bytes() == full[page], f"{page} changed after it was full"
            elif entries == 3:
                full[page] = page.read_bytes()
    assert len(full) == 6


# ---- WebSub


def test_hubs_are_announced_in_every_format(tmp_path: Path) -> None:
    site = replace(SITE, hubs=("https://hub.example.net/", "https://pubsubhubbub.example.com/hub"))
    build(SEEDS, tmp_path, site, NOW)
    atom = etree.parse(str(tmp_path / "all" / "atom.xml")).getroot()
    hubs = [link.get("href") for link in atom.findall("{http://www.w3.org/2005/Atom}link[@rel='hub']")]
    assert hubs == list(site.hubs)
    rss = feedparser.parse((tmp_path / "topics" / "ai" / "rss.xml").read_bytes())
    assert [link.href for link in rss.feed.links if link.rel == "hub"] == list(site.hubs)
    assert [link.href for link in rss.feed.links if link.rel == "self"] == [site.url("topics/ai/rss.xml")]
    document = json.loads((tmp_path / "all" / "feed.json").read_text(encoding="utf-8"))
    assert document["hubs"] == [{"type": "WebSub", "url": hub} for hub in site.hubs]


class Hub(BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]] = []  # noqa: RUF012 - shared with the test on purpose

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("ascii")
        Hub.received.append(parse_qs(body))
        self.send_response(204 if "fail" not in self.path else 500)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    Hub.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_ping_notifies_hubs_of_only_the_feeds_that_changed(tmp_path: Path, hub: str) -> None:
    (tmp_path / "feeds.yaml").write_text(
        f"base_url: https://feeds.example.org/\nhubs: ['{hub}', '{hub}fail']\n", encoding="utf-8"
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n, topic in enumerate(["AI", "Space"]):
        fields = f"title: S{n}\nsourceUrl: https://a.example/{n}\npublishedDateTime: 2025-01-0{n + 1}\npublished: true\ntopics: [{topic}]\n"
        (seeds / f"{n}.txt").write_bytes(record_file(fields))
    args = ["build", str(seeds), "-o", str(tmp_path / "out"), "--config", str(tmp_path / "feeds.yaml"), "--ping", "-q"]
    runner = CliRunner()
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    pinged = sorted(url for message in Hub.received for url in message["hub.url"])
    assert len(pinged) == 2 * 3 * 4  # two hubs, three formats, four feeds (all, 2 topics, 1 provider)
    assert all(message["hub.mode"] == ["publish"] for message in Hub.received)
    assert "answered HTTP 500" in first.stderr  # reported, and the build still succeeded
    Hub.received = []
    (seeds / "1.txt").write_bytes((seeds / "1.txt").read_bytes().replace(b"S1", b"S one"))
    second = runner.invoke(main, args)
    assert second.exit_code == 0
    urls = {url for message in Hub.received for url in message["hub.url"]}
    assert urls == {
        f"https://feeds.example.org/{folder}/{name}"
        for folder in ("all", "topics/space", "providers/a-example")
        for name in ("rss.xml", "atom.xml", "feed.json")
    }
    Hub.received = []
    assert runner.invoke(main, args).exit_code == 0
    assert Hub.received == []  # nothing changed, nobody is pinged
