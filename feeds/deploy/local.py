"""The tree as it would be stored: every file's path, stored size and MD5, remembered between deploys by stat."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DeployError, OutputError
from ..headers import compressible, content_type
from ..serve import hidden
from ..writing import write_atomically
from .target import THREADS


@dataclass(frozen=True)
class LocalFile:
    """A file of the tree as it would be stored: the size and MD5 of its body (gzipped when it is)."""

    path: str  # relative to the tree, with slashes
    size: int
    md5: str
    gzipped: bool = False


def stored_body(path: str, data: bytes, use_gzip: bool) -> tuple[bytes, bool]:
    """What is uploaded for a file: gzipped (level 9, no timestamp, so the same every time) when asked and smaller."""
    if use_gzip and compressible(content_type(PurePosixPath(path).name)):
        packed = gzip.compress(data, compresslevel=9, mtime=0)
        if len(packed) < len(data):
            return packed, True
    return data, False


def read_file(root: Path, path: str, use_gzip: bool) -> tuple[LocalFile, bytes]:
    body, packed = stored_body(path, (root / path).read_bytes(), use_gzip)
    return LocalFile(path, len(body), hashlib.md5(body).hexdigest(), packed), body  # noqa: S324 - S3's own digest


def walk_tree(root: Path) -> Iterator[str]:
    """Every file of the tree, by relative path: hidden and temporary files skipped, nothing outside it.

    Folders that are symbolic links are not followed; a file that is one is
    taken only if it leads to a file inside the tree.
    """
    real = root.resolve()

    def walk(folder: str, prefix: str) -> Iterator[str]:
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        for entry in listed:
            if hidden(entry.name):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from walk(entry.path, prefix + entry.name + "/")
            elif _inside(entry, real):
                yield prefix + entry.name

    return walk(str(root), "")


def _inside(entry: os.DirEntry[str], real: Path) -> bool:
    """A plain file, or a link to a file inside the tree."""
    if entry.is_file(follow_symlinks=False):
        return True
    return entry.is_symlink() and entry.is_file() and Path(entry.path).resolve().is_relative_to(real)


RACY_NS = 2_000_000_000  # a file modified this close to the moment it was hashed is hashed again next time


def digests_path(tree: Path) -> Path:
    """Where a deploy keeps the MD5s it computed: beside the tree, like the build's lock."""
    where = tree.resolve()
    return where.parent / f".{where.name}.deploy-digests.json"


def scan_tree(root: Path, use_gzip: bool, digests: Path | None = None, save: bool = True) -> dict[str, LocalFile]:
    """The tree's files as they would be stored, each hashed in a thread (hashlib lets them run at once).

    With ``digests``, a file whose size, mtime, ctime and inode are those it
    had when last hashed is not read again: ``feeds build`` leaves unchanged
    files alone and replaces changed ones (a new inode). That file is a cache
    only; damaged or missing, every file is read. ``save``: write it back.
    """
    started = time.time_ns()
    known: dict[str, list[Any]] = {}
    if digests is not None:
        try:
            data = json.loads(digests.read_bytes())
            if data.get("version") == 1 and data.get("gzip") == use_gzip:
                known = data["files"]
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            known = {}
    kept: dict[str, list[Any]] = {}
    found: dict[str, LocalFile] = {}
    unknown: list[tuple[str, list[int]]] = []
    for path in walk_tree(root):
        try:
            stat = os.stat(root / path)
        except OSError as e:
            raise DeployError(f"{root / path}: cannot be read: {e.strerror or e}") from e
        seen = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        old = known.get(path)
        if isinstance(old, list) and len(old) == 7 and old[:4] == seen:
            found[path] = LocalFile(path, int(old[4]), str(old[5]), bool(old[6]))
            kept[path] = old
        else:
            unknown.append((path, seen))

    def scan(job: tuple[str, list[int]]) -> LocalFile:
        path, seen = job
        try:
            file = read_file(root, path, use_gzip)[0]
        except OSError as e:
            raise DeployError(f"{root / path}: cannot be read: {e.strerror or e}") from e
        if started - seen[1] > RACY_NS and started - seen[2] > RACY_NS:
            kept[path] = [*seen, file.size, file.md5, file.gzipped]
        return file

    with ThreadPoolExecutor(min(THREADS, (os.cpu_count() or 1) + 1)) as pool:
        found.update((file.path, file) for file in pool.map(scan, unknown))
    if digests is not None and save and kept != known:
        with contextlib.suppress(OutputError):  # a cache: a deploy goes on without it
            write_atomically(digests, json.dumps({"version": 1, "gzip": use_gzip, "files": kept}).encode())
    return found


# ---------------------------------------------------------------- deciding, without touching the network
