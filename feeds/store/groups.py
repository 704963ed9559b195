"""Groups, providers and what selection asks of them: names, counts, the newest entries of a group."""

from __future__ import annotations

import sqlite3
import zlib
from typing import Any

from ..model import FeedKind, Listing, Provider
from ..selection import topic_key
from .rows import Entry, Group, StoreDamaged
from .schema import SEPARATOR, checksum

KINDS = list(FeedKind)
_NUMBER = {kind: number for number, kind in enumerate(KINDS)}


def listing_checksum(url: str, micros: int, published: int, provider: int, topics: str, groups: str) -> int:
    """``checksum`` of these values, its text put together at once (one is made for each file read)."""
    text = f"{url}\x1f{micros}\x1f{published}\x1f{provider}\x1f{topics}\x1f{groups}"
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


class Groups:
    """Every group (all entries, each topic key, each provider key) and every provider, by id."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._ids: dict[tuple[FeedKind, str], int] = {}
        self._topics: dict[str, int] = {}  # spelling -> group id: a few hundred stand for millions of names
        self._providers: dict[tuple[str, str, str], int] = {}
        self._provider_rows: dict[int, Provider] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        for id, kind, key in self.db.execute("SELECT id, kind, key FROM groups"):
            self._ids[(KINDS[kind], key)] = id
        for id, name, key, url in self.db.execute("SELECT id, name, key, url FROM providers"):
            self._providers[(name, key, url)] = id
            self._provider_rows[id] = Provider(name, key, url)
        self._loaded = True

    def id(self, kind: FeedKind, key: str) -> int:
        """The group's id, made when the group is new."""
        self._load()
        found = self._ids.get((kind, key))
        if found is None:
            number = _NUMBER[kind]
            found = self.db.execute(
                "INSERT INTO groups (kind, key, visible, checksum) VALUES (?, ?, 0, checksum(?, ?, 0))",
                (number, key, number, key),
            ).lastrowid
            assert found is not None
            self._ids[(kind, key)] = found
        return found

    def topic(self, spelling: str) -> int:
        """The id of the group a topic spelling is in (spellings that differ in case or spacing share one)."""
        found = self._topics.get(spelling)
        if found is None:
            found = self._topics[spelling] = self.id(FeedKind.TOPIC, topic_key(spelling))
        return found

    def provider_id(self, fields: tuple[str, str, str]) -> int:
        self._load()
        found = self._providers.get(fields)
        if found is None:
            found = self.db.execute("INSERT INTO providers (name, key, url) VALUES (?, ?, ?)", fields).lastrowid
            assert found is not None
            self._providers[fields] = found
            self._provider_rows[found] = Provider(*fields)
        return found

    def provider(self, id: int) -> Provider:
        self._load()
        found = self._provider_rows.get(id)
        if found is None:
            raise StoreDamaged(f"provider {id}")
        return found

    def all(self) -> list[Group]:
        found = []
        for id, kind, key, visible, check in self.db.execute("SELECT id, kind, key, visible, checksum FROM groups"):
            if check != checksum(kind, key, visible) or visible < 0:
                raise StoreDamaged(f"group {key!r}")
            found.append(Group(id, KINDS[kind], key, visible))
        return found

    def names(self) -> dict[tuple[FeedKind, str], str]:
        """The name each group with visible entries goes by: its most used spelling (ties: the smallest)."""
        best: dict[int, tuple[int, str]] = {}
        for group, name, count, check in self.db.execute("SELECT grp, name, count, checksum FROM names"):
            if check != checksum(group, name, count):
                raise StoreDamaged(f"name {name!r}")
            known = best.get(group)
            if count > 0 and (known is None or (-count, name) < (-known[0], known[1])):
                best[group] = (count, name)
        found: dict[tuple[FeedKind, str], str] = {}
        for group in self.all():
            if group.kind is FeedKind.ALL or not group.visible:
                continue
            if group.id not in best:
                raise StoreDamaged(f"group {group.key!r} has visible entries but no name")
            found[(group.kind, group.key)] = best[group.id][1]
        return found

    def newest(self, group: int, count: int, root: str) -> list[Entry]:
        """The newest ``count`` visible entries of a group, newest first (equal times: by URL).

        ``root`` is the records folder as the build names it, for the entries' paths.
        """
        entries: list[Entry] = []
        rows = self.db.execute(
            "SELECT m.time, m.file, l.url, l.time, l.published, l.provider, l.topics, l.groups,"
            " l.checksum, l.visible,"
            " f.path, f.digest FROM members m JOIN listings l ON l.file = m.file JOIN files f ON f.id = m.file"
            " WHERE m.grp = ? ORDER BY m.time DESC",
            (group,),
        )
        last_time = None
        for row in rows:  # up to the count, then on to the end of the entries of the same time
            if len(entries) >= count and row[0] != last_time:
                break
            entries.append(self._entry(row, root))
            last_time = row[0]
        entries.sort(key=lambda entry: (-entry.listing.time, entry.listing.url))
        return entries[:count]

    def _entry(self, row: tuple[Any, ...], root: str) -> Entry:
        member_time, file, url, time, published, provider_id, topics, groups, check, visible, path, digest = row
        if (
            member_time != time
            or not visible
            or not published
            or check != listing_checksum(url, time, published, provider_id, topics, groups)
        ):
            raise StoreDamaged(f"listing of {path}")
        spellings = tuple(topics.split(SEPARATOR)) if topics else ()
        listing = Listing(f"{root}/{path}", url, time, True, spellings, self.provider(provider_id))
        return Entry(file, digest, listing)

    def newer_than(self, group: int, micros: int) -> int:
        """How many visible entries of a group are at least as new as ``micros``."""
        query = "SELECT count(*) FROM members WHERE grp = ? AND time >= ?"
        (found,) = self.db.execute(query, (group, micros)).fetchone()
        return int(found)

    def scheduled(self, now: int) -> tuple[int, int | None]:
        """(how many published listings are not due at ``now``, the time of the next to come due)."""
        query = "SELECT count(*), min(time) FROM listings WHERE published = 1 AND time > ?"
        count, first = self.db.execute(query, (now,)).fetchone()
        return int(count), first
