"""Selection: what is published, in which order, in which feed, under which slug."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds.model import Feed, FeedKey, FeedKind, Provider, Record, Site
from feeds.publish import build
from feeds.report import Report
from feeds.selection import KnownFeed, assign_slugs, slugify, topic_key

from .conftest import SITE, documents_of, make_record, write_records

NOW = datetime(2026, 1, 1, tzinfo=UTC)
T = datetime(2025, 6, 1, tzinfo=UTC)


def selected(records: Iterable[Record], now: datetime = NOW, tmp: Path | None = None) -> tuple[list[Record], Report]:
    """The feed of all records as a build publishes it (every entry), and the build's report."""
    site = replace(SITE, max_items=10_000)
    records = list(records)
    feed = next(f for f in documents_of(records, site, now) if f.key.kind is FeedKind.ALL)
    assert tmp is not None
    write_records(tmp / "records", records)
    return list(feed.entries), build(tmp / "records", tmp / "out", site, now, allow_shrink=True)


def test_only_published_records_whose_time_has_come(tmp_path: Path) -> None:
    records = [
        make_record(url="https://a.example/1"),
        make_record(url="https://a.example/2", is_published=False),
        make_record(url="https://a.example/3", published_at=NOW + timedelta(seconds=1)),
        make_record(url="https://a.example/4", published_at=NOW + timedelta(days=3)),
        make_record(url="https://a.example/5", published_at=NOW),
    ]
    entries, report = selected(records, NOW, tmp_path)
    assert [r.url for r in entries] == ["https://a.example/5", "https://a.example/1"]
    assert (report.unpublished, report.scheduled) == (1, 2)
    assert report.next_due == NOW + timedelta(seconds=1)
    later, report = selected(records, NOW + timedelta(days=3), tmp_path / "later")
    assert len(later) == 4 and report.scheduled == 0


def test_one_entry_per_url_the_newest_wins_whatever_the_order(tmp_path: Path) -> None:
    old = make_record(path="a.txt", title="Old", published_at=T)
    new = make_record(path="b.txt", title="New", published_at=T + timedelta(hours=1))
    for number, records in enumerate(([old, new], [new, old], [replace(old, path="c.txt"), new])):
        entries, report = selected(records, NOW, tmp_path / str(number))
        assert [r.title for r in entries] == ["New"]
        assert report.duplicates == 1 and report.published == 1


def test_equal_times_for_one_url_are_decided_by_path_not_reading_order() -> None:
    a = make_record(path="a.txt", title="From a")
    b = make_record(path="b.txt", title="From b")
    for records in ([a, b], [b, a]):
        assert [r.title for r in documents_of(records)[0].entries] == ["From b"]
    assert [r.title for r in documents_of([replace(a, path="c.txt"), b])[0].entries] == ["From a"]


def test_an_unpublished_or_scheduled_copy_never_replaces_the_published_one() -> None:
    live = make_record(path="a.txt", title="Live")
    hidden = make_record(path="b.txt", title="Hidden", is_published=False, published_at=T + timedelta(days=1))
    later = make_record(path="c.txt", title="Later", published_at=NOW + timedelta(days=1))
    assert [r.title for r in documents_of([live, hidden, later], now=NOW)[0].entries] == ["Live"]
    assert [r.title for r in documents_of([live, hidden, later], now=NOW + timedelta(days=2))[0].entries] == ["Later"]


def test_newest_first_with_ties_broken_by_url() -> None:
    records = [make_record(path=f"{c}.txt", url=f"https://a.example/{c}", published_at=T) for c in "cab"]
    records.append(make_record(path="z.txt", url="https://a.example/z", published_at=T + timedelta(minutes=1)))
    assert [r.url[-1] for r in documents_of(records, now=NOW)[0].entries] == ["z", "a", "b", "c"]


# ---- groups


def feeds_by_slug(records: Iterable[Record], site: Site = SITE, **kwargs: Any) -> dict[tuple[FeedKind, str], Feed]:
    return {(f.key.kind, f.key.slug): f for f in documents_of(records, site, NOW, **kwargs) if f.page is None}


def test_groups_all_topics_and_providers() -> None:
    other = Provider("Harbour Times", "harbour.example.org", "https://harbour.example.org/")
    records = [
        make_record(url="https://a.example/1", topics=("AI", "Computer Vision")),
        make_record(url="https://a.example/2", topics=("computer  vision",), provider=other, published_at=T),
    ]
    feeds = feeds_by_slug(records)
    assert set(feeds) == {
        (FeedKind.ALL, "all"),
        (FeedKind.TOPIC, "ai"),
        (FeedKind.TOPIC, "computer-vision"),
        (FeedKind.PROVIDER, "harbour-example-org"),
        (FeedKind.PROVIDER, "news-example-com"),
    }
    vision = feeds[(FeedKind.TOPIC, "computer-vision")]
    assert vision.name == "Computer Vision"
    assert [r.url for r in vision.entries] == ["https://a.example/2", "https://a.example/1"]
    assert vision.entries[0].topics == ("Computer Vision",)  # one spelling in every feed
    assert feeds[(FeedKind.PROVIDER, "harbour-example-org")].name == "Harbour Times"


def test_the_most_used_spelling_names_a_topic() -> None:
    records = [make_record(url=f"https://a.example/{i}", topics=(t,)) for i, t in enumerate(["ai", "AI", "AI"])]
    assert feeds_by_slug(records)[(FeedKind.TOPIC, "ai")].name == "AI"


def test_feeds_are_cut_to_max_items_and_dated_by_their_newest_entry() -> None:
    records = [make_record(url=f"https://a.example/{i}", published_at=T + timedelta(hours=i)) for i in range(60)]
    feed = feeds_by_slug(records)[(FeedKind.ALL, "all")]
    assert len(feed.entries) == SITE.max_items == 50
    assert feed.total == 60
    assert feed.updated == T + timedelta(hours=59)


# ---- slugs


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Computer Vision", "computer-vision"),
        ("independent.co.uk", "independent-co-uk"),
        ("C++", "c-plus-plus"),
        ("C#", "c-sharp"),
        ("R&D", "r-and-d"),
        ("Künstliche Intelligenz", "kunstliche-intelligenz"),
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        ("人工知能", ""),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_distinct_names_never_share_a_slug() -> None:
    names = ["c", "c++", "c#", "c--", "c!", "", "...", "人工知能", "人工", "con", "nul", "x" * 300, "x" * 301]
    slugs = assign_slugs(names, FeedKind.TOPIC)
    assert len(set(slugs.values())) == len(names)
    assert slugs["c"] == "c" and slugs["c++"] == "c-plus-plus" and slugs["c#"] == "c-sharp"
    for slug in slugs.values():
        assert slug and len(slug) <= 60
        assert slug == slugify(slug) and slug not in ("con", "nul")


def test_slugs_do_not_depend_on_input_order() -> None:
    names = ["a b", "a-b", "A.B", "a_b"]
    assert assign_slugs(names, FeedKind.TOPIC) == assign_slugs(list(reversed(names)), FeedKind.TOPIC)


def test_topic_keys_fold_case_and_spacing() -> None:
    assert topic_key(" Computer\u00a0 Vision ") == topic_key("computer vision") == "computer vision"


def test_published_slugs_are_kept_even_when_a_newcomer_would_take_them() -> None:
    known = [KnownFeed(FeedKind.TOPIC, "a-b", "a-b", "A-B")]
    feeds = feeds_by_slug([make_record(topics=("a b", "a-b"))], known=known)
    topics = {f.group: f.key.slug for f in feeds.values() if f.key.kind is FeedKind.TOPIC}
    assert topics["a-b"] == "a-b"
    assert topics["a b"].startswith("a-b-") and len(topics["a b"]) == len("a-b-") + 8


def test_a_feed_whose_stories_are_gone_stays_as_an_empty_feed() -> None:
    known = [KnownFeed(FeedKind.TOPIC, "space", "space", "Space")]
    feeds = feeds_by_slug([make_record(topics=("AI",))], known=known)
    space = feeds[(FeedKind.TOPIC, "space")]
    assert (space.name, space.entries, space.updated) == ("Space", (), None)


def test_an_emptied_feed_keeps_its_last_known_time_and_an_empty_archive_page_its_groups() -> None:
    when = datetime(2025, 5, 1, tzinfo=UTC)
    known = [KnownFeed(FeedKind.TOPIC, "space", "space", "Space", when)]
    feeds = feeds_by_slug([make_record(topics=("AI",))], known=known)
    assert feeds[(FeedKind.TOPIC, "space")].updated == when
    site = replace(SITE, max_items=1, archives=True, archive_page_size=1)
    records = [make_record(url=f"https://a.example/{i}", published_at=T + timedelta(days=i)) for i in range(3)]
    documents = [f for f in documents_of(records, site, NOW) if f.key == FeedKey(FeedKind.ALL, "all")]
    assert [(f.page, len(f.entries)) for f in documents] == [(None, 1), (1, 1), (2, 1), (3, 0)]
    assert documents[-1].updated == T + timedelta(days=2)  # the empty page dates from its group's newest entry
