"""The visible set: which listings feeds show, kept up to date for the URLs whose listings changed.

A listing is visible when it is published, due (not after the build's "now")
and the newest of the published, due listings that share its URL (equal
times: the greater path wins). Each listing that enters or leaves the set
moves its rows in ``members``, and the counts of its groups and names, in
set-based statements: the same ones for one changed file and for a million
(a new store, whose listings all start out of the set, skips the scratch
tables that say which ones move).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ..model import FeedKind, to_micros
from .rows import Counts, Delta
from .schema import SEPARATOR

if TYPE_CHECKING:
    from .database import Store

# Whether listing ``l`` should be visible: it is published and due, and no other published, due
# listing of its URL is newer (or as new, with a greater path). Asked of the URL-key index for each
# listing, this is five times faster than numbering each URL's listings with a window (0.10 against
# 0.52 s at 100k).
_SHOULD = """
l.published = 1 AND l.time <= :now AND NOT EXISTS (
    SELECT 1 FROM listings o INDEXED BY listings_by_url
    WHERE o.url_key = l.url_key AND o.file != l.file AND o.url = l.url AND o.published = 1 AND o.time <= :now
    AND (
        o.time > l.time
        OR (o.time = l.time AND (SELECT path FROM files WHERE id = o.file) > (SELECT path FROM files WHERE id = l.file))
    )
)
"""

# The listings of the URLs at hand whose visibility should change. (Materialized: ``should`` is
# worked out once a listing, not once for each time it is named.)
_SETTLING = f"""
INSERT INTO settling
WITH judged AS MATERIALIZED (
    SELECT l.file, l.visible, ({_SHOULD}) AS should FROM listings l WHERE l.url_key IN (SELECT url_key FROM affected)
)
SELECT file, should FROM judged WHERE should != visible
"""  # noqa: S608 - constants only


class Visibility:
    """The visible set and what a build changed in it so far."""

    def __init__(self, store: Store, db: sqlite3.Connection) -> None:
        self.store = store
        self.db = db
        self.everything = store.fresh  # a new store: every URL is at hand, none need be named
        self._oldest: dict[int, int] = {}
        self._before: dict[int, int] = {}
        self._entered = self._left = self._visible = 0

    def affect(self, keys: Iterable[int]) -> None:
        """Note URLs (by key) whose listings changed."""
        if not self.everything:
            self.db.executemany("INSERT OR IGNORE INTO affected VALUES (?)", ((key,) for key in keys))

    def retract(self, files: Sequence[int]) -> None:
        """Take these listings out of the visible set, if they are in it (before their rows go)."""
        visible = [file for file, flag in _rows(self.db, "SELECT file, visible FROM listings", files) if flag]
        self._move(self._moving("INSERT INTO moving VALUES (?)", [(file,) for file in visible]), -1)

    def update(self, now: datetime) -> Delta:
        """Settle the visible set as of ``now`` for the URLs at hand and those whose time came (or went)."""
        self.store.index()  # a new store is filled: from here on it is searched
        micros = to_micros(now)
        before = int(self.store.meta("now", "0") or 0)
        if micros != before and not self.everything:
            low, high = sorted((before, micros))
            self.db.execute(
                "INSERT OR IGNORE INTO affected"
                " SELECT url_key FROM listings WHERE published = 1 AND time > ? AND time <= ?",
                (low, high),
            )
        self.store.set_meta("now", str(micros))
        if self.everything:
            self._fill(micros)
        else:
            self.db.execute("DELETE FROM settling")
            self.db.execute(_SETTLING, {"now": micros})
            for should, step in ((0, -1), (1, +1)):
                moving = self._moving("INSERT INTO moving SELECT file FROM settling WHERE should = ?", [(should,)])
                self._move(moving, step)
            self.db.execute("DELETE FROM affected")
        counts = self.store.counts
        self.store.set_counts(
            Counts(counts.files, counts.published, counts.unpublished, counts.visible + self._visible)
        )
        delta = Delta(self._entered, self._left, dict(self._oldest), dict(self._before))
        self._oldest, self._before = {}, {}
        self._entered = self._left = self._visible = 0
        self.everything = False
        return delta

    def _moving(self, insert: str, rows: list[tuple[int]]) -> int:
        """Fill table ``moving`` anew by ``insert`` (run once for each of ``rows``); how many listings are in it."""
        self.db.execute("DELETE FROM moving")
        self.db.executemany(insert, rows)
        (count,) = self.db.execute("SELECT count(*) FROM moving").fetchone()
        return int(count)

    def _fill(self, micros: int) -> None:
        """Make the visible set of a new store, whose listings are all out of it: the statements of
        ``_move`` over every listing that should be in, without the scratch tables between them
        (180M fewer instructions in a cold 10k build's read stage, of 2,156M)."""
        fill = f"UPDATE listings AS l SET visible = 1 WHERE {_SHOULD}"  # noqa: S608 - constants only
        moved = self.db.execute(fill, {"now": micros}).rowcount
        self.db.execute(
            "INSERT INTO members SELECT g.value, l.time, l.file FROM listings l, json_each(l.groups) g WHERE l.visible"
        )
        groups = self.db.execute("SELECT grp, count(*), min(time) FROM members GROUP BY grp").fetchall()
        self._count(moved, +1, groups, self._names("listings l WHERE l.visible"))

    def _move(self, moved: int, step: int) -> None:
        """Put the ``moved`` listings of table ``moving`` into the visible set (``step`` 1) or take them out (-1)."""
        if not moved:
            return
        # Each (group, time, file) of the listings that move, a row per group each one is in, read
        # out of their JSON once for the counts and the members both.
        self.db.execute("DELETE FROM moving_groups")
        self.db.execute(
            "INSERT INTO moving_groups SELECT mo.value, l.time, l.file"
            " FROM moving mv JOIN listings l ON l.file = mv.file, json_each(l.groups) mo"
        )
        groups = self.db.execute("SELECT grp, count(*), min(time) FROM moving_groups GROUP BY grp").fetchall()
        if step > 0:
            self.db.execute("INSERT INTO members SELECT grp, time, file FROM moving_groups")
        else:
            rows = self.db.execute("SELECT grp, time, file FROM moving_groups").fetchall()
            self.db.executemany("DELETE FROM members WHERE grp = ? AND time = ? AND file = ?", rows)
        self._count(moved, step, groups, self._names("moving mv JOIN listings l ON l.file = mv.file"))
        self.db.execute("UPDATE listings SET visible = ? WHERE file IN (SELECT file FROM moving)", (int(step > 0),))

    def _names(self, listings: str) -> list[tuple[int, str, int]]:
        """(group, name, count) of each name the ``listings`` (a FROM clause) spell their groups with:
        each one's provider name, and each of its topic spellings.

        Counted by provider and by topics tuple, then split here: at 100k records 200 providers
        and 14k tuples stand for 90k visible listings (0.11 s, against 0.45 s for a JSON column
        of names read row by row).
        """
        found: dict[tuple[int, str], int] = {}
        groups = self.store.groups
        for id, count in self.db.execute(f"SELECT l.provider, count(*) FROM {listings} GROUP BY l.provider"):  # noqa: S608 - ours
            provider = groups.provider(id)
            name = (groups.id(FeedKind.PROVIDER, provider.key), provider.name)
            found[name] = found.get(name, 0) + count
        for topics, count in self.db.execute(f"SELECT l.topics, count(*) FROM {listings} GROUP BY l.topics"):  # noqa: S608 - ours
            for spelling in topics.split(SEPARATOR) if topics else ():
                name = (groups.topic(spelling), spelling)
                found[name] = found.get(name, 0) + count
        return [(group, name, count) for (group, name), count in found.items()]

    def _count(
        self, moved: int, step: int, groups: list[tuple[int, int, int]], names: list[tuple[int, str, int]]
    ) -> None:
        """Count ``moved`` listings in (``step`` 1) or out (-1): by group, (group, count, oldest time), and
        by name, (group, name, count)."""
        for group, _, oldest in groups:
            if group not in self._before:
                (self._before[group],) = self.db.execute("SELECT visible FROM groups WHERE id = ?", (group,)).fetchone()
            self._oldest[group] = min(self._oldest.get(group, oldest), oldest)
        if step > 0:
            self._entered += moved
        else:
            self._left += moved
        self._visible += step * moved
        self.db.executemany(
            "UPDATE groups SET visible = visible + ?1, checksum = checksum(kind, key, visible + ?1) WHERE id = ?2",
            ((step * count, group) for group, count, _ in groups),
        )
        self.db.executemany(
            "INSERT INTO names VALUES (?1, ?2, ?3, checksum(?1, ?2, ?3)) ON CONFLICT (grp, name)"
            " DO UPDATE SET count = count + excluded.count, checksum = checksum(grp, name, count + excluded.count)",
            ((group, name, step * count) for group, name, count in names),
        )
        if step < 0:
            self.db.execute("DELETE FROM names WHERE count <= 0")


def _rows(db: sqlite3.Connection, select: str, ids: Sequence[int], batch: int = 5_000) -> list[tuple[int, int]]:
    """``select ... WHERE file IN ids``, a batch at a time (SQLite bounds the parameters of one query)."""
    found: list[tuple[int, int]] = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        found.extend(db.execute(f"{select} WHERE file IN ({','.join('?' * len(chunk))})", chunk))
    return found
