"""The store's tables, and the checksums its rows carry."""

from __future__ import annotations

import hashlib
import zlib

FORMAT = 2  # bump when the tables or the meaning of a row change
FILE = "cache.sqlite"
SEPARATOR = "\x1f"  # between a listing's topic spellings: a control character no cleaned text keeps

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE folders (path TEXT PRIMARY KEY, signature BLOB) WITHOUT ROWID;
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,             -- relative to the records folder, '/' between parts
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,         -- nanoseconds
    digest BLOB NOT NULL,           -- of the file's bytes; empty when they could not be read
    problems BLOB                   -- marshalled problems, NULL when there are none
);
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
    groups TEXT NOT NULL,           -- JSON: the ids of the groups it is in (all, its provider's, its topics')
    visible INTEGER NOT NULL,
    checksum INTEGER NOT NULL
);
CREATE TABLE groups (
    id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, key TEXT NOT NULL, visible INTEGER NOT NULL,
    checksum INTEGER NOT NULL, UNIQUE (kind, key)
);
-- the visible entries of each group, by time
CREATE TABLE members (
    grp INTEGER NOT NULL, time INTEGER NOT NULL, file INTEGER NOT NULL, PRIMARY KEY (grp, time, file)
) WITHOUT ROWID;
CREATE TABLE names (
    grp INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, checksum INTEGER NOT NULL,
    PRIMARY KEY (grp, name)
) WITHOUT ROWID;
CREATE TABLE records (file INTEGER PRIMARY KEY, digest BLOB NOT NULL, data BLOB NOT NULL, checksum INTEGER NOT NULL);
CREATE TABLE outputs (path TEXT PRIMARY KEY, digest TEXT NOT NULL, size INTEGER NOT NULL) WITHOUT ROWID;
"""

# Made once a new store is filled: building an index at once is several times faster than row by row.
INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS files_by_path ON files (path);
CREATE INDEX IF NOT EXISTS files_by_folder ON files (folder);
CREATE INDEX IF NOT EXISTS files_with_problems ON files (path) WHERE problems IS NOT NULL;
CREATE INDEX IF NOT EXISTS listings_by_url ON listings (url_key);
CREATE INDEX IF NOT EXISTS listings_by_time ON listings (published, time);
"""

# Scratch tables of one connection: the files and URLs a step works on.
SCRATCH = """
CREATE TEMP TABLE IF NOT EXISTS settling (file INTEGER PRIMARY KEY, should INTEGER NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS moving (file INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS moving_groups (grp INTEGER NOT NULL, time INTEGER NOT NULL, file INTEGER NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS affected (url_key INTEGER PRIMARY KEY);
"""


def checksum(*values: int | str | None) -> int:
    """A row's checksum; SQL statements compute it with the same function, registered as ``checksum``.

    CRC-32 finds every burst of damage up to 32 bits, which is what it is for (a failing disk, a
    stray write): nothing here defends against someone who can write the cache on purpose.
    """
    return zlib.crc32("\x1f".join(map(str, values)).encode("utf-8", "surrogatepass"))


def record_checksum(digest: bytes, data: bytes) -> int:
    """A kept record's checksum: CRC-32 too, for the same reason. (Python's own BLAKE2b is the
    portable reference code, 15 instructions a byte against CRC-32's 4.4; a 100k build keeps 28 MB.)"""
    return zlib.crc32(data, zlib.crc32(digest))


def url_key(url: str) -> int:
    return int.from_bytes(hashlib.blake2b(url.encode(), digest_size=8).digest(), "big", signed=True)
