"""Decide what is published and where: filter, de-duplicate, sort, group, slug.

Pure functions over records; "now" is an argument, never read from a clock.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import cast

from .codec import to_micros
from .model import Draft, Feed, FeedKey, FeedKind, Listing, Record, Site

MAX_SLUG = 60
# Names Windows refuses as file or folder names, whatever the extension.
_RESERVED = frozenset(["con", "prn", "aux", "nul"] + [f"{d}{n}" for d in ("com", "lpt") for n in range(10)])
# Symbols that tell names apart ("C", "C++", "C#") are spelled out, not dropped.
_SYMBOLS = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at ", "%": " percent "}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Selection:
    """The records a build publishes, and how many were left out and why."""

    records: tuple[Listing, ...]  # publishable, one per URL, newest first
    unpublished: int
    scheduled: int
    duplicates: int
    next_due: datetime | None  # the earliest scheduled record's time


def newest_first(record: Listing) -> tuple[float, str]:
    """Total order for entries: newest first, then by URL."""
    return (-record.published_at.timestamp(), record.url)


def select(records: Iterable[Listing], now: datetime) -> Selection:
    """Published records whose time has come, one per URL, newest first.

    Only the boolean ``published: true`` publishes. A record dated after ``now``
    is held back. When records share a URL, the newest wins; equal times are
    decided by the file path, so the choice never depends on reading order.
    """
    unpublished = scheduled = due = 0
    next_due: datetime | None = None
    by_url: dict[str, Listing] = {}
    for record in records:
        if not record.is_published:
            unpublished += 1
            continue
        if record.published_at > now:
            scheduled += 1
            next_due = record.published_at if next_due is None else min(next_due, record.published_at)
            continue
        due += 1
        kept = by_url.get(record.url)
        if kept is None or (record.published_at, record.path) > (kept.published_at, kept.path):
            by_url[record.url] = record
    kept_records = tuple(sorted(by_url.values(), key=newest_first))
    return Selection(kept_records, unpublished, scheduled, due - len(kept_records), next_due)


class Shortlist:
    """The records that may still make it into a feed, while a great many are read.

    A feed shows the ``limit`` newest due records of its group, so a record
    that is not among the newest of any of its groups (all records, each of
    its topics, its provider) is not rendered, and a reader of many files
    need not hold on to it. ``offer`` keeps a bounded heap per group and
    returns the records that fell out of every heap. The heaps are a little
    larger than ``limit`` for duplicate URLs, which selection merges, and for
    records of the same time (ordered by path here, by URL in feeds); a
    record found missing after all is only parsed again. With no limit (every
    record is in some archive page) every due record is kept.
    """

    def __init__(self, now: datetime, limit: int | None) -> None:
        self.now = to_micros(now)
        self.size = None if limit is None else limit + max(8, limit // 4)
        self._claims: dict[str, int] = {}  # path -> how many heaps hold it
        # (topics, provider) -> the heaps of its groups, each (time, path) with the oldest first
        self._heaps_of: dict[tuple[tuple[str, ...], str], tuple[list[tuple[int, str]], ...]] = {}
        self._heaps: dict[str, list[tuple[int, str]]] = defaultdict(list)

    def offer(self, path: str, micros: int, is_published: bool, topics: tuple[str, ...], provider: str) -> list[str]:
        """Offer a record by its time in microseconds; return the paths no longer needed (maybe its own)."""
        if not is_published or micros > self.now:
            return [path]
        if self.size is None:
            return []
        heaps = self._heaps_of.get((topics, provider))
        if heaps is None:
            groups = dict.fromkeys(["", f"p {provider}", *(f"t {topic_key(t)}" for t in topics)])
            heaps = self._heaps_of[(topics, provider)] = tuple(self._heaps[group] for group in groups)
        dropped: list[str] = []
        claims, size, held = 0, self.size, self._claims
        entry = (micros, path)
        for heap in heaps:
            if len(heap) < size:
                heapq.heappush(heap, entry)
            elif entry <= heap[0]:
                continue  # the usual case: older than all this group keeps
            else:
                out = heapq.heapreplace(heap, entry)[1]
                left = held[out] - 1
                if left:
                    held[out] = left
                else:
                    del held[out]
                    dropped.append(out)
            claims += 1
        if claims:
            held[path] = claims
        else:
            dropped.append(path)
        return dropped


@lru_cache(maxsize=65536)  # a few hundred topics, named hundreds of thousands of times
def topic_key(name: str) -> str:
    """Topics that differ only in case, spacing or Unicode form are one topic."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


def slugify(name: str) -> str:
    """A lowercase ASCII slug: letters, digits and single hyphens, maybe empty."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(_SYMBOLS.get(char, char) for char in text)
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def assign_slugs(keys: Iterable[str], kind: FeedKind, taken: Mapping[str, str] | None = None) -> dict[str, str]:
    """A distinct, filesystem-safe slug for each key, independent of input order.

    ``taken`` maps keys to slugs already published; they are kept as they are so
    URLs never change. Among keys that would share a slug, the smallest keeps it
    and the others get a short hash of their key appended.
    """
    assigned = dict(taken or {})
    used = set(assigned.values())
    wanted: dict[str, list[str]] = defaultdict(list)
    for key in sorted(set(keys) - set(assigned)):
        wanted[_base_slug(key, kind)].append(key)
    for base, group in sorted(wanted.items()):
        for key in group:
            slug = base
            if slug in used:
                slug = f"{base[: MAX_SLUG - 9]}-{_digest(key)}"
            assigned[key] = slug
            used.add(slug)
    return assigned


def _base_slug(key: str, kind: FeedKind) -> str:
    slug = slugify(key)
    if len(slug) > MAX_SLUG:
        slug = f"{slug[: MAX_SLUG - 9].rstrip('-')}-{_digest(key)}"
    if not slug:
        slug = f"{kind.value[:-1]}-{_digest(key)}"  # e.g. a name in CJK script only
    if slug in _RESERVED:
        slug = f"{slug}-{kind.value[:-1]}"
    return slug


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def _display_names(pairs: Counter[tuple[str, str]]) -> dict[str, str]:
    """For each key, its most used spelling; ties go to the smallest spelling. ``pairs`` counts (key, spelling)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for (key, name), count in pairs.items():
        counts[key][name] += count
    return {key: min(c, key=lambda name: (-c[name], name)) for key, c in counts.items()}


@dataclass(frozen=True)
class KnownFeed:
    """A topic or provider feed an earlier build published; its slug is kept for good."""

    kind: FeedKind
    group: str
    slug: str
    name: str
    updated: datetime | None = None  # its newest entry's time when it was last built


Fetch = Callable[[Sequence[Listing]], Sequence[Record]]


@dataclass(frozen=True)
class Plan:
    """Every document of a build, drafted from listings, and the one spelling of each topic and provider."""

    drafts: tuple[Draft, ...]  # in output order: all, topics, providers; each feed before its archive pages
    topic_names: Mapping[str, str]  # topic key -> its name in every feed
    provider_names: Mapping[str, str]  # provider key -> its name in every feed

    def names(self, listing: Listing) -> tuple[tuple[str, ...], str]:
        """The topics and provider name an entry shows: one spelling each, in every feed."""
        topics = tuple(self.topic_names[k] for k in dict.fromkeys(topic_key(t) for t in listing.topics))
        return topics, self.provider_names[listing.provider.key]

    def complete(self, drafts: Sequence[Draft], fetch: Fetch | None = None) -> tuple[Feed, ...]:
        """The ``drafts`` with full records for entries, their names made canonical.

        ``fetch`` turns listings into full records; it is called once, for the
        entries of these drafts (by default listings are records).
        """
        needed = list({(m.path, m.url): m for draft in drafts for m in draft.entries}.values())
        records = fetch(needed) if fetch else [cast(Record, m) for m in needed]
        full: dict[tuple[str, str], Record] = {}
        for listing, record in zip(needed, records, strict=True):
            topics, provider = self.names(record)
            if topics != record.topics or provider != record.provider.name:
                record = replace(record, topics=topics, provider=replace(record.provider, name=provider))
            full[(listing.path, listing.url)] = record
        return tuple(
            Feed(
                d.key,
                d.group,
                d.name,
                tuple(full[(m.path, m.url)] for m in d.entries),
                d.total,
                d.updated,
                d.page,
                d.pages,
            )
            for d in drafts
        )


def plan_feeds(
    selection: Selection,
    site: Site,
    known: Iterable[KnownFeed] = (),
    fetch: Fetch | None = None,
) -> tuple[Feed, ...]:
    """Every feed of the build, with full records: ``plan`` completed."""
    drafted = plan(selection, site, known)
    return drafted.complete(drafted.drafts, fetch)


def plan(selection: Selection, site: Site, known: Iterable[KnownFeed] = ()) -> Plan:
    """Every feed document of the build: all records, one feed per topic, one per provider, archive pages.

    Topic and provider names get one spelling per key. A feed published
    before keeps its slug, and when its group has no published records left
    it is still planned, empty, so its URL stays valid.
    """
    known = tuple(known)
    listings = selection.records
    spellings = Counter(t for r in listings for t in r.topics)  # counted in C, then keyed once per spelling
    topic_names = _display_names(Counter({(topic_key(t), t): count for t, count in spellings.items()}))
    provider_names = _display_names(Counter((r.provider.key, r.provider.name) for r in listings))
    groups: dict[FeedKind, dict[str, list[Listing]]] = {FeedKind.TOPIC: {}, FeedKind.PROVIDER: {}}
    topic_groups, provider_groups = groups[FeedKind.TOPIC], groups[FeedKind.PROVIDER]
    for listing in listings:  # already newest first, so every group is too
        topics = listing.topics
        for topic in (topic_key(topics[0]),) if len(topics) == 1 else dict.fromkeys(map(topic_key, topics)):
            topic_groups.setdefault(topic, []).append(listing)
        provider_groups.setdefault(listing.provider.key, []).append(listing)
    # An empty document still needs a plausible, stable "updated": the newest
    # entry of its group, or for a group with none left, its last known time.
    last_known = {(k.kind, k.slug): k.updated for k in known}
    drafts: list[Draft] = []

    def draft(key: FeedKey, group: str, name: str, members: Sequence[Listing]) -> None:
        newest = members[0].published_at if members else last_known.get((key.kind, key.slug))
        older = members[site.max_items :] if site.archives else ()
        pages = archive_pages(len(older), site.archive_page_size)
        head = tuple(members[: site.max_items])
        drafts.append(Draft(key, group, name, head, len(members), newest, pages=len(pages)))
        for number, (start, end) in enumerate(pages, start=1):
            entries = tuple(older[start:end])
            updated = entries[0].published_at if entries else newest
            drafts.append(Draft(key, group, name, entries, len(members), updated, number, len(pages)))

    draft(FeedKey(FeedKind.ALL, "all"), "", site.title, listings)
    for kind, names in ((FeedKind.TOPIC, topic_names), (FeedKind.PROVIDER, provider_names)):
        previous = {k.group: k for k in known if k.kind is kind}
        names = {**{group: k.name for group, k in previous.items()}, **names}
        slugs = assign_slugs(names, kind, {group: k.slug for group, k in previous.items()})
        for key, name in names.items():
            draft(FeedKey(kind, slugs[key]), key, name, groups[kind].get(key, []))
    drafts.sort(key=lambda d: (d.key.sort_key, d.page or 0))
    return Plan(tuple(drafts), topic_names, provider_names)


def archive_pages(count: int, size: int) -> list[tuple[int, int]]:
    """Slices of the ``count`` entries older than the feed (newest first) for archive pages 1..n.

    Page 1 holds the oldest entries, so a page keeps its entries as newer ones
    arrive (RFC 5005 §4: archive documents should not change). Every page but
    the newest is full, and the newest always has room (it may be empty): a
    page is complete, next-archive link included, in the build that fills it.
    """
    if count == 0:
        return []
    full = count // size
    pages = []
    for n in range(full + 1):
        end = count - n * size  # slices count from the newest end of the list
        pages.append((max(end - size, 0), end))
    return pages
