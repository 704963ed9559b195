"""Full records for the documents a build renders, and the packed records it keeps for the next.

A record comes from this build's parses, else from the store if the file it
was parsed from is unchanged, else from parsing the file again. Its names
are made canonical: one spelling of each topic and provider in every feed.
"""

from __future__ import annotations

import marshal
from collections.abc import Sequence
from dataclasses import replace

from .codec import decode_record
from .model import Draft, Feed, Provider, Record
from .planning import Plan
from .reading import Reading, reparse
from .store import Store, StoreDamaged
from .workers import Workers


class Fetcher:
    """The packed records one build has at hand: parsed now, kept by the store, or parsed again."""

    def __init__(self, store: Store, reading: Reading, root: str, max_bytes: int, workers: Workers) -> None:
        self.store, self.root, self.max_bytes, self.workers = store, root, max_bytes, workers
        self.at_hand: dict[str, bytes] = dict(reading.fresh)  # path -> packed record

    def complete(self, drafts: Sequence[Draft], plan: Plan) -> list[Feed]:
        """The drafts with full records for entries, their names made canonical."""
        needed = list({entry.path: entry for draft in drafts for entry in draft.entries}.values())
        entries = plan.entries
        missing = [e for e in needed if e.path not in self.at_hand]
        kept = self.store.records.get([entries[e.path].file for e in missing])
        for listing in missing:
            if entries[listing.path].file in kept:
                self.at_hand[listing.path] = kept[entries[listing.path].file]
        again = {e.path.removeprefix(self.root + "/"): e.path for e in needed if e.path not in self.at_hand}
        if again:
            for path, (digest, data) in reparse(list(again), self.root, self.max_bytes, self.workers).items():
                if digest == entries[again[path]].digest:
                    self.at_hand[again[path]] = data
        providers: dict[tuple[str, str, str], Provider] = {}
        full: dict[str, Record] = {}
        for listing in needed:
            blob = self.at_hand.get(listing.path)
            if blob is None:  # changed since it was read, or its row is damaged: read everything again
                raise StoreDamaged(f"{listing.path} is not as the store knows it")
            record = decode_record(marshal.loads(blob), listing.path, providers)  # noqa: S302 - ours
            if record.url != listing.url:
                raise StoreDamaged(f"the record kept for {listing.path}")
            topics, provider = plan.names(record.listing)
            if topics != record.topics or provider != record.provider.name:
                record = replace(record, topics=topics, provider=replace(record.provider, name=provider))
            full[listing.path] = record
        return [
            Feed(d.key, d.group, d.name, tuple(full[e.path] for e in d.entries), d.total, d.updated, d.page, d.pages)
            for d in drafts
        ]

    def keep(self, plan: Plan) -> None:
        """Keep the packed records of the entries that may be rendered again soon, and only those."""
        rows = [
            (entry.file, entry.digest, self.at_hand[path])
            for path, entry in plan.entries.items()
            if entry.file in plan.keep and path in self.at_hand
        ]
        self.store.records.put(rows)
        if self.store.records.count() > 2 * len(plan.keep) + 1_000:
            self.store.records.keep(set(plan.keep))
