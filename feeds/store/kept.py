"""What the store keeps for the next build besides listings: packed records, and the outputs made."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from .schema import record_checksum

_BATCH = 5_000


class Records:
    """The packed full records of the entries that can reach a feed, each checked against its file."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def put(self, blobs: Iterable[tuple[int, bytes, bytes]]) -> None:
        """Keep packed records: (file id, the file's digest, the data)."""
        rows = [(file, digest, data, record_checksum(digest, data)) for file, digest, data in blobs]
        self.db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", rows)

    def get(self, files: Sequence[int]) -> dict[int, bytes]:
        """The kept records of these files whose checksum holds and whose file is unchanged."""
        found: dict[int, bytes] = {}
        for start in range(0, len(files), _BATCH):
            chunk = files[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT r.file, r.digest, r.data, r.checksum, f.digest FROM records r"  # noqa: S608 - only ?s
                f" JOIN files f ON f.id = r.file WHERE r.file IN ({marks})",
                chunk,
            )
            for file, digest, data, check, current in rows:
                if digest == current and check == record_checksum(digest, data):
                    found[file] = data
        return found

    def count(self) -> int:
        (count,) = self.db.execute("SELECT count(*) FROM records").fetchone()
        return int(count)

    def keep(self, files: set[int]) -> None:
        """Forget every kept record but these."""
        kept = self.db.execute("SELECT file FROM records").fetchall()
        self.db.executemany("DELETE FROM records WHERE file = ?", ((file,) for (file,) in kept if file not in files))


class Outputs:
    """Each output file the last build made: the digest of what it was made from, and its size."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self) -> dict[str, tuple[str, int]]:
        return {path: (digest, size) for path, digest, size in self.db.execute("SELECT * FROM outputs")}

    def change(self, made: dict[str, tuple[str, int]], removed: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM outputs WHERE path = ?", ((path,) for path in removed))
        self.db.executemany(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", ((p, d, s) for p, (d, s) in made.items())
        )
