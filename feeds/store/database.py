"""The store: one SQLite database per cache folder, opened, checked, and changed in one transaction a build."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from .files import Files
from .groups import Groups
from .kept import Outputs, Records
from .rows import Counts, StoreDamaged
from .schema import FILE, FORMAT, INDEXES, SCHEMA, SCRATCH, checksum
from .visibility import Visibility


class Store:
    """The database of one cache folder (or of one build, in memory), and the parts that read and change it."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None, fresh: bool) -> None:
        self.db = connection
        self.db.create_function("checksum", -1, checksum, deterministic=True)
        self.db.executescript(SCRATCH)
        self.path = path
        self.fresh = fresh  # created by this build: nothing in it yet
        self.warning: str | None = None  # why an existing cache was started again, for the build's report
        self.groups = Groups(connection)
        self.visibility = Visibility(self, connection)
        self.files = Files(self, self.groups, self.visibility)
        self.records = Records(connection)
        self.outputs = Outputs(connection)

    @classmethod
    def open(cls, folder: Path | None, key: str) -> Store:
        """The store in ``folder`` (None: in memory), or a new one when it is missing, damaged or not ours.

        One made by another release or with other limits is started again quietly; one that cannot
        be read, or is not a store at all, with a warning.
        """
        if folder is None:
            return cls._create(sqlite3.connect(":memory:", isolation_level=None), None, key)
        path = folder / FILE
        why = None
        if path.exists():
            try:
                connection = sqlite3.connect(path, isolation_level=None)
                verdict = _verdict(connection, key)
                if verdict == "usable":
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute("PRAGMA synchronous=NORMAL")
                    return cls(connection, path, fresh=False)
                connection.close()
                why = None if verdict == "other" else "it is not a cache of this program"
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
        if why is not None:
            store.warning = f"{path}: the cache was started again: {why}"
        return store

    @classmethod
    def _create(cls, connection: sqlite3.Connection, path: Path | None, key: str) -> Store:
        # A new store is filled by one build: without a journal it fills several times faster, and
        # should that build die, "complete" is missing and the next build starts it again.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.executescript(SCHEMA)
        connection.execute(f"PRAGMA user_version={FORMAT}")
        connection.execute("INSERT INTO meta VALUES ('key', ?)", (key,))
        return cls(connection, path, fresh=True)

    def index(self) -> None:
        """Make the indexes a new store was filled without (idempotent)."""
        if self.fresh:
            _script(self.db, INDEXES)

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
            found = data.pop("checksum")
            counts = Counts(**data)
        except (TypeError, KeyError, AttributeError) as e:
            raise StoreDamaged("counts") from e
        if found != checksum(*counts.__dict__.values()):
            raise StoreDamaged("counts")
        return counts

    def set_counts(self, counts: Counts) -> None:
        self.set_meta_json("counts", {**counts.__dict__, "checksum": checksum(*counts.__dict__.values())})


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run ``script`` statement by statement (``executescript`` would commit the transaction first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _verdict(connection: sqlite3.Connection, key: str) -> str:
    """What the database at hand is: "usable"; "other" (another release's, or made with other limits, or
    left unfinished by a build that died); or "foreign" (not a store at all)."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables or version <= 0:
        return "foreign"
    if version != FORMAT:
        return "other"
    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
    return "usable" if meta.get("key") == key and meta.get("complete") == "1" else "other"


def discard(folder: Path) -> None:
    """Remove the store's files from ``folder`` (the database and its journals)."""
    for name in (FILE, FILE + "-wal", FILE + "-shm", FILE + "-journal"):
        (folder / name).unlink(missing_ok=True)
