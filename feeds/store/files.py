"""The rows of the record files: folders and their signatures, files, and each file's listing and groups."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..model import FeedKind
from .groups import Groups, listing_checksum
from .rows import Counts, Parsed, StoredFile
from .schema import SEPARATOR
from .visibility import Visibility, _rows

if TYPE_CHECKING:
    from .database import Store


class Files:
    """What the store knows of each record file, as the scan compares and the read stage changes it."""

    def __init__(self, store: Store, groups: Groups, visibility: Visibility) -> None:
        self.store = store
        self.db: sqlite3.Connection = store.db
        self.groups = groups
        self.visibility = visibility
        # Per build: each provider's (id, group id) and each topics tuple's columns (see _shape)
        self._providers: dict[tuple[str, str, str], tuple[int, int]] = {}
        self._topics_of: dict[tuple[str, ...], tuple[str, str]] = {}
        self._everything: int | None = None

    def signatures(self) -> dict[str, bytes | None]:
        return dict(self.db.execute("SELECT path, signature FROM folders"))

    def set_signatures(self, signatures: dict[str, bytes | None], removed: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM folders WHERE path = ?", ((path,) for path in removed))
        self.db.executemany("INSERT OR REPLACE INTO folders VALUES (?, ?)", signatures.items())

    def in_folder(self, folder: str) -> dict[str, StoredFile]:
        """The files of one folder (not of its subfolders), by path."""
        rows = self.db.execute("SELECT path, id, size, mtime, digest FROM files WHERE folder = ?", (folder,))
        return {path: StoredFile(id, size, mtime, digest) for path, id, size, mtime, digest in rows}

    def problems(self) -> Iterator[tuple[str, bytes]]:
        """(path, marshalled problems) of every file that has any, in path order."""
        return iter(self.db.execute("SELECT path, problems FROM files WHERE problems IS NOT NULL ORDER BY path"))

    def change(self, parsed: Sequence[Parsed], removed: Sequence[str], known: dict[str, StoredFile]) -> None:
        """Bring the rows of these files up to date; ``Visibility.update`` then settles their URLs.

        ``known`` has the stored row of every file in ``parsed`` that the store
        already had. A file whose bytes did not change keeps its listing.
        """
        counts = self.store.counts
        files, published, unpublished = counts.files, counts.published, counts.unpublished
        gone = [row[0] for path in removed if (row := self._id(path)) is not None]
        replaced = (
            [
                known[item.path].id
                for item in parsed
                if item.path in known and (item.digest != known[item.path].digest or not item.digest)
            ]
            if known
            else []
        )
        old = [*gone, *replaced]
        for _, key, is_published in _rows(self.db, "SELECT file, url_key, published FROM listings", old):  # type: ignore[misc]
            self.visibility.affect((key,))
            published, unpublished = (published - 1, unpublished) if is_published else (published, unpublished - 1)
        self.visibility.retract(old)
        self.db.executemany("DELETE FROM listings WHERE file = ?", ((id,) for id in old))
        self.db.executemany("DELETE FROM records WHERE file = ?", ((id,) for id in gone))
        self.db.executemany("DELETE FROM files WHERE id = ?", ((id,) for id in gone))
        files -= len(gone)
        (next_id,) = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM files").fetchone()
        new_files: list[tuple[Any, ...]] = []
        updated: list[tuple[Any, ...]] = []
        listings: list[tuple[Any, ...]] = []
        for path, size, mtime, digest, problems, listing in parsed:
            stored = known.get(path)
            if stored is None:
                id, next_id = next_id, next_id + 1
                new_files.append((id, path, path.rpartition("/")[0], size, mtime, digest, problems))
            else:
                id = stored.id
                updated.append((size, mtime, digest, problems, id))
                if digest == stored.digest and digest:
                    continue  # the same bytes: the same listing
            if listing is not None:
                listings.append((id, listing))
                if listing[2]:
                    published += 1
                else:
                    unpublished += 1
        self.db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)", new_files)
        self.db.executemany("UPDATE files SET size = ?, mtime = ?, digest = ?, problems = ? WHERE id = ?", updated)
        self._put_listings(listings)
        self.store.set_counts(Counts(files + len(new_files), published, unpublished, counts.visible))

    def _id(self, path: str) -> tuple[int] | None:
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else (int(row[0]),)

    def _put_listings(self, listings: list[tuple[int, tuple[Any, ...]]]) -> None:
        """The listing of each file, with the groups it is in."""
        rows: list[tuple[Any, ...]] = []
        keys: list[int] = []
        if self._everything is None:
            self._everything = self.groups.id(FeedKind.ALL, "")
        everything = self._everything
        for file, (url, micros, is_published, topics, provider, key) in listings:
            keys.append(key)
            by = self._providers.get(provider) or self._provider(provider)
            joined, topic_groups = self._topics_of.get(topics) or self._shape(topics)
            groups = f"[{everything},{by[1]}{topic_groups}]"
            flag = int(is_published)
            check = listing_checksum(url, micros, flag, by[0], joined, groups)
            rows.append((file, url, key, micros, flag, by[0], joined, groups, check))
        self.visibility.affect(keys)
        self.db.executemany("INSERT INTO listings VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)", rows)

    def _provider(self, provider: tuple[str, str, str]) -> tuple[int, int]:
        """(provider id, its group's id) of a provider, worked out once a build."""
        group = self.groups.id(FeedKind.PROVIDER, provider[1])
        found = self._providers[provider] = (self.groups.provider_id(provider), group)
        return found

    def _shape(self, topics: tuple[str, ...]) -> tuple[str, str]:
        """(the spellings joined, ``,id`` of each topic group) of a topics tuple.

        Worked out once for each tuple (at 100k records, 15k tuples stand for 100k listings) and
        put together with the provider's group into the listing's JSON.
        """
        groups = dict.fromkeys(self.groups.topic(spelling) for spelling in topics)  # spellings of one topic: one group
        if len(self._topics_of) >= 65_536:
            self._topics_of.clear()  # a bound for folders of endless topic mixes
        shape = self._topics_of[topics] = (SEPARATOR.join(topics), "".join(f",{group}" for group in groups))
        return shape
