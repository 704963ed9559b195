"""Decide what is published and where: filter, de-duplicate, sort, group, slug.

Pure functions over records; "now" is an argument, never read from a clock.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from .model import Draft, FeedKey, FeedKind, Listing, Record, Site, to_micros

MAX_SLUG = 60
# Names Windows refuses as file or folder names, whatever the extension.
_RESERVED = frozenset(["con", "prn", "aux", "nul"] + [f"{d}{n}" for d in ("com", "lpt") for n in range(10)])
# Symbols that tell names apart ("C", "C++", "C#") are spelled out, not dropped.
_SYMBOLS = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at ", "%": " percent "}
_SPACES = re.compile(r"\s+")


def newest_first(listing: Listing | Record) -> tuple[float, str]:
    """Total order for entries: newest first, then by URL."""
    return (-listing.published_at.timestamp(), listing.url)


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
        # Each group's heap of (time, path), the oldest first: of all records, of each provider
        # key and of each topic key.
        self._everything: list[tuple[int, str]] = []
        self._providers: dict[str, list[tuple[int, str]]] = {}
        self._topics: dict[str, list[tuple[int, str]]] = {}
        # The topic heaps of each topics tuple seen (spellings of one topic share a heap): at 100k
        # records 15k tuples stand for 100k offers; looked up once each, 100k offers take 0.47 s, not 0.59.
        self._of_topics: dict[tuple[str, ...], tuple[list[tuple[int, str]], ...]] = {}

    def _topic_heaps(self, topics: tuple[str, ...]) -> tuple[list[tuple[int, str]], ...]:
        found = self._of_topics.get(topics)
        if found is None:
            heaps: dict[int, list[tuple[int, str]]] = {}
            for topic in topics:
                heap = self._topics.setdefault(topic_key(topic), [])
                heaps[id(heap)] = heap
            if len(self._of_topics) >= 65_536:
                self._of_topics.clear()  # a bound for folders of endless topic mixes
            found = self._of_topics[topics] = tuple(heaps.values())
        return found

    def offer(self, listing: Listing) -> list[str]:
        """Offer a record; return the paths of those no longer needed (maybe its own)."""
        path, micros = listing.path, listing.time
        if not listing.is_published or micros > self.now:
            return [path]
        if self.size is None:
            return []
        provider = self._providers.get(listing.provider.key)
        if provider is None:
            provider = self._providers[listing.provider.key] = []
        heaps = (self._everything, provider, *self._topic_heaps(listing.topics))
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


# A few hundred topics, named hundreds of thousands of times: 0.09 us remembered against 0.79 us
# (about 1.8 names a record: 1.3 s of a 1M build's main process).
@lru_cache(maxsize=65536)
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


@dataclass(frozen=True)
class KnownFeed:
    """A topic or provider feed an earlier build published; its slug is kept for good."""

    kind: FeedKind
    group: str
    slug: str
    name: str
    updated: datetime | None = None  # its newest entry's time when it was last built


def draft_documents(
    key: FeedKey,
    group: str,
    name: str,
    entries: Sequence[Listing],
    total: int,
    site: Site,
    *,
    first_page: int = 1,
    last_updated: datetime | None = None,
) -> list[Draft]:
    """A feed's documents: the feed, then its archive pages from ``first_page`` on (with ``site.archives``).

    ``entries`` are the group's newest, newest first: at least the feed's
    ``max_items`` (or all of them), and with archives every entry down to the
    oldest of page ``first_page``. ``total`` counts all the group's entries.
    An empty feed's "updated" is ``last_updated``, its newest entry's time
    when it was last built, so its URL stays valid and its bytes stable.
    """
    newest = entries[0].published_at if entries else last_updated
    head = tuple(entries[: site.max_items])
    pages = site_archive_pages(total, site)
    drafts = [Draft(key, group, name, head, total, newest, pages=len(pages))]
    older = entries[site.max_items :]
    for number, (start, end) in enumerate(pages, start=1):
        if number < first_page:
            continue
        page_entries = tuple(older[start:end])
        if len(page_entries) != end - start:
            raise ValueError(f"{key.folder}: page {number} needs entries {start}-{end} of {len(older)} at hand")
        updated = page_entries[0].published_at if page_entries else newest
        drafts.append(Draft(key, group, name, page_entries, total, updated, number, len(pages)))
    return drafts


def page_count(total: int, site: Site) -> int:
    """How many archive pages a group of ``total`` entries has."""
    return len(site_archive_pages(total, site))


def site_archive_pages(total: int, site: Site) -> list[tuple[int, int]]:
    """The archive pages of a group of ``total`` entries under these settings (see ``archive_pages``).

    With a byte budget, a group has an archive page even when the feed could hold
    every entry: the entries the feed lets go to fit the budget need a page to go to.
    """
    if not site.archives:
        return []
    pages = archive_pages(max(total - site.max_items, 0), site.archive_page_size)
    return pages or ([(0, 0)] if site.max_feed_bytes is not None else [])


def first_changed_page(total: int, older: int, site: Site, before: int) -> int:
    """The first archive page a change can reach, when ``older`` of a group's ``total`` entries are older than it.

    Pages fill from the oldest, so a page whose entries are all older than the
    oldest entry that came or went, and that was already full when the group
    had ``before`` entries, keeps its entries (RFC 5005 §4).
    """
    archived = min(total, before) - site.max_items
    return max(min(older, archived), 0) // site.archive_page_size + 1


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
