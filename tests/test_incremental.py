"""Builds for cron: parse cache, render only what changed, atomic writes, one build at a time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds.errors import BusyError, OutputError
from feeds.fetching import Fetcher
from feeds.model import Problem, Site
from feeds.publish import build, store_key
from feeds.records import MAX_FILE_BYTES
from feeds.store import FILE, Store
from feeds.writing import build_lock

from .conftest import NOW, SEEDS, record_file

SITE = Site(title="Cron", base_url="https://feeds.example.org/")


def story(n: int, topic: str = "AI", when: str = "2025-03-14T08:15:00Z", **extra: str) -> bytes:
    fields = f"title: Story {n}\nsourceUrl: https://news.example.com/{n}\npublishedDateTime: {when}\npublished: true\ntopics: [{topic}]\n"
    return record_file(fields + "".join(f"{k}: {v}\n" for k, v in extra.items()))


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes())
        for p in folder.rglob("*")
        if p.is_file()
    }


def age(folder: Path, seconds: int = 60) -> None:
    """Make files look older than the cache, as they are in real use."""
    past = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (past, past))


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    seeds, out, cache = tmp_path / "seeds", tmp_path / "out", tmp_path / "cache"
    seeds.mkdir()
    for n in range(6):
        (seeds / f"{n}.txt").write_bytes(story(n, topic="AI" if n % 2 else "Space", when=f"2025-03-1{n}T08:00:00Z"))
    age(seeds)
    return seeds, out, cache


def test_a_second_build_parses_nothing_and_writes_nothing(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    first = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert (first.parsed, first.reused) == (6, 0)
    before = snapshot(out)
    again = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert (again.parsed, again.reused, again.written) == (0, 6, ())
    assert snapshot(out) == before
    assert again.summary() == first.summary().replace(
        f"{len(first.written)} files written, 0", "0 files written, " + str(len(before))
    )


def test_an_edited_record_rewrites_only_the_feeds_it_is_in(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    before = snapshot(out)
    (seeds / "1.txt").write_bytes(story(1, topic="AI", when="2025-03-11T08:00:00Z").replace(b"Story 1", b"Story one"))
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 1
    assert set(report.feeds_changed) == {"all", "topics/ai", "providers/news-example-com"}
    after = snapshot(out)
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {
        f"{folder}/{name}"
        for folder in report.feeds_changed
        for name in ("rss.xml", "atom.xml", "feed.json", "index.html")
    }
    assert after["topics/space/rss.xml"] == before["topics/space/rss.xml"]  # same mtime and inode too


def test_an_added_and_a_deleted_record(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    (seeds / "9.txt").write_bytes(story(9, topic="Climate"))
    (seeds / "0.txt").unlink()
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert (report.parsed, report.reused, report.read) == (1, 5, 6)
    feed = json.loads((out / "topics" / "climate" / "feed.json").read_text(encoding="utf-8"))
    assert [item["id"] for item in feed["items"]] == ["https://news.example.com/9"]
    assert "https://news.example.com/0" not in (out / "all" / "rss.xml").read_text(encoding="utf-8")


def test_a_topic_that_loses_its_last_story_keeps_a_valid_empty_feed(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    for n in (0, 2, 4):  # every Space story
        (seeds / f"{n}.txt").write_bytes(story(n, topic="Space").replace(b"published: true", b"published: false"))
    build(seeds, out, SITE, NOW, cache_dir=cache)
    space = json.loads((out / "topics" / "space" / "feed.json").read_text(encoding="utf-8"))
    assert space["items"] == []
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {f["slug"]: f["items"] for f in manifest["feeds"]}["space"] == 0


def test_a_touched_but_unchanged_file_changes_nothing(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    before = snapshot(out)
    os.utime(seeds / "3.txt")
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 1 and report.written == ()
    assert snapshot(out) == before


def test_files_rewritten_with_the_same_bytes_are_read_but_plan_nothing(
    tree: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter that writes every file again each run: each is read, and the build ends there."""
    import feeds.publish as publish

    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    before = snapshot(out)
    for path in seeds.iterdir():
        path.write_bytes(path.read_bytes())

    def no_plan(*args: object, **kwargs: object) -> None:
        raise AssertionError("planned although no record changed")

    monkeypatch.setattr(publish, "plan", no_plan)
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 6 and report.written == ()
    assert snapshot(out) == before


def test_an_edit_that_keeps_size_and_mtime_is_caught_while_it_is_racy(tree: tuple[Path, Path, Path]) -> None:
    """A coarse filesystem clock can give an edit the mtime of the version that was cached."""
    seeds, out, cache = tree
    target = seeds / "3.txt"
    os.utime(target)  # edited just now...
    build(seeds, out, SITE, NOW, cache_dir=cache)  # ...and cached in the same moment
    stat = target.stat()
    target.write_bytes(target.read_bytes().replace(b"Story 3", b"Story X"))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 1
    assert "Story X" in (out / "all" / "rss.xml").read_text(encoding="utf-8")


@pytest.mark.parametrize("damage", [b"", b"\x00garbage", b"not a database at all" * 100, None])
def test_a_corrupt_cache_is_rebuilt_not_trusted(tree: tuple[Path, Path, Path], damage: bytes | None) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    blob = (cache / FILE).read_bytes()
    (cache / FILE).write_bytes(blob[: len(blob) // 2] if damage is None else damage)
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 6 and report.written == ()
    assert any("the cache was started again" in warning for warning in report.warnings)
    assert build(seeds, out, SITE, NOW, cache_dir=cache).parsed == 0  # and it is whole again


def test_another_release_or_size_limit_invalidates_the_cache(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    kept = Store.open(cache, store_key(MAX_FILE_BYTES))
    assert not kept.fresh
    kept.close()
    other = Store.open(cache, store_key(10))
    assert other.fresh and other.warning is None  # quietly made anew: not a fault
    other.close()


def test_a_changed_config_rerenders_every_feed(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    first = build(seeds, out, SITE, NOW, cache_dir=cache)
    again = build(seeds, out, Site(title="Renamed", base_url=SITE.base_url), NOW, cache_dir=cache)
    assert again.parsed == 0
    assert set(again.written) == set(first.written) - {"feed.xsl"}  # the stylesheet does not name the site


def test_scheduled_records_appear_on_the_first_build_after_their_time(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    (seeds / "later.txt").write_bytes(story(7, when="2027-01-01T00:00:00Z"))
    age(seeds)
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.scheduled == 1 and report.next_due == datetime(2027, 1, 1, tzinfo=UTC)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["next_due"] == "2027-01-01T00:00:00Z"
    assert "news.example.com/7" not in (out / "all" / "feed.json").read_text(encoding="utf-8")
    later = build(seeds, out, SITE, datetime(2027, 1, 1, 0, 1, tzinfo=UTC), cache_dir=cache)
    assert later.parsed == 0 and later.scheduled == 0
    assert "news.example.com/7" in (out / "all" / "feed.json").read_text(encoding="utf-8")


def test_a_deleted_output_file_is_written_again(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    (out / "topics" / "ai" / "atom.xml").unlink()
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.written == ("topics/ai/atom.xml",)


def test_one_build_at_a_time(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    with build_lock(out):
        started = time.monotonic()
        with pytest.raises(BusyError, match="another build is running"):
            build(seeds, out, SITE, NOW, cache_dir=cache, wait=0.3)
        assert time.monotonic() - started >= 0.3
    assert build(seeds, out, SITE, NOW, cache_dir=cache).written


KILLER = """
import os, sys
from pathlib import Path
from datetime import datetime, UTC
import feeds.publish as publish
import feeds.writing as writing
from feeds.model import Site
stage, die_at = sys.argv[4], int(sys.argv[5])
count = 0
real_write, real_replace = writing.write_file, writing.os.replace
def counting(real):
    def call(*args):
        global count
        count += 1
        if count == die_at:
            if stage == "stage":  # half of the new bytes reach the temporary file, then the process dies
                target, data = args
                with open(target, "wb") as stream:
                    stream.write(data[: len(data) // 2])
            os.kill(os.getpid(), 9)
        return real(*args)
    return call
if stage == "stage":
    writing.write_file = counting(real_write)
else:
    writing.os.replace = counting(real_replace)
publish.build(Path(sys.argv[1]), Path(sys.argv[2]), Site(title=sys.argv[3], base_url="https://feeds.example.org/"),
              datetime(2026, 11, 26, tzinfo=UTC), cache_dir=Path(sys.argv[2]).parent / "cache")
"""


@pytest.mark.parametrize(
    ("stage", "die_at"), [("stage", 1), ("stage", 20), ("commit", 1), ("commit", 5), ("commit", 20)]
)
def test_a_build_killed_mid_write_leaves_every_file_old_or_new(tmp_path: Path, stage: str, die_at: int) -> None:
    """Killed while staging, a build changed nothing a reader sees; killed while renaming, each file is old or new.

    Either way the next build finishes the work, cleans up, and announces every feed that changed.
    """
    out = tmp_path / "out"
    old_site = Site(title="Old", base_url="https://feeds.example.org/")
    build(SEEDS, out, old_site, NOW, cache_dir=tmp_path / "cache")
    old = {k: v[2] for k, v in snapshot(out).items()}
    args = [sys.executable, "-c", KILLER, str(SEEDS), str(out), "New", stage, str(die_at)]
    killed = subprocess.run(args, check=False)
    assert killed.returncode == -signal.SIGKILL
    fresh = tmp_path / "fresh"
    build(SEEDS, fresh, Site(title="New", base_url="https://feeds.example.org/"), NOW)
    new = {k: v[2] for k, v in snapshot(fresh).items()}
    now = {k: v[2] for k, v in snapshot(out).items() if not Path(k).name.startswith(".")}
    assert set(now) == set(old)
    assert all(now[k] in (old[k], new[k]) for k in now)
    assert sum(now[k] == new[k] != old[k] for k in now) == (0 if stage == "stage" else die_at - 1)
    report = build(
        SEEDS, out, Site(title="New", base_url="https://feeds.example.org/"), NOW, cache_dir=tmp_path / "cache"
    )
    assert {k: v[2] for k, v in snapshot(out).items()} == new  # finished, and no temporary file left
    assert len(report.urls_changed) == 3 * len(report.feeds_changed) == 3 * 23  # every feed announced once
    shutil.rmtree(out)


def test_records_kept_in_the_cache_are_never_stale(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    target = seeds / "1.txt"
    target.write_bytes(target.read_bytes().replace(b"Story 1", b"Story one"))
    age(seeds)
    build(seeds, out, SITE, NOW, cache_dir=cache)
    # a new setting re-renders everything from the cached records, parsing nothing
    report = build(seeds, out, replace(SITE, title="Renamed"), NOW, cache_dir=cache)
    assert report.parsed == 0
    text = (out / "all" / "rss.xml").read_text(encoding="utf-8")
    assert "Story one" in text and "Story 1<" not in text


def test_a_cold_build_of_many_files_parses_in_two_processes(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n in range(1_200):
        (seeds / f"{n:04d}.txt").write_bytes(story(n, topic=f"T{n % 7}"))
    serial = build(seeds, tmp_path / "a", SITE, NOW, workers=1)
    parallel = build(seeds, tmp_path / "b", SITE, NOW, cache_dir=tmp_path / "cache", workers=2)
    assert serial.summary() == parallel.summary()
    assert {k: v[2] for k, v in snapshot(tmp_path / "a").items()} == {
        k: v[2] for k, v in snapshot(tmp_path / "b").items()
    }


def test_a_lost_cache_means_parsing_everything_again(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    (cache / FILE).unlink()
    (seeds / "0.txt").write_bytes(story(0, topic="Space", when="2025-03-10T09:00:00Z"))
    age(seeds)
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert report.parsed == 6 and report.read == 6
    assert "2025-03-10T09:00:00Z" in (out / "topics" / "space" / "feed.json").read_text(encoding="utf-8")


def test_rendering_in_two_processes_gives_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.outputs as outputs

    serial = build(SEEDS, tmp_path / "a", SITE, NOW, workers=1)
    monkeypatch.setattr(outputs, "PARALLEL_RENDER", 1)
    parallel = build(SEEDS, tmp_path / "b", SITE, NOW, workers=2)
    assert serial.written == parallel.written
    assert {k: v[2] for k, v in snapshot(tmp_path / "a").items()} == {
        k: v[2] for k, v in snapshot(tmp_path / "b").items()
    }


def test_the_build_after_a_change_is_followed_by_a_quiet_one(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    (seeds / "2.txt").unlink()
    assert build(seeds, out, SITE, NOW, cache_dir=cache).timings["select"] > 0
    quiet = build(seeds, out, SITE, NOW, cache_dir=cache)  # answered from the last build's state
    assert (quiet.timings["select"], quiet.timings["render"], quiet.written) == (0.0, 0.0, ())


def test_an_edit_fetches_only_the_records_of_the_feeds_it_renders_again(
    tree: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds, out, cache = tree
    two = replace(SITE, max_items=2)  # all: 5, 4; topic AI: 5, 3; topic Space: 4, 2; the provider: 5, 4
    build(seeds, out, two, NOW, cache_dir=cache)
    fetched: list[str] = []
    complete = Fetcher.complete

    def recording(self: Fetcher, drafts: list[Any], *rest: Any) -> Any:
        fetched.extend(dict.fromkeys(entry.path for draft in drafts for entry in draft.entries))
        return complete(self, drafts, *rest)

    monkeypatch.setattr(Fetcher, "complete", recording)
    target = seeds / "3.txt"
    target.write_bytes(target.read_bytes().replace(b"Story 3", b"Story three"))
    age(seeds)
    report = build(seeds, out, two, NOW, cache_dir=cache)
    assert report.feeds_changed == ("topics/ai",)
    assert sorted(Path(path).name for path in fetched) == ["3.txt", "5.txt"]
    assert "Story three" in (out / "topics" / "ai" / "rss.xml").read_text(encoding="utf-8")
    fetched.clear()
    report = build(seeds, out, replace(two, title="Renamed"), NOW, cache_dir=cache)  # every feed, from the cache
    assert report.parsed == 0 and len(fetched) == 4  # kept from earlier builds; 0.txt and 1.txt are in no feed


@pytest.mark.parametrize("link", ["topics", "all/rss.xml"])
def test_a_symbolic_link_never_leads_a_write_out_of_the_folder(tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rss.xml").write_text("keep me")
    out = tmp_path / "out"
    (out / "all").mkdir(parents=True)
    (out / link).symlink_to(outside if link == "topics" else outside / "rss.xml")
    with pytest.raises(OutputError, match="resolves outside"):
        build(SEEDS, out, SITE, NOW)
    assert sorted(p.name for p in outside.iterdir()) == ["rss.xml"]
    assert (outside / "rss.xml").read_text() == "keep me"


def test_files_are_readable_by_the_web_server_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        build(SEEDS, tmp_path / "out", SITE, NOW)
    finally:
        os.umask(old)
    modes = {p.stat().st_mode & 0o777 for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert modes == {0o644}
    assert not list((tmp_path / "out").rglob(".*.tmp"))


def test_a_cache_lost_while_nothing_changed_is_rebuilt_not_published_empty(tree: tuple[Path, Path, Path]) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    (cache / FILE).unlink()
    renamed = replace(SITE, title="Renamed")  # not a quiet build, though no record file changed
    report = build(seeds, out, renamed, NOW, cache_dir=cache)
    assert (report.parsed, report.published) == (6, 6) and (cache / FILE).exists()
    assert len(json.loads((out / "all" / "feed.json").read_text(encoding="utf-8"))["items"]) == 6
    again = build(seeds, out, replace(renamed, title="Again"), NOW, cache_dir=cache)
    assert (again.parsed, again.published) == (0, 6)


@pytest.mark.parametrize("cached", [False, True])
def test_a_dangling_link_is_skipped_alike_by_cold_and_warm_reads(tree: tuple[Path, Path, Path], cached: bool) -> None:
    seeds, out, cache = tree
    if cached:
        build(seeds, out, SITE, NOW, cache_dir=cache)
    (seeds / "9.txt").symlink_to(seeds / "missing.txt")
    report = build(seeds, out, SITE, NOW, cache_dir=cache, strict=True)
    assert (report.read, report.problems) == (6, ())


def test_a_build_that_dies_mid_commit_is_finished_and_announced_by_the_next(
    tree: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds, out, cache = tree
    build(seeds, out, SITE, NOW, cache_dir=cache)
    target = seeds / "1.txt"
    target.write_bytes(target.read_bytes().replace(b"Story 1", b"Story one"))
    age(seeds)
    real = os.replace

    def dies_after_the_all_feed(source: Any, destination: Any) -> None:
        if "/all/" not in str(destination):
            raise KeyboardInterrupt("killed")
        real(source, destination)

    import feeds.writing as writing

    monkeypatch.setattr(writing.os, "replace", dies_after_the_all_feed)
    with pytest.raises(KeyboardInterrupt):
        build(seeds, out, SITE, NOW, cache_dir=cache)
    monkeypatch.setattr(writing.os, "replace", real)
    assert "Story one" in (out / "all" / "rss.xml").read_text(encoding="utf-8")  # renamed before it died
    assert "Story one" not in (out / "topics" / "ai" / "rss.xml").read_text(encoding="utf-8")
    report = build(seeds, out, SITE, NOW, cache_dir=cache)
    assert SITE.url("all/rss.xml") in report.urls_changed  # still announced to WebSub hubs
    assert {"all", "topics/ai", "providers/news-example-com"} <= set(report.feeds_changed)
    assert "Story one" in (out / "topics" / "ai" / "rss.xml").read_text(encoding="utf-8")
    assert not list(out.rglob(".*.tmp"))
    assert build(seeds, out, SITE, NOW, cache_dir=cache).urls_changed == ()


def test_a_new_archive_page_is_written_before_the_feed_that_links_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files go into place in link order, whatever order they were made in."""
    site = replace(SITE, archives=True, max_items=2, archive_page_size=2)
    out = tmp_path / "out"
    renamed: list[str] = []
    real = os.replace

    def recording(source: str | Path, target: str | Path) -> None:
        if Path(target).is_relative_to(out):
            renamed.append(Path(target).relative_to(out).as_posix())
        real(source, target)

    monkeypatch.setattr(os, "replace", recording)
    build(SEEDS, out, site, NOW)
    assert any("/archive/" in path for path in renamed)
    for path in renamed:
        if "/archive/" in path:
            head = path.split("/archive/")[0] + "/" + path.rsplit("/", 1)[1]
            assert renamed.index(path) < renamed.index(head), path
    assert renamed.index("index.html") > max(i for i, p in enumerate(renamed) if p.endswith(".xml"))
    assert renamed[-1] == "manifest.json"


def test_an_edit_in_the_same_clock_tick_during_a_long_build_is_caught(
    tree: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The racy-mtime rule judges mtimes by when the build began to read, not by when it saved."""
    import feeds.reading as cache_module

    seeds, out, cache = tree
    target = seeds / "1.txt"
    target.write_bytes(target.read_bytes())  # written just now, as an editor would
    real_read, real_clock = cache_module.read_raw, cache_module.time.time_ns
    late = [0]

    def read_then_edit(path: str, max_bytes: int) -> bytes | Problem:
        raw = real_read(path, max_bytes)
        if path == str(target) and isinstance(raw, bytes):  # edited again in the same clock tick
            stat = target.stat()
            target.write_bytes(raw.replace(b"Story 1", b"Story 7"))
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            late[0] = 10_000_000_000  # and the build goes on for 10 s more
        return raw

    monkeypatch.setattr(cache_module, "read_raw", read_then_edit)
    monkeypatch.setattr(cache_module.time, "time_ns", lambda: real_clock() + late[0])
    build(seeds, out, SITE, NOW, cache_dir=cache)
    monkeypatch.undo()
    build(seeds, out, SITE, NOW, cache_dir=cache)
    assert "Story 7" in (out / "all" / "rss.xml").read_text(encoding="utf-8")
