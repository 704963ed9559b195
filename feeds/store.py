"""What a build keeps between runs: one SQLite database, and the queries selection asks of it.

Tables: ``meta`` (release key, counters, times), ``folders`` (each folder of
records and a signature of its listing), ``files`` (path, size, mtime,
content digest, problems), ``providers``, ``listings`` (what selection needs
of each file's record, and whether it is visible), ``groups`` (all, each
topic key, each provider key, with its count of visible entries),
``members`` (the visible entries of each group by time, so "the newest N of
a group" is one index range), ``names`` (how often visible entries spell each
topic and provider name), ``records`` (packed full records of the entries
that can reach a feed) and ``outputs`` (each output file's digest and size).

A listing is *visible* when it is published, due (not after the build's
"now") and the newest of the published, due listings that share its URL
(equal times: the greater path wins). A build changes the rows of the files
that changed and recomputes visibility for their URLs only, in one
transaction. Rows that feed output carry a checksum; a mismatch, a damaged
file or another release's database means starting again from the records,
never publishing what was read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .codec import from_micros, to_micros
from .model import FeedKind, Listing, Provider
from .selection import topic_key

FORMAT = 1  # bump when the tables or the meaning of a row change
FILE = "cache.sqlite"
_KINDS = {kind: number for number, kind in enumerate(FeedKind)}
_SEPARATOR = "\x1f"  # between a listing's topic spellings: a control character no cleaned text keeps
_BATCH = 5_000

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE folders (path TEXT PRIMARY KEY, signature BLOB) WITHOUT ROWID;
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,      -- relative to the records folder, '/' between parts
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,         -- nanoseconds
    digest BLOB NOT NULL,           -- of the file's bytes; empty when they could not be read
    problems BLOB                   -- marshalled problems, NULL when there are none
);
CREATE INDEX files_by_folder ON files (folder);
CREATE INDEX files_with_problems ON files (path) WHERE problems IS NOT NULL;
CREATE TABLE providers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL, url TEXT NOT NULL, UNIQUE (name, key, url)
);
CREATE TABLE listings (
    file INTEGER PRIMARY KEY,       -- files.id
    url TEXT NOT NULL,
    url_key INTEGER NOT NULL,       -- a hash of the URL, for a small index
    time INTEGER NOT NULL,          -- microseconds since 1970, UTC
    published INTEGER NOT NULL,
    provider INTEGER NOT NULL,
    topics TEXT NOT NULL,
    visible INTEGER NOT NULL,
    checksum INTEGER NOT NULL
);
CREATE INDEX listings_by_url ON listings (url_key);
CREATE INDEX listings_by_time ON listings (published, time);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key TEXT NOT NULL, visible INTEGER NOT NULL,
    checksum INTEGER NOT NULL, UNIQUE (kind, key)
);
CREATE TABLE members (
    grp INTEGER NOT NULL, time INTEGER NOT NULL, file INTEGER NOT NULL, PRIMARY KEY (grp, time, file)
) WITHOUT ROWID;
CREATE TABLE names (
    grp INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, checksum INTEGER NOT NULL,
    PRIMARY KEY (grp, name)
) WITHOUT ROWID;
CREATE TABLE records (file INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL, checksum BLOB NOT NULL);
CREATE TABLE outputs (path TEXT PRIMARY KEY, digest TEXT NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID;
"""


class StoreDamaged(Exception):
    """What the store holds cannot be trusted; the build starts again from the records."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A record file as the store last saw it."""

    id: int
    size: int
    mtime: int
    digest: bytes


@dataclass(frozen=True, slots=True)
class Parsed:
    """One record file read and parsed (in a worker): what the store keeps of it."""

    path: str  # relative to the records folder
    size: int
    mtime: int
    digest: bytes
    problems: bytes | None  # marshalled; None when there are none
    listing: tuple[Any, ...] | None  # (url, micros, published, topics, (name, key, url)); None: rejected


@dataclass(frozen=True, slots=True)
class Group:
    """A group of visible entries: all of them, one topic key or one provider key."""

    id: int
    kind: FeedKind
    key: str
    visible: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A visible entry of a group, with the digest of the file its record comes from."""

    file: int
    time: int  # micros, as the listing's published_at
    digest: bytes
    listing: Listing


@dataclass(frozen=True)
class Delta:
    """How the visible set changed in a build."""

    entered: int
    left: int
    touched: frozenset[int]  # ids of the groups whose visible entries changed
    oldest: dict[int, int]  # group id -> the oldest time (micros) of a change in it
    before: dict[int, int]  # group id -> how many visible entries it had before the change


@dataclass(frozen=True)
class Counts:
    """Record files and listings by what selection makes of them, as of the last visibility update."""

    files: int = 0
    published: int = 0
    unpublished: int = 0
    visible: int = 0

    @property
    def rejected(self) -> int:
        return self.files - self.published - self.unpublished


def url_key(url: str) -> int:
    return int.from_bytes(hashlib.blake2b(url.encode(), digest_size=8).digest(), "big", signed=True)


def _listing_checksum(url: str, micros: int, published: int, provider: int, topics: str) -> int:
    data = f"{url}\n{micros}\n{published}\n{provider}\n{topics}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def _checksum(*values: object) -> int:
    """A row's checksum, as SQL statements write it too (the function ``checksum``)."""
    data = repr(values).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)


def _record_checksum(digest: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(digest + data, digest_size=16).digest()


class Store:
    """The database of one cache folder (or of one build, in memory)."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None, fresh: bool) -> None:
        self.db = connection
        self.db.create_function("checksum", -1, _checksum, deterministic=True)
        self.path = path
        self.fresh = fresh  # created by this build: nothing in it yet
        self.warning: str | None = None  # why an existing cache was started again, for the build's report
        self.ours = True  # whether an existing database was made by this program
        self._groups: dict[tuple[FeedKind, str], int] = {}
        self._providers: dict[tuple[str, str, str], int] = {}
        self._provider_rows: dict[int, Provider] = {}
        self._loaded = False
        # What this build changed so far, until update_visibility reports it
        self._affected: set[int] = set()  # URL keys whose listings changed
        self._oldest: dict[int, int] = {}  # group id -> the oldest time (micros) an entry entered or left it
        self._before: dict[int, int] = {}  # group id -> its count of visible entries when this build began
        self._entered = self._left = self._visible = 0

    # ---- opening, transactions, meta

    @classmethod
    def open(cls, folder: Path | None, key: str) -> Store:
        """The store in ``folder`` (None: in memory), or a new one when it is missing, damaged or not ours."""
        if folder is None:
            return cls._create(sqlite3.connect(":memory:", isolation_level=None), None, key)
        path = folder / FILE
        why = None
        if path.exists():
            try:
                store = cls(sqlite3.connect(path, isolation_level=None), path, fresh=False)
                if store._usable(key):
                    store.db.execute("PRAGMA journal_mode=WAL")
                    store.db.execute("PRAGMA synchronous=NORMAL")
                    return store
                store.db.close()
                why = None if store.ours else "it is not a cache of this program"
            except sqlite3.DatabaseError as e:
                why = f"it cannot be read ({e})"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            discard(folder)
            store = cls._create(sqlite3.connect(path, isolation_level=None), path, key)
        except (OSError, sqlite3.Error) as e:
            store = cls._create(sqlite3.connect(":memory:", isolation_level=None), None, key)
            store.warning = f"{folder}: the cache cannot be written ({e}); every record is read again next time"
            return store
        if why is not None:  # made by another release or with other limits: started again, quietly
            store.warning = f"{path}: the cache was started again: {why}"
        return store

    @classmethod
    def _create(cls, connection: sqlite3.Connection, path: Path | None, key: str) -> Store:
        store = cls(connection, path, fresh=True)
        # A new store is filled by one build: without a journal it fills several times faster, and
        # should that build die, "complete" is missing and the next build starts it again.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version={FORMAT}")
        connection.execute("INSERT INTO meta VALUES ('key', ?)", (key,))
        return store

    def _usable(self, key: str) -> bool:
        """Whether this is a whole store made by this release with ``key``; ``ours`` tells a store of another."""
        (version,) = self.db.execute("PRAGMA user_version").fetchone()
        tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.ours = "meta" in tables and version > 0
        if version != FORMAT or not self.ours:
            return False
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        return meta.get("key") == key and meta.get("complete") == "1"

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Make this build's changes last; the store is whole from now on."""
        self.set_meta("complete", "1")
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        """Undo this build's changes; a new store is removed, so the next build starts it again."""
        with contextlib.suppress(sqlite3.Error):
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
        if self.fresh and self.path is not None:
            self.close()
            with contextlib.suppress(OSError):
                discard(self.path.parent)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta_json(self, key: str) -> Any:
        try:
            return json.loads(self.meta(key, "null"))
        except ValueError as e:
            raise StoreDamaged(f"meta {key}") from e

    def set_meta_json(self, key: str, value: Any) -> None:
        self.set_meta(key, json.dumps(value, sort_keys=True))

    @property
    def counts(self) -> Counts:
        data = self.meta_json("counts")
        if data is None:
            return Counts()
        try:
            checksum = data.pop("checksum")
            counts = Counts(**data)
        except (TypeError, KeyError, AttributeError) as e:
            raise StoreDamaged("counts") from e
        if checksum != _checksum(*counts.__dict__.values()):
            raise StoreDamaged("counts")
        return counts

    def _set_counts(self, counts: Counts) -> None:
        self.set_meta_json("counts", {**counts.__dict__, "checksum": _checksum(*counts.__dict__.values())})

    # ---- folders and files, as the scan compares them

    def signatures(self) -> dict[str, bytes | None]:
        return dict(self.db.execute("SELECT path, signature FROM folders"))

    def set_signatures(self, signatures: dict[str, bytes | None], removed: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM folders WHERE path = ?", ((path,) for path in removed))
        self.db.executemany("INSERT OR REPLACE INTO folders VALUES (?, ?)", signatures.items())

    def files_in(self, folder: str) -> dict[str, StoredFile]:
        """The files of one folder (not of its subfolders), by path."""
        rows = self.db.execute("SELECT path, id, size, mtime, digest FROM files WHERE folder = ?", (folder,))
        return {path: StoredFile(id, size, mtime, digest) for path, id, size, mtime, digest in rows}

    def file_count(self) -> int:
        return self.counts.files

    def problems(self) -> Iterator[tuple[str, bytes]]:
        """(path, marshalled problems) of every file that has any, in path order."""
        return iter(self.db.execute("SELECT path, problems FROM files WHERE problems IS NOT NULL ORDER BY path"))

    # ---- changing files and listings

    def _load(self) -> None:
        if self._loaded:
            return
        for id, kind, key in self.db.execute("SELECT id, kind, key FROM groups"):
            self._groups[(list(FeedKind)[kind], key)] = id
        for id, name, key, url in self.db.execute("SELECT id, name, key, url FROM providers"):
            self._providers[(name, key, url)] = id
            self._provider_rows[id] = Provider(name, key, url)
        self._loaded = True

    def _provider_id(self, fields: tuple[str, str, str]) -> int:
        found = self._providers.get(fields)
        if found is None:
            found = self.db.execute("INSERT INTO providers (name, key, url) VALUES (?, ?, ?)", fields).lastrowid
            assert found is not None
            self._providers[fields] = found
            self._provider_rows[found] = Provider(*fields)
        return found

    def group_id(self, kind: FeedKind, key: str) -> int:
        self._load()
        found = self._groups.get((kind, key))
        if found is None:
            found = self.db.execute(
                "INSERT INTO groups (kind, key, visible, checksum) VALUES (?, ?, 0, checksum(?, ?, 0))",
                (_KINDS[kind], key, _KINDS[kind], key),
            ).lastrowid
            assert found is not None
            self._groups[(kind, key)] = found
        return found

    def change_files(self, parsed: Sequence[Parsed], removed: Sequence[str], known: dict[str, StoredFile]) -> None:
        """Bring the rows of these files up to date; their URLs' visibility is settled by ``update_visibility``.

        ``known`` has the stored row of every file in ``parsed`` that the store
        already had. A file whose bytes did not change keeps its listing.
        """
        self._load()
        counts = self.counts
        files, published, unpublished = counts.files, counts.published, counts.unpublished
        gone = [row[0] for path in removed if (row := self._file_id(path)) is not None]
        replaced = [
            known[item.path].id
            for item in parsed
            if item.path in known and (item.digest != known[item.path].digest or not item.digest)
        ]
        old = [*gone, *replaced]
        for _, key, is_published in self._rows("SELECT file, url_key, published FROM listings", old):
            self._affected.add(key)
            if is_published:
                published -= 1
            else:
                unpublished -= 1
        self._move([file for file, flag in self._rows("SELECT file, visible FROM listings", old) if flag], -1)
        self.db.executemany("DELETE FROM listings WHERE file = ?", ((id,) for id in old))
        self.db.executemany("DELETE FROM records WHERE file = ?", ((id,) for id in gone))
        self.db.executemany("DELETE FROM files WHERE id = ?", ((id,) for id in gone))
        files -= len(gone)
        new_listings: list[tuple[Any, ...]] = []
        for item in parsed:
            stored = known.get(item.path)
            if stored is None:
                id = self.db.execute(
                    "INSERT INTO files (path, folder, size, mtime, digest, problems) VALUES (?, ?, ?, ?, ?, ?)",
                    (item.path, item.path.rpartition("/")[0], item.size, item.mtime, item.digest, item.problems),
                ).lastrowid
                assert id is not None
                files += 1
            else:
                id = stored.id
                self.db.execute(
                    "UPDATE files SET size = ?, mtime = ?, digest = ?, problems = ? WHERE id = ?",
                    (item.size, item.mtime, item.digest, item.problems, id),
                )
                if item.digest == stored.digest and item.digest:
                    continue  # the same bytes: the same listing
            if item.listing is None:
                continue
            url, micros, is_published, topics, provider = item.listing
            key = url_key(url)
            self._affected.add(key)
            provider_id = self._provider_id(provider)
            joined = _SEPARATOR.join(topics)
            flag = int(is_published)
            checksum = _listing_checksum(url, micros, flag, provider_id, joined)
            new_listings.append((id, url, key, micros, flag, provider_id, joined, checksum))
            if is_published:
                published += 1
            else:
                unpublished += 1
        self.db.executemany(
            "INSERT INTO listings (file, url, url_key, time, published, provider, topics, visible, checksum)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
            new_listings,
        )
        self._set_counts(Counts(files, published, unpublished, counts.visible))

    def _file_id(self, path: str) -> tuple[int] | None:
        row = self.db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        return None if row is None else (int(row[0]),)

    def _rows(self, select: str, ids: Sequence[int]) -> Iterator[tuple[Any, ...]]:
        """``select ... WHERE file IN ids``, a batch at a time (SQLite bounds the parameters of one query)."""
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            yield from self.db.execute(f"{select} WHERE file IN ({','.join('?' * len(chunk))})", chunk)

    # ---- visibility

    def update_visibility(self, now: datetime) -> Delta:
        """Settle which listings are visible as of ``now``, for every URL whose listings changed or came due.

        The members, names and group counts follow each listing that enters
        or leaves the visible set. Returns what changed since the build began,
        including the listings ``change_files`` took out.
        """
        self._load()
        micros = to_micros(now)
        before = int(self.meta("now", "0") or 0)
        if micros != before:  # records that came due (or, with an earlier "now", went back to scheduled)
            low, high = sorted((before, micros))
            due = self.db.execute(
                "SELECT url_key FROM listings WHERE published = 1 AND time > ? AND time <= ?", (low, high)
            )
            self._affected.update(key for (key,) in due)
        self.set_meta("now", str(micros))
        entered: list[int] = []
        left: list[int] = []
        for rows in self._by_url(self._affected):
            winner: tuple[Any, ...] | None = None
            for row in rows:
                _, _, time, published, _, path = row
                if published and time <= micros and (winner is None or (time, path) > (winner[2], winner[5])):
                    winner = row
            for row in rows:
                if row is winner and not row[4]:
                    entered.append(row[0])
                elif row[4] and row is not winner:
                    left.append(row[0])
        self._move(left, -1)
        self._move(entered, +1)
        delta = Delta(self._entered, self._left, frozenset(self._oldest), dict(self._oldest), dict(self._before))
        counts = self.counts
        self._set_counts(Counts(counts.files, counts.published, counts.unpublished, counts.visible + self._visible))
        self._affected, self._oldest, self._before = set(), {}, {}
        self._entered = self._left = self._visible = 0
        return delta

    def _by_url(self, keys: set[int]) -> Iterator[list[tuple[Any, ...]]]:
        """The listings of these URL keys, one list per URL: (file, url, time, published, visible, path)."""
        query = (
            "SELECT l.file, l.url, l.time, l.published, l.visible, f.path FROM listings l JOIN files f ON f.id = l.file"
        )
        total = self.counts.published + self.counts.unpublished
        if len(keys) * 4 > total:  # most of them: one pass over every listing, in the order of the index
            rows: Iterable[tuple[Any, ...]] = self.db.execute(query + " ORDER BY l.url_key").fetchall()
        else:
            ordered = sorted(keys)
            rows = [
                row
                for start in range(0, len(ordered), _BATCH)
                for row in self.db.execute(
                    f"{query} WHERE l.url_key IN ({','.join('?' * len(ordered[start : start + _BATCH]))})"
                    " ORDER BY l.url_key",
                    ordered[start : start + _BATCH],
                )
            ]
        run: dict[str, list[tuple[Any, ...]]] = {}  # the rows of one URL key, by URL (keys may collide)
        key = None
        for row in rows:
            if row[1] not in run and run and url_key(row[1]) != key:
                yield from run.values()
                run = {}
            if not run:
                key = url_key(row[1])
            run.setdefault(row[1], []).append(row)
        yield from run.values()

    def _memberships(self, ids: Sequence[int]) -> Iterator[tuple[int, int, list[int], list[tuple[int, str]]]]:
        """(file, time, its groups, the (group, name) it counts for) of each listing, from its row.

        A listing is in the group of all entries, its provider's and each of
        its topics' (spellings of one topic count once); every spelling counts
        for its topic's name, as selection counts them.
        """
        for file, time, provider_id, topics in self._rows("SELECT file, time, provider, topics FROM listings", ids):
            provider = self._provider_rows[provider_id]
            by = self.group_id(FeedKind.PROVIDER, provider.key)
            groups = [self.group_id(FeedKind.ALL, ""), by]
            names = [(by, provider.name)]
            for spelling in topics.split(_SEPARATOR) if topics else ():
                group = self.group_id(FeedKind.TOPIC, topic_key(spelling))
                names.append((group, spelling))
                if group not in groups:
                    groups.append(group)
            yield file, time, groups, names

    def _move(self, ids: Sequence[int], step: int) -> None:
        """Put these listings into the visible set (``step`` 1) or take them out (-1)."""
        if not ids:
            return
        group_counts: Counter[int] = Counter()
        name_counts: Counter[tuple[int, str]] = Counter()
        member_rows: list[tuple[int, int, int]] = []
        for file, time, groups, names in self._memberships(ids):
            for group in groups:
                group_counts[group] += step
                member_rows.append((group, time, file))
                self._oldest[group] = min(self._oldest.get(group, time), time)
            for pair in names:
                name_counts[pair] += step
        for group in group_counts:
            if group not in self._before:
                row = self.db.execute("SELECT visible FROM groups WHERE id = ?", (group,)).fetchone()
                self._before[group] = int(row[0]) if row else 0
        if step > 0:
            self.db.executemany("INSERT INTO members VALUES (?, ?, ?)", member_rows)
            self._entered += len(ids)
        else:
            self.db.executemany("DELETE FROM members WHERE grp = ? AND time = ? AND file = ?", member_rows)
            self._left += len(ids)
        self._visible += step * len(ids)
        self.db.executemany(
            "UPDATE groups SET visible = visible + ?1, checksum = checksum(kind, key, visible + ?1) WHERE id = ?2",
            ((count, group) for group, count in group_counts.items() if count),
        )
        self.db.executemany(
            "INSERT INTO names VALUES (?1, ?2, ?3, checksum(?1, ?2, ?3)) ON CONFLICT (grp, name)"
            " DO UPDATE SET count = count + excluded.count, checksum = checksum(grp, name, count + excluded.count)",
            ((group, name, count) for (group, name), count in name_counts.items() if count),
        )
        if step < 0:
            self.db.execute("DELETE FROM names WHERE count <= 0")
        self.db.executemany("UPDATE listings SET visible = ? WHERE file = ?", ((int(step > 0), id) for id in ids))

    # ---- what selection asks

    def groups(self) -> list[Group]:
        self._load()
        kinds = list(FeedKind)
        found = []
        for id, kind, key, visible, checksum in self.db.execute("SELECT id, kind, key, visible, checksum FROM groups"):
            if checksum != _checksum(kind, key, visible) or visible < 0:
                raise StoreDamaged(f"group {key!r}")
            found.append(Group(id, kinds[kind], key, visible))
        return found

    def names(self) -> dict[tuple[FeedKind, str], str]:
        """The name each group with visible entries goes by: its most used spelling (ties: the smallest)."""
        kinds = list(FeedKind)
        best: dict[int, tuple[int, str]] = {}
        for group, name, count, checksum in self.db.execute("SELECT grp, name, count, checksum FROM names"):
            if checksum != _checksum(group, name, count):
                raise StoreDamaged(f"name {name!r}")
            if count <= 0:
                continue
            known = best.get(group)
            if known is None or (-count, name) < (-known[0], known[1]):
                best[group] = (count, name)
        found = {}
        for id, kind, key in self.db.execute("SELECT id, kind, key FROM groups WHERE visible > 0"):
            if kinds[kind] is FeedKind.ALL:
                continue
            if id not in best:
                raise StoreDamaged(f"group {key!r} has visible entries but no name")
            found[(kinds[kind], key)] = best[id][1]
        return found

    def newest(self, group: int, count: int, root: str) -> list[Entry]:
        """The newest ``count`` visible entries of a group, newest first (equal times: by URL).

        ``root`` is the records folder as the build names it, for the entries' paths.
        """
        entries: list[Entry] = []
        rows = self.db.execute(
            "SELECT m.time, m.file, l.url, l.time, l.published, l.provider, l.topics, l.checksum, l.visible,"
            " f.path, f.digest FROM members m JOIN listings l ON l.file = m.file JOIN files f ON f.id = m.file"
            " WHERE m.grp = ? ORDER BY m.time DESC",
            (group,),
        )
        last_time = None
        for row in rows:
            time = row[0]
            if len(entries) >= count and time != last_time:
                break
            entries.append(self._entry(row, root))
            last_time = time
        entries.sort(key=lambda entry: (-entry.time, entry.listing.url))
        return entries[:count]

    def newer_than(self, group: int, micros: int) -> int:
        """How many visible entries of a group are at least as new as ``micros``."""
        (found,) = self.db.execute(
            "SELECT count(*) FROM members WHERE grp = ? AND time >= ?", (group, micros)
        ).fetchone()
        return int(found)

    def _entry(self, row: tuple[Any, ...], root: str) -> Entry:
        member_time, file, url, time, published, provider_id, topics, checksum, visible, path, digest = row
        provider = self._provider_rows.get(provider_id)
        if (
            member_time != time
            or not visible
            or not published
            or provider is None
            or checksum != _listing_checksum(url, time, published, provider_id, topics)
        ):
            raise StoreDamaged(f"listing of {path}")
        listing = Listing(
            f"{root}/{path}",
            url,
            from_micros(time),
            True,
            tuple(topics.split(_SEPARATOR)) if topics else (),
            provider,
        )
        return Entry(file, time, digest, listing)

    def scheduled(self) -> tuple[int, int | None]:
        """(how many published listings are not yet due, the time of the next to come due)."""
        now = int(self.meta("now", "0") or 0)
        (count, first) = self.db.execute(
            "SELECT count(*), min(time) FROM listings WHERE published = 1 AND time > ?", (now,)
        ).fetchone()
        return int(count), first

    # ---- full records

    def put_records(self, blobs: Iterable[tuple[str, bytes, bytes]]) -> None:
        """Keep packed records: (relative path, file digest, data)."""
        rows = []
        for path, digest, data in blobs:
            found = self.db.execute("SELECT id FROM files WHERE path = ? AND digest = ?", (path, digest)).fetchone()
            if found is not None:
                rows.append((found[0], digest, data, _record_checksum(digest, data)))
        self.db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", rows)

    def records(self, files: Sequence[int]) -> dict[int, bytes]:
        """The kept records of these files whose checksum holds and whose file is unchanged."""
        found: dict[int, bytes] = {}
        for start in range(0, len(files), _BATCH):
            chunk = files[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT r.file, r.digest, r.data, r.checksum, f.digest FROM records r JOIN files f ON f.id = r.file"  # noqa: S608
                f" WHERE r.file IN ({marks})",
                chunk,
            )
            for file, digest, data, checksum, current in rows:
                if digest == current and checksum == _record_checksum(digest, data):
                    found[file] = data
        return found

    def record_count(self) -> int:
        (count,) = self.db.execute("SELECT count(*) FROM records").fetchone()
        return int(count)

    def keep_records(self, files: set[int]) -> None:
        """Forget every kept record but these."""
        kept = self.db.execute("SELECT file FROM records").fetchall()
        self.db.executemany("DELETE FROM records WHERE file = ?", ((file,) for (file,) in kept if file not in files))

    # ---- the outputs of the last build

    def outputs(self) -> dict[str, tuple[str, int]]:
        return {path: (digest, size) for path, digest, size in self.db.execute("SELECT * FROM outputs")}

    def set_outputs(self, changed: dict[str, tuple[str, int]], removed: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM outputs WHERE path = ?", ((path,) for path in removed))
        self.db.executemany(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", ((p, d, s) for p, (d, s) in changed.items())
        )


def discard(folder: Path) -> None:
    """Remove the store's files from ``folder`` (the database and its journals)."""
    for name in (FILE, FILE + "-wal", FILE + "-shm", FILE + "-journal"):
        (folder / name).unlink(missing_ok=True)


def pack_problems(problems: Sequence[tuple[Any, ...]]) -> bytes | None:
    return marshal.dumps(tuple(problems)) if problems else None
