"""What keeps large builds fast and small: the record codec, the shortlist, one worker pool, streamed writes."""

from __future__ import annotations

import json
import marshal
import os
import pickle
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.codec import decode_record, encode_record
from feeds.model import Provider, RelatedLink, Site, from_micros, to_micros
from feeds.publish import build, documents
from feeds.reading import check, read_records
from feeds.selection import Shortlist, topic_key
from feeds.store import FILE, Parsed, Store, url_key
from feeds.store.groups import KINDS, listing_checksum
from feeds.store.schema import checksum
from feeds.workers import Workers

from .conftest import DATA, NOW, SEEDS, documents_of, make_record, record_file

SITE = Site(title="Scale", base_url="https://feeds.example.org/", max_items=3)


def test_every_seed_and_quirk_record_survives_the_codec_exactly() -> None:
    records = [*read_records(SEEDS)[0], *read_records(DATA)[0]]
    assert len(records) > 40
    for record in records:
        assert decode_record(marshal.loads(marshal.dumps(encode_record(record))), record.path) == record


@given(st.tuples(st.text(), st.integers(), st.integers(0, 1), st.integers(), st.text(), st.text()))
def test_a_listing_checksum_is_the_checksum_of_its_values(values: tuple[str, int, int, int, str, str]) -> None:
    assert listing_checksum(*values) == checksum(*values)


def test_a_record_hashes_as_its_fields_however_it_travels() -> None:
    record = make_record(related=(RelatedLink("https://b.example/", "B"),))
    twin = replace(record)
    assert twin is not record and hash(twin) == hash(record) and twin == record
    travelled = pickle.loads(pickle.dumps(record))
    assert travelled == record and {record: 1}[travelled] == 1
    assert replace(record, title="Other") != record


@given(st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC)))  # noqa: DTZ001 - bounds are naive
def test_times_travel_to_the_microsecond(moment: datetime) -> None:
    assert from_micros(to_micros(moment)) == moment


def test_equal_providers_are_shared_after_decoding() -> None:
    provider = Provider("Wire", "wire.example", "https://wire.example/")
    record = make_record(provider=provider, related=(RelatedLink("https://b.example/", "B", None, provider),))
    shared: dict[tuple[str, str, str], Provider] = {}
    first, second = (decode_record(encode_record(record), record.path, shared) for _ in range(2))
    assert first == record and first.provider is second.provider is first.related[0].provider


_TOPICS = st.lists(st.sampled_from(["AI", "ai", "Space", "Climate", "C++", "Ｓpace"]), max_size=3, unique=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400), st.booleans(), _TOPICS, st.sampled_from(["a.example", "b.example", "c.example"])
        ),
        max_size=120,
    ),
    st.integers(1, 6),
)
def test_the_shortlist_keeps_every_record_a_feed_shows(
    specs: list[tuple[int, bool, list[str], str]], limit: int
) -> None:
    records = [
        make_record(
            path=f"r/{n:03d}.txt",
            url=f"https://{provider}/{n}",  # distinct URLs and times: ties and duplicates may cost a parse
            published_at=NOW - timedelta(hours=hours, microseconds=n) + timedelta(days=1 if n % 17 == 0 else 0),
            is_published=published,
            topics=tuple(topics),
            provider=Provider(provider, provider, f"https://{provider}/"),
        )
        for n, (hours, published, topics, provider) in enumerate(specs)
    ]
    shortlist = Shortlist(NOW, limit)
    kept: set[str] = set()
    for record in records:
        kept.add(record.path)
        kept -= set(shortlist.offer(record.listing))
    shown = {
        Path(entry.path).name
        for feed in documents_of(records, replace(SITE, max_items=limit))
        for entry in feed.entries
    }
    assert shown <= {Path(path).name for path in kept}
    # and it holds no more than its heaps allow: one per group (all, topics, providers) times the heap size
    groups = 1 + len({topic_key(t) for r in records for t in r.topics}) + len({r.provider.key for r in records})
    assert len(kept) <= groups * (limit + 8)


def test_the_shortlist_keeps_everything_due_without_a_limit() -> None:
    shortlist = Shortlist(NOW, None)
    listing = make_record(published_at=NOW).listing
    assert shortlist.offer(replace(listing, path="a")) == []
    later = replace(listing, path="b", time=listing.time + 1)
    assert shortlist.offer(later) == ["b"]  # scheduled: not shown yet
    assert shortlist.offer(replace(listing, path="c", is_published=False)) == ["c"]  # unpublished


def _story(n: int, url: str, when: str) -> bytes:
    return record_file(
        f"title: Story {n}\nsourceUrl: {url}\npublishedDateTime: {when}\npublished: true\ntopics: [T{n % 5}]\n"
        f"provider:\n  name: Wire {n % 3}\n  domain: wire{n % 3}.example\n"
    )


def test_a_build_whose_newest_records_are_duplicates_matches_one_that_keeps_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duplicates fill the shortlist's heaps, so records a feed shows are dropped; fetch parses them again."""
    import feeds.reading as reading

    parses: list[int] = []
    parse = reading._parse
    monkeypatch.setattr(
        reading, "_parse", lambda root, todo, *rest: parses.append(len(todo)) or parse(root, todo, *rest)
    )
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n in range(1_100):  # past the size at which parsing goes to the worker processes
        if n < 1_000:
            url, when = f"https://wire.example/{n}", f"2025-03-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
        else:  # the newest hundred files share ten URLs
            url, when = f"https://wire.example/dup{n % 10}", f"2025-04-01T{n % 24:02d}:{n % 60:02d}:00Z"
        (seeds / f"{n:04d}.txt").write_bytes(_story(n, url, when))
    small = replace(SITE, max_items=20)
    shortlisted = build(seeds, tmp_path / "a", small, NOW, cache_dir=tmp_path / "cache", workers=2)
    assert parses[0] == 1_100 and sum(parses[1:]) > 0  # every file, then the shown records it had dropped
    everything = build(seeds, tmp_path / "b", replace(small, archives=True, archive_page_size=10_000), NOW, workers=1)
    assert shortlisted.duplicates == everything.duplicates == 90
    feeds = sorted((tmp_path / "a").rglob("feed.json"))
    assert len(feeds) == 1 + 5 + 3
    for path in feeds:
        mine = json.loads(path.read_text(encoding="utf-8"))["items"]
        theirs = json.loads((tmp_path / "b" / path.relative_to(tmp_path / "a")).read_text(encoding="utf-8"))["items"]
        assert len(mine) == 20 and [item["id"] for item in mine] == [item["id"] for item in theirs], path


def test_a_check_in_the_worker_processes_finds_what_one_process_finds(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n in range(1_150):  # past the size at which parsing goes to the worker processes
        body = _story(n, f"https://wire.example/{n}", f"2025-03-{1 + n % 28:02d}T10:00:00Z")
        if n % 301 == 7:
            body = body.replace(b"title: Story", b"title: [Story")  # not YAML: rejected
        elif n % 401 == 9:
            body = body.replace(b"sourceUrl: https", b"sourceUrl: ftp")  # not a web URL: rejected
        (seeds / f"{n:04d}.txt").write_bytes(body)
    parallel = check(seeds)
    with Workers(1) as one:
        serial = check(seeds, workers=one)
    assert parallel == serial
    assert parallel.files == 1_150
    assert sorted({p.path.rsplit("/", 1)[1] for p in parallel.problems}) == [
        *(f"{n:04d}.txt" for n in sorted({*range(7, 1_150, 301), *range(9, 1_150, 401)}))
    ]


def test_the_manifest_is_written_after_every_feed(tmp_path: Path) -> None:
    build(SEEDS, tmp_path / "out", SITE, NOW, workers=2)
    out = tmp_path / "out"
    manifest = (out / "manifest.json").stat().st_mtime_ns
    assert all(p.stat().st_mtime_ns <= manifest for p in out.rglob("*") if p.is_file())


def test_rendering_in_small_pieces_gives_the_same_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.making as making

    site = replace(SITE, archives=True, archive_page_size=2)
    whole = build(SEEDS, tmp_path / "a", site, NOW, workers=1)
    monkeypatch.setattr(making, "RENDER_CHUNK", 3)  # a few documents at a time: many pieces
    pieces = build(SEEDS, tmp_path / "b", site, NOW, workers=1)
    assert whole.written == pieces.written
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 100
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_the_cache_keeps_the_records_of_feeds_and_newest_archive_pages_only(tmp_path: Path) -> None:
    site = replace(SITE, archives=True, max_items=2, archive_page_size=2)
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for n in range(300):
        (seeds / f"{n:04d}.txt").write_bytes(
            _story(n, f"https://wire.example/{n}", f"2025-03-01T{n % 24:02d}:{n % 60:02d}:00Z")
        )
    for path in seeds.iterdir():  # older than the build, as exports are: not read again for being too new
        os.utime(path, (1e9, 1e9))
    build(seeds, tmp_path / "out", site, NOW, cache_dir=tmp_path / "cache")
    with sqlite3.connect(tmp_path / "cache" / FILE) as db:
        kept = {Path(path).name for (path,) in db.execute("SELECT path FROM records JOIN files ON files.id = file")}
    drafts = documents(seeds, site, NOW)
    recent = {Path(e.path).name for d in drafts if d.page in (None, d.pages) for e in d.entries}
    everything = {Path(e.path).name for d in drafts for e in d.entries}
    assert recent <= kept and len(kept) < len(everything)
    again = build(seeds, tmp_path / "out", replace(site, title="Renamed"), NOW, cache_dir=tmp_path / "cache")
    assert again.parsed == 0 and len(again.written) > 100  # old pages: their records parsed again to render


_URLS = ("https://news.example/1", "https://news.example/2", "https://news.example/3")
_PATHS = ("a.txt", "b/c.txt", "b/d.txt", "e.txt")
_TOPICS = ((), ("AI",), ("AI", "ai", "Space"), ("Space",))  # two spellings of one topic, and none
_PROVIDERS = (("Wire", "wire", "https://wire.example/"), ("The Wire", "wire", "https://wire.example/"))
# (URL, time, published, topics, provider)
_LISTING = st.tuples(
    st.integers(0, 2), st.sampled_from([10, 20, 30]), st.booleans(), st.integers(0, 3), st.integers(0, 1)
)
Spec = tuple[int, int, bool, int, int]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(_PATHS), st.none() | _LISTING, max_size=4), st.sampled_from([15, 25, 35])
        ),
        min_size=1,
        max_size=6,
    )
)
def test_the_visible_set_follows_its_rule_through_any_builds(builds: list[tuple[dict[str, Spec | None], int]]) -> None:
    """Files come, change and go across builds, and "now" moves both ways: after each build exactly the newest
    published, due listing of each URL is visible (equal times: the greater path), with its members, its
    groups' counts and the counts of the names it spells them with."""
    store = Store.open(None, "test")
    files: dict[str, Spec] = {}
    for changes, now in builds:
        store.begin()
        known = {**store.files.in_folder(""), **store.files.in_folder("b")}
        parsed, removed = [], []
        for path, spec in changes.items():
            if spec is None:
                if files.pop(path, None) is not None:
                    removed.append(path)
                continue
            files[path] = spec
            url = _URLS[spec[0]]
            listing = (url, spec[1], spec[2], _TOPICS[spec[3]], _PROVIDERS[spec[4]], url_key(url))
            parsed.append(Parsed(path, 1, 1, repr(spec).encode(), None, listing))
        store.files.change(parsed, removed, known)
        store.visibility.update(from_micros(now))
        store.commit()
        expected = set()
        for url in range(len(_URLS)):
            due = [(spec[1], path) for path, spec in files.items() if spec[0] == url and spec[2] and spec[1] <= now]
            if due:
                expected.add(max(due)[1])
        query = "SELECT f.path FROM listings l JOIN files f ON f.id = l.file WHERE l.visible"
        assert {path for (path,) in store.db.execute(query)} == expected
        assert store.counts.visible == len(expected)
        members: dict[tuple[str, str], list[str]] = {}
        names: dict[tuple[str, str, str], int] = {}
        for path in expected:
            _, _, _, topics, provider = files[path]
            groups = {("all", ""), ("providers", "wire"), *(("topics", topic_key(t)) for t in _TOPICS[topics])}
            for group in groups:
                members.setdefault(group, []).append(path)
            for name in (
                ("providers", "wire", _PROVIDERS[provider][0]),
                *(("topics", topic_key(t), t) for t in _TOPICS[topics]),
            ):
                names[name] = names.get(name, 0) + 1
        rows = store.db.execute(
            "SELECT g.kind, g.key, f.path FROM members m JOIN groups g ON g.id = m.grp JOIN files f ON f.id = m.file"
        )
        found: dict[tuple[str, str], list[str]] = {}
        for kind, key, path in rows:
            found.setdefault((KINDS[kind].value, key), []).append(path)
        assert {group: sorted(paths) for group, paths in found.items()} == {g: sorted(p) for g, p in members.items()}
        assert {(group.kind.value, group.key): group.visible for group in store.groups.all() if group.visible} == {
            group: len(paths) for group, paths in members.items()
        }
        rows = store.db.execute("SELECT g.kind, g.key, n.name, n.count FROM names n JOIN groups g ON g.id = n.grp")
        assert {(KINDS[kind].value, key, name): count for kind, key, name, count in rows} == names
    store.close()
