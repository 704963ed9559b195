"""Plan a build's feed documents from the store: every feed, and the archive pages a change can reach.

Each group with visible entries, and each feed an earlier build published,
is a feed; its slug is kept for good. Every feed document is drafted from
the store's newest entries of its group. Archive pages are drafted only
from the first one a change can reach (all of them when names, settings or
the release changed): the others keep their entries, and their files stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath

from .manifest import Manifest
from .model import Draft, FeedKey, FeedKind, Listing, Site
from .selection import KnownFeed, assign_slugs, draft_documents, first_changed_page, page_count, topic_key
from .store import Delta, Entry, Store, StoreDamaged

ALL = FeedKey(FeedKind.ALL, "all")


@dataclass(frozen=True)
class Plan:
    """The documents of one build and the one spelling of each topic and provider."""

    drafts: tuple[Draft, ...]  # every feed, and the archive pages that may have changed; in output order
    pages: Mapping[FeedKey, int]  # every feed's number of archive pages, drafted or not
    topic_names: Mapping[str, str]  # topic key -> its name in every feed
    provider_names: Mapping[str, str]  # provider key -> its name in every feed
    entries: Mapping[str, Entry] = field(default_factory=dict)  # path -> the store's entry, of every drafted one
    keep: frozenset[int] = frozenset()  # files whose packed records are worth keeping for the next build

    def names(self, listing: Listing) -> tuple[tuple[str, ...], str]:
        """The topics and provider name an entry shows: one spelling each, in every feed."""
        topics = tuple(self.topic_names[k] for k in dict.fromkeys(topic_key(t) for t in listing.topics))
        return topics, self.provider_names[listing.provider.key]

    @property
    def heads(self) -> tuple[Draft, ...]:
        return tuple(draft for draft in self.drafts if draft.page is None)

    def head(self, key: FeedKey) -> Draft:
        """The feed document itself of a feed."""
        return self._heads_by_key[key]

    @cached_property
    def _heads_by_key(self) -> dict[FeedKey, Draft]:
        return {draft.key: draft for draft in self.heads}


def plan(
    store: Store,
    site: Site,
    root: str,
    known: Iterable[KnownFeed],
    delta: Delta,
    *,
    everything: bool = False,
    redo: Mapping[FeedKey, int] | None = None,
) -> Plan:
    """Draft the build's documents.

    ``delta`` says which groups changed and how far back; ``everything``
    drafts every archive page; ``redo`` maps feeds to the first archive page
    whose files must be made again (0: the feed only), e.g. files found missing.
    """
    known = tuple(known)
    redo = redo or {}
    names = store.groups.names()
    groups = {(group.kind, group.key): group for group in store.groups.all()}
    topic_names = {key: name for (kind, key), name in names.items() if kind is FeedKind.TOPIC}
    provider_names = {key: name for (kind, key), name in names.items() if kind is FeedKind.PROVIDER}
    margin = max(8, site.max_items // 4)  # records a little past the cut are kept too: a withdrawal may need them
    drafts: list[Draft] = []
    pages: dict[FeedKey, int] = {}
    entries: dict[str, Entry] = {}
    keep: set[int] = set()

    def draft(key: FeedKey, group_key: str, name: str, last: KnownFeed | None) -> None:
        group = groups.get((key.kind, group_key))
        total = group.visible if group is not None else 0
        count = page_count(total, site)
        pages[key] = count
        first = count + 1  # no archive page drafted
        if group is not None and site.archives:
            if everything:
                first = 1
            elif group.id in delta.oldest:
                older = total - store.groups.newer_than(group.id, delta.oldest[group.id])
                first = first_changed_page(total, older, site, delta.before.get(group.id, total))
            if key in redo and redo[key] > 0:
                first = min(first, redo[key])
            if site.max_feed_bytes is not None and count:  # the newest page takes what the feed lets go
                first = min(first, count)
        # The newest archive page's entries are at hand too: a new entry pushes one of the feed's into it.
        newest_page = max(total - site.max_items - (count - 1) * site.archive_page_size, 0) if count else 0
        wanted = site.max_items + max(margin, newest_page)
        if first <= count:
            wanted = max(wanted, total - (first - 1) * site.archive_page_size)
        found = [] if group is None or not total else store.groups.newest(group.id, wanted, root)
        if len(found) != min(wanted, total):
            raise StoreDamaged(f"group {group_key!r} has {len(found)} of its {min(wanted, total)} newest entries")
        for entry in found:
            entries[entry.listing.path] = entry
        keep.update(entry.file for entry in found[: site.max_items + max(margin, newest_page)])
        listings = [entry.listing for entry in found]
        updated = None if last is None else last.updated
        drafts.extend(
            draft_documents(key, group_key, name, listings, total, site, first_page=first, last_updated=updated)
        )

    draft(ALL, "", site.title, next((k for k in known if k.kind is FeedKind.ALL), None))
    for kind, current in ((FeedKind.TOPIC, topic_names), (FeedKind.PROVIDER, provider_names)):
        previous = {k.group: k for k in known if k.kind is kind}
        all_names = {**{group: k.name for group, k in previous.items()}, **current}
        slugs = assign_slugs(all_names, kind, {group: k.slug for group, k in previous.items()})
        for group_key, name in all_names.items():
            draft(FeedKey(kind, slugs[group_key]), group_key, name, previous.get(group_key))
    drafts.sort(key=lambda d: (d.key.sort_key, d.page or 0))
    return Plan(tuple(drafts), pages, topic_names, provider_names, entries, frozenset(keep))


def redo_pages(broken: set[str], manifest: Manifest) -> dict[FeedKey, int]:
    """For each feed with a file missing or damaged, the first archive page to make again (0: the feed only)."""
    slugs = {(k.kind.value, k.slug): FeedKey(k.kind, k.slug) for k in manifest.known}
    redo: dict[FeedKey, int] = {}
    for path in broken:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] not in ("all", "topics", "providers"):
            continue
        key = FeedKey(FeedKind.ALL, "all") if parts[0] == "all" else slugs.get((parts[0], parts[1]))
        if key is None:
            continue
        rest = parts[1:] if parts[0] == "all" else parts[2:]
        page = int(rest[1]) if len(rest) == 3 and rest[0] == "archive" and rest[1].isdigit() else 0
        if page:
            redo[key] = min(redo.get(key, page), page)
        else:
            redo.setdefault(key, 0)
    return redo
