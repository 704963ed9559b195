"""The byte budget (max_feed_bytes): no feed document past it, the newest entries kept, nothing lost with archives."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds.cli import main
from feeds.config import ConfigError, load_site
from feeds.links import is_archive_page, is_feed_document
from feeds.model import Format, Site
from feeds.publish import build

from .conftest import NOW, SITE, make_record, tree, write_records

BUDGET = 8192
LONG = "A long excerpt that a reader shows in full. " * 12  # about 540 bytes an entry, in each format


def records(count: int, start: int = 0) -> list:
    """``count`` records, one a day back from NOW, two topics, two providers; the newest first."""
    made = []
    for n in range(start, start + count):
        made.append(
            make_record(
                path=f"records/{n:04d}.txt",
                title=f"Story {n}",
                url=f"https://news.example.com/{n}",
                published_at=NOW - timedelta(days=n + 1),
                excerpt=LONG,
                topics=("Chips" if n % 2 else "Energy",),
            )
        )
    return made


def feeds_of(out: Path) -> dict[str, bytes]:
    return {str(path): data for path, data in tree(out).items() if is_feed_document(str(path))}


def ids(document: bytes, fmt: Format) -> list[str]:
    if fmt is Format.JSON:
        return [item["id"] for item in json.loads(document)["items"]]
    return [entry.id for entry in feedparser.parse(document).entries]


def walked(out: Path, site: Site, fmt: Format) -> list[str]:
    """The ids a client sees walking prev-archive (JSON Feed: next_url) from the "all" feed."""
    seen: list[str] = []
    url: str | None = site.url(f"all/{fmt.value}")
    while url:
        data = (out / url.removeprefix(site.base_url)).read_bytes()
        seen += ids(data, fmt)
        if fmt is Format.JSON:
            url = json.loads(data).get("next_url")
        else:
            older = [link.href for link in feedparser.parse(data).feed.links if link.rel == "prev-archive"]
            url = older[0] if older else None
    return seen


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("budget")
    write_records(folder / "records", records(40))
    site = replace(SITE, max_items=40, max_feed_bytes=BUDGET)
    return folder / "out", build(folder / "records", folder / "out", site, NOW)


def test_no_feed_document_exceeds_the_budget(cut: tuple[Path, object]) -> None:
    out, _ = cut
    documents = feeds_of(out)
    assert len(documents) == 3 * 4  # all, two topics and one provider, in three formats
    assert max(map(len, documents.values())) <= BUDGET
    assert len((out / "all" / "rss.xml").read_bytes()) > BUDGET // 2  # cut to fit, not emptied


def test_every_format_keeps_the_same_newest_entries(cut: tuple[Path, object]) -> None:
    out, _ = cut
    kept = {fmt: ids((out / "all" / fmt.value).read_bytes(), fmt) for fmt in Format}
    assert len({tuple(value) for value in kept.values()}) == 1
    newest = [f"https://news.example.com/{n}" for n in range(len(kept[Format.JSON]))]
    assert kept[Format.JSON] == newest
    assert 0 < len(newest) < 40


def test_the_report_names_each_feed_cut_and_by_how_much(cut: tuple[Path, object]) -> None:
    out, report = cut
    folders = {feed: (entries, total) for feed, entries, total in report.cut}  # type: ignore[attr-defined]
    assert folders["all"][1] == 40
    assert folders["all"][0] == len(ids((out / "all" / "feed.json").read_bytes(), Format.JSON))
    assert report.as_json()["cut"][0].keys() == {"feed", "entries", "of"}  # type: ignore[attr-defined]
    assert "feeds cut to fit max_feed_bytes" in report.summary()  # type: ignore[attr-defined]


def test_without_a_budget_nothing_is_cut(tmp_path: Path) -> None:
    write_records(tmp_path / "records", records(40))
    report = build(tmp_path / "records", tmp_path / "out", replace(SITE, max_items=40), NOW)
    assert report.cut == ()
    assert len(ids((tmp_path / "out" / "all" / "feed.json").read_bytes(), Format.JSON)) == 40


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("count", [60, 20])  # 20: the feed could hold them all, so only the budget needs a page
def test_with_archives_the_entries_let_go_are_in_the_archive_pages_once(
    tmp_path: Path, fmt: Format, count: int
) -> None:
    write_records(tmp_path / "records", records(count))
    site = replace(SITE, max_items=30, archives=True, archive_page_size=10, max_feed_bytes=BUDGET)
    out = tmp_path / "out"
    build(tmp_path / "records", out, site, NOW)
    seen = walked(out, site, fmt)
    assert sorted(seen) == sorted(f"https://news.example.com/{n}" for n in range(count))
    assert len(seen) == count


def test_full_archive_pages_stay_as_they_were_when_the_feed_is_cut(tmp_path: Path) -> None:
    """The entries let go join the newest page only, so full pages keep their bytes (they are cached as immutable)."""
    site = replace(SITE, max_items=30, archives=True, archive_page_size=10)
    write_records(tmp_path / "records", records(60))
    build(tmp_path / "records", tmp_path / "plain", site, NOW)
    build(tmp_path / "records", tmp_path / "cut", replace(site, max_feed_bytes=BUDGET), NOW)
    plain, budgeted = tree(tmp_path / "plain"), tree(tmp_path / "cut")
    full = [path for path in plain if is_archive_page(str(path)) and "/archive/1/" in str(path)]
    assert full
    for path in full:
        assert budgeted[path] == plain[path], path


def test_incremental_builds_with_a_budget_equal_a_clean_build(tmp_path: Path) -> None:
    """Records arrive one by one (the newest pushes others out of the feed) and the budget changes."""
    folder, out, cache = tmp_path / "records", tmp_path / "out", tmp_path / "cache"
    site = replace(SITE, max_items=20, archives=True, archive_page_size=6, max_feed_bytes=BUDGET)
    write_records(folder, records(30, start=10))
    build(folder, out, site, NOW, cache_dir=cache)
    steps = [(site, n) for n in range(9, 5, -1)] + [(replace(site, max_feed_bytes=3 * BUDGET), 5)]
    for step_site, n in steps:
        write_records(folder, records(1, start=n))
        build(folder, out, step_site, NOW, cache_dir=cache)
        clean = tmp_path / f"clean-{n}"
        build(folder, clean, step_site, NOW)
        assert tree(out) == tree(clean), n


def test_a_budget_below_a_useful_size_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("title: T\nbase_url: https://feeds.example.org/\nmax_feed_bytes: 1000\n")
    with pytest.raises(ConfigError, match="max_feed_bytes: must be a whole number of bytes, at least 4096"):
        load_site(config)
    config.write_text("title: T\nbase_url: https://feeds.example.org/\nmax_feed_bytes: 512000\n")
    assert load_site(config).max_feed_bytes == 512000


def test_the_cli_says_which_feeds_were_cut(tmp_path: Path) -> None:
    write_records(tmp_path / "records", records(40))
    config = tmp_path / "feeds.yaml"
    config.write_text(f"title: T\nbase_url: https://feeds.example.org/\nmax_items: 40\nmax_feed_bytes: {BUDGET}\n")
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(tmp_path / "records"),
            "-o",
            str(tmp_path / "out"),
            "--config",
            str(config),
            "--now",
            NOW.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "feeds cut to fit max_feed_bytes" in result.output


def test_the_page_that_takes_the_let_go_entries_is_as_new_as_they_are(tmp_path: Path) -> None:
    write_records(tmp_path / "records", records(33))
    site = replace(SITE, max_items=30, archives=True, archive_page_size=10, max_feed_bytes=BUDGET)
    build(tmp_path / "records", tmp_path / "out", site, NOW)
    page = json.loads((tmp_path / "out" / "all" / "archive" / "1" / "feed.json").read_bytes())
    feed = json.loads((tmp_path / "out" / "all" / "feed.json").read_bytes())
    kept = len(feed["items"])
    assert page["items"][0]["id"] == f"https://news.example.com/{kept}"  # the newest let go, first
    parsed = feedparser.parse((tmp_path / "out" / "all" / "archive" / "1" / "atom.xml").read_bytes())
    assert parsed.feed.updated_parsed == parsed.entries[0].updated_parsed


def test_the_feeds_page_lists_what_the_feed_kept(cut: tuple[Path, object]) -> None:
    out, _ = cut
    kept = len(ids((out / "all" / "feed.json").read_bytes(), Format.JSON))
    page = (out / "all" / "index.html").read_text()
    assert page.count("https://news.example.com/") == kept
    assert f"The newest {kept} of 40." in page


def test_removing_the_budget_gives_a_clean_builds_tree(tmp_path: Path) -> None:
    folder, out, cache = tmp_path / "records", tmp_path / "out", tmp_path / "cache"
    write_records(folder, records(20))
    site = replace(SITE, max_items=20, max_feed_bytes=BUDGET)
    assert build(folder, out, site, NOW, cache_dir=cache).cut
    unlimited = replace(site, max_feed_bytes=None)
    report = build(folder, out, unlimited, NOW, cache_dir=cache)
    assert report.cut == ()
    build(folder, tmp_path / "clean", unlimited, NOW)
    assert tree(out) == tree(tmp_path / "clean")
    assert build(folder, out, unlimited, NOW, cache_dir=cache).cut == ()


def test_the_cut_is_reported_alike_by_a_build_with_nothing_to_do(tmp_path: Path) -> None:
    folder, out, cache = tmp_path / "records", tmp_path / "out", tmp_path / "cache"
    write_records(folder, records(20))
    for path in folder.iterdir():  # old enough for the next build to trust what it saw
        os.utime(path, (path.stat().st_atime - 3600, path.stat().st_mtime - 3600))
    site = replace(SITE, max_items=20, max_feed_bytes=BUDGET)
    first = build(folder, out, site, NOW, cache_dir=cache)
    second = build(folder, out, site, NOW, cache_dir=cache)
    assert second.written == ()
    assert second.cut == first.cut


def test_a_feed_whose_newest_entry_alone_is_too_large_is_published_empty_and_said_so(tmp_path: Path) -> None:
    huge = replace(records(1)[0], excerpt="x" * 9000)
    write_records(tmp_path / "records", [huge, *records(5, start=1)])
    report = build(tmp_path / "records", tmp_path / "out", replace(SITE, max_feed_bytes=BUDGET), NOW)
    assert ("all", 0, 6) in report.cut
    assert any("all: even its newest entry is larger than max_feed_bytes" in w for w in report.warnings)
