"""What six real readers show of every item of a build of hostile titles, in every format.

Each client reads the same files: feedparser and reader (lemon24) in Python,
feedparser-rs (Rust), feedsmith and feed-extractor (npm, through
tests/js/read.mjs) and newsboat (over HTTP, where it is installed). For each
item the test takes what the client hands its user, the title, link, date,
enclosures and related links, and compares it with the record. A field a
client does not present is None in ``CLIENTS`` below, and asserted absent.

The exceptions are the clients' own, written down, not skipped:

- feedparser guesses the type of an RSS title from its text, and takes one
  holding an HTML entity or end tag (``&amp;``, ``</b>``) for HTML, though RSS
  titles are plain text; feedparser-rs takes every RSS and JSON Feed title for
  HTML and sanitises it (``<update>`` is dropped, ``<b>`` gets closed). What
  they show is that HTML's text. ``GUESSED_AS_HTML`` names those titles.

(feed-extractor decodes the entities of Atom text once more, so a title with
``&amp;`` written literally would read ``&`` had the feed written ``&amp;amp;``;
the hexadecimal character references the renderer writes in Atom too,
``&#x26;amp;``, reach it as written.)

Every other title is shown character for character.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import feedparser_rs
import pytest
from lxml import etree
from reader import make_reader

from feeds.model import Format, Image, Provider, RelatedLink, Site
from feeds.publish import build
from feeds.serve import make_server

from .conftest import ROOT, make_record, write_records

JS = ROOT / "tests" / "js"
T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
HOSTILE_TITLES = (
    "Tags such as <b> stay text",
    "&amp; written literally, as HTML would spell it",
    "AT&T and R&D & co",
    "\"Double\" and 'single' quotes, “curly” too",
    "C++ beats C# (and F#)",
    "Launch day 🚀🎉 for the 👩‍🚀 crew",
    "خبر عاجل: עדכון חדשות",
    "Ruling study breach network market <update>",
)
# (client, format) -> the titles it takes for HTML and shows as that HTML's text
GUESSED_AS_HTML = {
    ("feedparser", Format.RSS): frozenset({HOSTILE_TITLES[1]}),
    ("feedparser-rs", Format.RSS): frozenset(HOSTILE_TITLES),
    ("feedparser-rs", Format.JSON): frozenset(HOSTILE_TITLES),
}

FIELDS = ("title", "link", "date", "enclosures", "related")
ALL, FIRST = "all", "first"  # every image as an enclosure, or the first only (RSS allows one)
# client -> format -> which fields it presents (enclosures: ALL or FIRST); None: it does not read the format
CLIENTS: dict[str, dict[Format, frozenset[str] | None]] = {
    "feedparser": {
        Format.RSS: frozenset({"title", "link", "date", "enclosures:first", "related"}),
        Format.ATOM: frozenset({"title", "link", "date", "enclosures:all", "related"}),
        Format.JSON: None,  # feedparser 6 has no JSON Feed parser
    },
    "reader": {
        fmt: frozenset({"title", "link", "date", "enclosures:first" if fmt is Format.RSS else "enclosures:all"})
        for fmt in Format
    },
    "feedparser-rs": {
        Format.RSS: frozenset({"title", "link", "date", "enclosures:first"}),  # no atom:link in RSS items
        Format.ATOM: frozenset({"title", "link", "date", "enclosures:all", "related"}),
        Format.JSON: frozenset({"title", "link", "date", "enclosures:all"}),  # no _related extension
    },
    "feedsmith": {
        Format.RSS: frozenset({"title", "link", "date", "enclosures:first", "related"}),
        Format.ATOM: frozenset({"title", "link", "date", "enclosures:all", "related"}),
        Format.JSON: frozenset({"title", "link", "date", "enclosures:all"}),  # drops the _related extension
    },
    "feed-extractor": {fmt: frozenset({"title", "link", "date"}) for fmt in Format},
    # newsboat 2.21 keeps only audio and video enclosures (podcasts), and reads no JSON Feed
    "newsboat": {Format.RSS: frozenset({"title", "link", "date"}), Format.ATOM: frozenset({"title", "link", "date"})}
    | {Format.JSON: None},
}
Shown = dict[str, Any]  # one item as a client presents it: FIELDS -> value or None


def hostile_records() -> list[Any]:
    provider = Provider(name="AT&T <Wire> “News”", key="wire.example.com", url="https://wire.example.com/")
    return [
        make_record(
            path=f"seeds/hostile_{number}.txt",
            title=title,
            url=f"https://wire.example.com/story/{number}",
            published_at=T0 + timedelta(hours=number),
            provider=provider,
            excerpt=f"Excerpt of: {title}",
            topics=("C++", "R&D <lab>"),
            images=(
                Image(f"https://img.example.com/{number}/a.jpg", 800, 600, f"Caption: {title}"),
                Image(f"https://img.example.com/{number}/b.png"),
            ),
            related=(RelatedLink(f"https://other.example.org/{number}", f"Related: {title}", published=T0),),
        )
        for number, title in enumerate(HOSTILE_TITLES)
    ]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build of the hostile records, with icons set, under the all feed's folder."""
    folder = tmp_path_factory.mktemp("hostile")
    write_records(folder / "records", hostile_records())
    site = Site(
        title="Hostile & <Titles>", base_url="https://feeds.example.org/", icon="https://feeds.example.org/i.png"
    )
    build(folder / "records", folder / "out", site, NOW)
    return folder / "out"


def expected() -> list[Shown]:
    """Every item as the record says it, newest first."""
    return [
        {
            "title": record.title,
            "link": record.url,
            "date": record.published_at,
            "enclosures": [image.url for image in record.images],
            "related": [link.url for link in record.related],
        }
        for record in reversed(hostile_records())
    ]


def html_text(markup: str) -> str:
    """What a person sees of a piece of HTML."""
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    if text[:3].isalpha():  # RFC 822, as RSS writes it
        return parsedate_to_datetime(text).astimezone(UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# ---- each client, as it presents an item


def _feedparser_like(entry: Any) -> Shown:
    detail = entry.get("title_detail")
    title = entry.get("title")
    if detail is not None and detail.get("type") == "text/html":
        title = html_text(title)  # a client shows HTML as HTML
    return {
        "title": title,
        "link": entry.get("link"),
        "date": datetime(*entry.published_parsed[:6], tzinfo=UTC) if entry.get("published_parsed") else None,
        "enclosures": [e.get("href") for e in entry.get("enclosures", [])] or None,
        "related": [link.get("href") for link in entry.get("links", []) if link.get("rel") == "related"] or None,
    }


def read_feedparser(out: Path, path: str) -> list[Shown] | None:
    if path.endswith(".json"):
        return None
    parsed = feedparser.parse((out / path).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [_feedparser_like(entry) for entry in parsed.entries]


def read_feedparser_rs(out: Path, path: str) -> list[Shown]:
    parsed = feedparser_rs.parse((out / path).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [_feedparser_like(entry) for entry in parsed.entries]


def read_reader(out: Path, path: str) -> list[Shown]:
    client = make_reader(":memory:", feed_root=str(out))
    try:
        client.add_feed(path)
        client.update_feeds()
        assert client.get_feed(path).last_exception is None
        entries = sorted(client.get_entries(feed=path), key=lambda e: -e.published.timestamp())
        return [
            {
                "title": entry.title,
                "link": entry.link,
                "date": entry.published,
                "enclosures": [e.href for e in entry.enclosures] or None,
                "related": None,  # reader keeps no entry links but the alternate
            }
            for entry in entries
        ]
    finally:
        client.close()


@pytest.fixture(scope="module")
def node_read(hostile: Path) -> dict[str, dict[str, list[Shown]]]:
    """What feedsmith and feed-extractor show of every file, from one run of read.mjs."""
    if shutil.which("node") is None or not (JS / "node_modules").is_dir():
        pytest.skip("node or tests/js/node_modules missing (npm ci --prefix tests/js)")
    paths = [str(hostile / "all" / fmt.value) for fmt in Format]
    done = subprocess.run(
        ["node", str(JS / "read.mjs"), *paths], capture_output=True, text=True, check=True, timeout=60
    )
    shown: dict[str, dict[str, list[Shown]]] = json.loads(done.stdout)
    return {Path(path).name: clients for path, clients in shown.items()}


def _node(client: str, name: str) -> Callable[[dict[str, dict[str, list[Shown]]], str], list[Shown]]:
    def read(node: dict[str, dict[str, list[Shown]]], path: str) -> list[Shown]:
        items = node[Path(path).name][name]
        return [
            {**item, **{k: (v or None) for k, v in item.items() if k in ("enclosures", "related")}} for item in items
        ]

    read.__name__ = client
    return read


# ---- the comparison


def presented(client: str, fmt: Format, shown: list[Shown]) -> None:
    """Each item as ``CLIENTS`` says this client presents it, compared with the record field by field."""
    fields = CLIENTS[client][fmt]
    assert fields is not None
    want = expected()
    assert len(shown) == len(want), f"{client} {fmt.name}: {len(shown)} items"
    for item, record in zip(shown, want, strict=True):
        where = f"{client} {fmt.name} {record['link']}"
        title = record["title"]
        if title in GUESSED_AS_HTML.get((client, fmt), ()):
            title = html_text(title)
        assert item["title"] == title, where
        assert item["link"] == record["link"], where
        assert moment(item["date"]) == record["date"], where
        if "enclosures:all" in fields:
            assert item["enclosures"] == record["enclosures"], where
        elif "enclosures:first" in fields:
            assert item["enclosures"] == record["enclosures"][:1], where
        else:
            assert item["enclosures"] is None, where
        if "related" in fields:
            assert item["related"] == record["related"], where
        else:
            assert item["related"] is None, where


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.name)
@pytest.mark.parametrize("client", ["feedparser", "feedparser-rs", "reader"])
def test_python_clients_show_every_item_as_written(hostile: Path, client: str, fmt: Format) -> None:
    read = {"feedparser": read_feedparser, "feedparser-rs": read_feedparser_rs, "reader": read_reader}[client]
    shown = read(hostile, f"all/{fmt.value}")
    if CLIENTS[client][fmt] is None:
        assert shown is None
        return
    assert shown is not None
    presented(client, fmt, shown)


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.name)
@pytest.mark.parametrize("client", ["feedsmith", "feed-extractor"])
def test_npm_clients_show_every_item_as_written(node_read: Any, client: str, fmt: Format) -> None:
    name = {"feedsmith": "feedsmith", "feed-extractor": "extractor"}[client]
    presented(client, fmt, _node(client, name)(node_read, f"all/{fmt.value}"))


def test_every_exception_is_a_real_one(hostile: Path) -> None:
    """The titles in GUESSED_AS_HTML are those the client labels text/html, and only those."""
    for (client, fmt), titles in GUESSED_AS_HTML.items():
        parse = feedparser.parse if client == "feedparser" else feedparser_rs.parse
        parsed = parse((hostile / "all" / fmt.value).read_bytes())
        labelled = {html_text(e.title) for e in parsed.entries if e.title_detail.type == "text/html"}
        assert labelled == {html_text(t) for t in titles}, (client, fmt)


# ---- newsboat reads the same files over HTTP and keeps what it shows in its cache


@pytest.fixture(scope="module")
def newsboat_items(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Format, list[Shown]]]:
    if shutil.which("newsboat") is None:
        pytest.skip("newsboat is not installed (Debian: newsboat)")
    folder = tmp_path_factory.mktemp("newsboat")
    write_records(folder / "records", hostile_records())
    (folder / "out").mkdir()
    server = make_server(folder / "out", "127.0.0.1", 0, 60)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    build(folder / "records", folder / "out", Site(title="Hostile", base_url=base), NOW)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        shown = {}
        for fmt in Format:
            home = folder / fmt.name
            home.mkdir()
            (home / "urls").write_text(f"{base}all/{fmt.value}\n", encoding="utf-8")
            command = ["newsboat", "-u", str(home / "urls"), "-c", str(home / "cache.db"), "-x", "reload"]
            subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
            with sqlite3.connect(home / "cache.db") as db:
                rows = db.execute("SELECT title, url, pubDate, enclosure_url FROM rss_item ORDER BY pubDate DESC")
                shown[fmt] = [
                    {"title": t, "link": u, "date": d, "enclosures": [e] if e else None, "related": None}
                    for t, u, d, e in rows.fetchall()
                ]
        yield shown
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("fmt", list(Format), ids=lambda f: f.name)
def test_newsboat_shows_every_item_as_written(newsboat_items: dict[Format, list[Shown]], fmt: Format) -> None:
    if CLIENTS["newsboat"][fmt] is None:
        assert newsboat_items[fmt] == []
        return
    presented("newsboat", fmt, newsboat_items[fmt])


def test_the_hostile_build_keeps_plain_text_plain(hostile: Path) -> None:
    """Plain text is never HTML-escaped first: the XML text of every title is the record's title, and
    RSS writes "&", "<" and ">" in its plain-text elements only as hexadecimal character references."""
    want = [item["title"] for item in expected()]
    rss_data = (hostile / "all" / "rss.xml").read_bytes()
    atom = etree.fromstring((hostile / "all" / "atom.xml").read_bytes())
    assert [t.text for t in etree.fromstring(rss_data).findall("channel/item/title")] == want
    assert [
        t.text for t in atom.findall("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
    ] == want
    plain = rb"<(title|category|source|dc:creator|media:title)[^>]*>([^<]*)</\1>"
    for _, text in re.findall(plain, rss_data):
        assert b"&amp;" not in text and b"&lt;" not in text and b"&gt;" not in text, text
    assert b"<title>&#x26;amp; written literally" in rss_data
    assert b"<dc:creator>AT&#x26;T &#x3C;Wire&#x3E; \xe2\x80\x9cNews\xe2\x80\x9d</dc:creator>" in rss_data
    assert b"<category>R&#x26;D &#x3C;lab&#x3E;</category>" in rss_data
    assert b"<title>Hostile &#x26; &#x3C;Titles&#x3E;</title>" in rss_data
    assert b"<description>An excerpt" not in rss_data  # an item's description is HTML: entities stay
    assert b"Excerpt of: AT&amp;amp;T" in rss_data
