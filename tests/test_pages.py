"""The discovery files: index.html, a page per feed, feeds.opml and feed.xsl, in parsers and in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any

import html5lib
import listparser
import pytest
from lxml import etree, html

from feeds.manifest import read_manifest
from feeds.model import Feed, FeedKind, Format, Image, Provider, RelatedLink, Site
from feeds.outputs import check_path
from feeds.pages import INDEX, OPML, XSL, XSL_NOTE
from feeds.publish import Report, build, documents
from feeds.renderers import render
from feeds.renderers.content import self_url
from feeds.serve import make_server

from .conftest import NOW, SEEDS, SITE, documents_of, make_record, tree, tree_of, write_records

FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/feed+json"}
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HOSTILE = (SCRIPT, BREAKOUT, "{{main}}")  # the last would inject a page into a page if templates were rescanned


@pytest.fixture(scope="module")
def feeds(built: tuple[Path, Report], seed_site: Site) -> tuple[Feed, ...]:
    """The feeds of the seed build, as the build publishes them."""
    out, _ = built
    return tuple(f for f in documents(SEEDS, seed_site, NOW, known=read_manifest(out).known) if f.page is None)


def discovery(files: dict[PurePosixPath, bytes]) -> dict[PurePosixPath, bytes]:
    """The discovery files of a built tree: the index, every feed's page, the OPML list and the XSLT."""
    return {
        path: data
        for path, data in files.items()
        if path.suffix in (".html", ".opml", ".xsl") and path.parts[0] != "extensions"
    }


@pytest.fixture(scope="module")
def pages(built: tuple[Path, Report]) -> dict[PurePosixPath, bytes]:
    return discovery(tree(built[0]))


@pytest.fixture(scope="module")
def manifest(built: tuple[Path, Report]) -> dict[str, dict[str, Any]]:
    data = json.loads((built[0] / "manifest.json").read_text(encoding="utf-8"))
    return {f"{f['paths']['rss'].rsplit('/', 1)[0]}": f for f in data["feeds"]}


def hostile_feeds() -> tuple[Feed, ...]:
    evil = " ".join(HOSTILE)
    provider = Provider(name=f"Evil {evil}", key="evil.example", url="https://evil.example/")
    record = make_record(
        title=f"Title {evil}",
        excerpt=f"Excerpt {evil} & 'quotes'",
        provider=provider,
        topics=(f"Topic {evil}",),
        images=(Image("https://img.example.com/a.jpg?a=1&b=2", 640, 480, f"Alt {evil}"),),
        related=(RelatedLink("https://other.example.org/x?y=1&z=2", f"Related {evil}", provider=provider),),
    )
    return tuple(d for d in documents_of([record, replace(record, url="https://evil.example/2")]) if d.page is None)


def hostile_pages() -> dict[PurePosixPath, bytes]:
    return discovery(tree_of([record for record in hostile_feeds()[0].entries]))


def strict_html5(data: bytes) -> Any:
    """Parse as HTML5, failing on any parse error (html5lib's strict mode)."""
    return html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(data)


def alternates(doc: html.HtmlElement) -> list[tuple[str, str]]:
    return sorted((link.get("type"), link.get("href")) for link in doc.xpath("/html/head/link[@rel='alternate']"))


def expected_alternates(entry: dict[str, Any]) -> list[tuple[str, str]]:
    types = {"rss": Format.RSS.media_type, "atom": Format.ATOM.media_type, "json": Format.JSON.media_type}
    return sorted((types[name], url) for name, url in entry["urls"].items())


def test_one_page_per_feed_plus_index_opml_and_xsl(feeds: tuple[Feed, ...], pages: dict[PurePosixPath, bytes]) -> None:
    expected = {INDEX, OPML, XSL} | {feed.key.folder / INDEX for feed in feeds}
    assert set(pages) == expected
    for path in pages:
        check_path(path)  # what a build demands of every output path


def test_output_is_deterministic_and_ignores_input_order(tmp_path: Path, seed_site: Site) -> None:
    records = sorted(SEEDS.glob("*.txt"))
    for name, order in (("forward", records), ("backward", records[::-1])):
        folder = tmp_path / name / "records"
        folder.mkdir(parents=True)
        for number, path in enumerate(order):  # the same records under other names, read in another order
            (folder / f"{number:03d}-{path.name}").write_bytes(path.read_bytes())
        build(folder, tmp_path / name / "out", seed_site, NOW)
    assert discovery(tree(tmp_path / "forward" / "out")) == discovery(tree(tmp_path / "backward" / "out"))


def test_every_page_is_accessible_html5_without_scripts_or_external_assets(pages: dict[PurePosixPath, bytes]) -> None:
    for path, data in pages.items():
        if path.suffix != ".html":
            continue
        strict_html5(data)
        doc = html.fromstring(data)
        assert doc.get("lang") == "en", path
        assert len(doc.xpath("//main[@id='main']")) == 1, path
        assert len(doc.xpath("//header")) == len(doc.xpath("//footer")) == 1, path
        assert len(doc.xpath("//h1")) == 1, path
        assert doc.xpath("//meta[@name='viewport']"), path
        assert not doc.xpath("//script | //iframe | //object | //link[@rel='stylesheet'] | //*[@style]"), path
        assert not [a for a in doc.xpath("//@*") if a.attrname.startswith("on")], path
        for src in doc.xpath("//img/@src"):
            assert src.startswith("https://"), path  # only record images, never a page asset


def test_index_has_autodiscovery_for_the_all_feed_and_the_opml(pages, manifest, seed_site: Site) -> None:  # type: ignore[no-untyped-def]
    doc = html.fromstring(pages[INDEX])
    assert alternates(doc) == sorted(
        [*expected_alternates(manifest["all"]), ("text/x-opml", seed_site.url("feeds.opml"))]
    )
    assert all(link.get("title") for link in doc.xpath("//head/link[@rel='alternate']"))
    assert doc.xpath("//header//a[@href=$url]", url=seed_site.url("feeds.opml"))


def test_index_lists_every_feed_in_three_sections(pages, feeds, manifest) -> None:  # type: ignore[no-untyped-def]
    doc = html.fromstring(pages[INDEX])
    assert [h.text_content() for h in doc.xpath("//main/section/h2")] == ["All stories", "Topics", "Providers"]
    assert "copy a feed link" in doc.xpath("string(//header)")
    for feed in feeds:
        section = doc.xpath("//main/section[@aria-labelledby=$id]", id=feed.key.kind.value)[0]
        [item] = section.xpath(".//li[h3/a/@href=$page]", page=f"{feed.key.folder}/index.html")
        assert item.xpath("string(h3)") == feed.name
        text = item.text_content()
        assert f"{len(feed.entries)} stor" in text
        if feed.updated is not None:
            assert item.xpath(".//time/@datetime") == [manifest[str(feed.key.folder)]["updated"]]
        links = sorted((a.get("type"), a.get("href")) for a in item.xpath(".//p[@class='formats']/a"))
        assert links == expected_alternates(manifest[str(feed.key.folder)])
        assert [a.text for a in item.xpath(".//p[@class='formats']/a")] == ["RSS", "Atom", "JSON Feed"]


def test_feed_pages_show_every_entry_newest_first_with_autodiscovery(pages, feeds, manifest) -> None:  # type: ignore[no-untyped-def]
    for feed in feeds:
        doc = html.fromstring(pages[feed.key.folder / INDEX])
        assert alternates(doc) == expected_alternates(manifest[str(feed.key.folder)])
        assert doc.xpath("string(//h1)") == ("All stories" if feed.key.kind is FeedKind.ALL else feed.name)
        back = doc.xpath("//nav/a/@href")[0]
        assert PurePosixPath(os.path.normpath(feed.key.folder / back)) == INDEX
        articles = doc.xpath("//main/article")
        assert [(a.xpath("string(h2)"), a.xpath("h2/a/@href")[0]) for a in articles] == [
            (r.title, r.url) for r in feed.entries
        ]
        times = [a.xpath(".//time/@datetime")[0] for a in articles]
        assert times == sorted(times, reverse=True)
        for article, record in zip(articles, feed.entries, strict=True):
            assert record.provider.name in article.xpath("string(p[@class='muted'])")
            if record.excerpt:
                assert record.excerpt in article.text_content()
            if record.images:
                [img] = article.xpath(".//img")
                first = record.images[0]
                assert (img.get("src"), img.get("alt")) == (first.url, first.title or "")
                assert img.get("width") == (str(first.width) if first.width else None)
                assert img.get("height") == (str(first.height) if first.height else None)
            related = article.xpath(".//h3[.='Related coverage']/following-sibling::ul[1]/li/a")
            assert [(a.text_content(), a.get("href")) for a in related] == [(r.title, r.url) for r in record.related]


def test_an_emptied_feed_keeps_its_page_and_an_empty_build_still_makes_every_file(tmp_path: Path) -> None:
    write_records(tmp_path / "records", [make_record(path="a.txt"), make_record(path="b.txt", topics=("Gone",))])
    build(tmp_path / "records", tmp_path / "out", SITE, NOW)
    (tmp_path / "records" / "b.txt").unlink()
    build(tmp_path / "records", tmp_path / "out", SITE, NOW)
    pages = discovery(tree(tmp_path / "out"))
    page = pages[PurePosixPath("topics/gone/index.html")]
    strict_html5(page)
    doc = html.fromstring(page)
    assert "No stories" in doc.xpath("string(//main)")
    assert len(alternates(doc)) == 3
    [item] = html.fromstring(pages[INDEX]).xpath("//li[h3/a/@href='topics/gone/index.html']")
    assert "0 stories" in item.text_content()
    assert item.xpath("string(.//time/@datetime)") == "2025-03-14T08:15:00Z"  # when it last had a story
    nothing = discovery(tree_of([]))
    assert set(nothing) == {INDEX, OPML, XSL, PurePosixPath("all/index.html")}
    root = etree.fromstring(nothing[OPML])
    assert root.find("head/dateModified") is None  # no entry has a time, and the clock is never read
    assert [g.get("text") for g in root.findall("body/outline")] == ["All stories"]
    assert len(listparser.parse(nothing[OPML]).feeds) == 1


def test_hostile_record_text_is_shown_as_text_never_as_markup() -> None:
    feeds = hostile_feeds()
    assert {feed.key.kind for feed in feeds} == set(FeedKind)
    pages = hostile_pages()
    for path, data in pages.items():
        text = data.decode("utf-8")
        for payload in HOSTILE[:2]:
            assert payload not in text, path
        assert "onerror=alert(1)>" not in text, path
        if path.suffix == ".html":
            tree = strict_html5(data)
            assert tree.findall(".//script") == [], path
            assert {img.get("src") for img in tree.iter("img")} <= {"https://img.example.com/a.jpg?a=1&b=2"}, path
            assert not [el for el in tree.iter() if any(name.startswith("on") for name in el.attrib)], path
            assert text.count("<main") == 1, path
    doc = html.fromstring(pages[PurePosixPath("all/index.html")])
    assert doc.xpath("string(//article/h2)") == "Title " + " ".join(HOSTILE)
    assert f"Excerpt {' '.join(HOSTILE)} & 'quotes'" in doc.xpath("string(//article)")
    assert doc.xpath("//img/@alt")[0] == "Alt " + " ".join(HOSTILE)
    outlines = etree.fromstring(pages[OPML]).xpath("//outline[@type='rss']/@text")
    assert f"Test Feeds: Topic {' '.join(HOSTILE)}" in outlines


def test_opml_is_opml_2_and_lists_every_feed_once(pages, feeds, manifest, seed_site: Site) -> None:  # type: ignore[no-untyped-def]
    root = etree.fromstring(pages[OPML])
    assert (root.tag, root.get("version")) == ("opml", "2.0")
    assert root.findtext("head/title") == seed_site.title
    newest = max(f.updated for f in feeds if f.updated is not None)
    assert parsedate_to_datetime(root.findtext("head/dateModified") or "") == newest
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == ["All stories", "Topics", "Providers"]
    kinds = {"All stories": "all", "Topics": "topic", "Providers": "provider"}
    listed = []
    for group in groups:
        for outline in group.findall("outline"):
            entry = manifest[outline.get("htmlUrl").removeprefix(seed_site.base_url).removesuffix("/index.html")]
            assert entry["kind"] == kinds[group.get("text")]
            assert outline.get("type") == "rss"
            assert outline.get("xmlUrl") == entry["urls"]["rss"]
            assert outline.get("text") == outline.get("title")
            listed.append(outline.get("xmlUrl"))
    assert sorted(listed) == sorted(self_url(f, seed_site, Format.RSS) for f in feeds)


def test_listparser_reads_the_opml(pages, feeds, seed_site: Site) -> None:  # type: ignore[no-untyped-def]
    result = listparser.parse(pages[OPML])
    assert not result.bozo, result.bozo_exception
    assert result.version == "opml2"
    assert result.meta.title == seed_site.title
    assert len(result.feeds) == len(feeds)
    assert sorted(f.url for f in result.feeds) == sorted(self_url(f, seed_site, Format.RSS) for f in feeds)


def transform(pages: dict[PurePosixPath, bytes], feed_bytes: bytes) -> bytes:
    xslt = etree.XSLT(etree.fromstring(pages[XSL]))
    return bytes(xslt(etree.fromstring(feed_bytes)))


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_xsl_turns_rss_and_atom_into_a_readable_page(pages, feeds, built, name: str) -> None:  # type: ignore[no-untyped-def]
    out, _ = built
    everything = feeds[0]
    result = transform(pages, (out / "all" / name).read_bytes())
    strict_html5(result)
    doc = html.fromstring(result)
    assert doc.get("lang") == "en"
    assert doc.xpath("string(//h1)") == "Newsroom Feeds"
    assert XSL_NOTE in doc.xpath("string(//p[@class='note'])")
    assert doc.xpath("string(//code)") == f"https://feeds.example.org/all/{name}"
    articles = doc.xpath("//article")
    assert [(a.xpath("string(h2)"), a.xpath("h2/a/@href")[0]) for a in articles] == [
        (r.title, r.url) for r in everything.entries
    ]
    for article, record in zip(articles, everything.entries, strict=True):
        assert (record.excerpt or "") == article.xpath("string(p[2])").strip()
    assert not doc.xpath("//script")


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
def test_xsl_shows_markup_in_a_feed_as_text(fmt: Format) -> None:
    feeds = hostile_feeds()
    result = transform(hostile_pages(), render(feeds[0], SITE, fmt))
    strict_html5(result)
    assert SCRIPT.encode() not in result and BREAKOUT.encode() not in result
    doc = html.fromstring(result)
    assert not doc.xpath("//script | //img | //@*[starts-with(name(), 'on')]")
    assert doc.xpath("string(//article/h2)") == "Title " + " ".join(HOSTILE)
    assert doc.xpath("string(//article/p[2])").strip() == f"Excerpt {' '.join(HOSTILE)} & 'quotes'"


# ---- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


@pytest.fixture(scope="module")
def site_root(pages, built, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The pages served by ``feeds serve`` on a free port, plus a copy of all/rss.xml to style.

    Chromium shows application/rss+xml as text, so the styled copy is named
    styled.xml, which the server sends as XML, the way a browser applies XSLT.
    """
    root = tmp_path_factory.mktemp("site")
    for path, data in pages.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    rss = re.sub(rb"<\?xml-stylesheet[^>]*\?>\s*", b"", (built[0] / "all" / "rss.xml").read_bytes())
    declaration, rest = rss.split(b"?>", 1)
    pi = b'\n<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>'
    (root / "all" / "styled.xml").write_bytes(declaration + b"?>" + pi + rest)
    server = make_server(root, "127.0.0.1", 0, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    command = [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


SHOTS = {"index.html": "index.png", "topics/ai/index.html": "topic.png", "all/styled.xml": "rss-xslt.png"}


@pytest.mark.parametrize("page", SHOTS)
def test_chromium_renders_the_pages(site_root, feeds, manifest, page: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = site_root
    started = time.monotonic()
    shot = tmp_path / "page.png"
    chromium(base + page, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and shot.stat().st_size > 10_000
    if keep := os.environ.get("FEEDS_SCREENSHOTS"):  # e.g. FEEDS_SCREENSHOTS=/tmp to look at them
        shutil.copy(shot, Path(keep) / SHOTS[page])
    dom = html.fromstring(chromium(base + page, tmp_path / "profile", "--dump-dom").stdout)
    print(f"{page}: screenshot and DOM in {time.monotonic() - started:.1f}s")
    folder = str(PurePosixPath(page).parent)
    if page == "index.html":
        assert alternates(dom) == sorted(
            [*expected_alternates(manifest["all"]), ("text/x-opml", SITE.url("feeds.opml"))]
        )
        listed = dom.xpath("//main//li/h3/a")
        assert [a.text_content() for a in listed] == [f.name for f in feeds]
        assert [a.get("href") for a in listed] == [f"{f.key.folder}/index.html" for f in feeds]
    elif page.endswith(".html"):
        assert alternates(dom) == expected_alternates(manifest[folder])
        [feed] = [f for f in feeds if str(f.key.folder) == folder]
        assert [a.text_content() for a in dom.xpath("//main/article/h2/a")] == [r.title for r in feed.entries]
    else:  # the browser applied feed.xsl to the feed
        assert dom.xpath("string(//h1)") == "Newsroom Feeds", "Chromium did not apply feed.xsl (XSLT unsupported?)"
        assert [a.text_content() for a in dom.xpath("//article/h2/a")] == [r.title for r in feeds[0].entries]


def test_every_page_names_the_favicon(pages: dict[PurePosixPath, bytes], seed_site: Site) -> None:
    assert seed_site.favicon is not None
    for path, data in pages.items():
        if path.suffix == ".html":
            assert html.fromstring(data).xpath("/html/head/link[@rel='icon']/@href") == [seed_site.favicon], path
