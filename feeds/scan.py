"""The scan of the records folder: which record files are new, changed or gone since the store saw them.

Every folder is listed and every record file stat-ed: that is the floor of
any build. A folder whose record files' names, sizes and mtimes hash to the
signature the store kept is taken as it was, without a look at its rows; any
other folder is compared file by file. A file is trusted unchanged when its
size and mtime match, unless its mtime is too close to the time the last
scan began to tell (the "racily clean" case): then it is read again and its
digest decides. Large trees are listed in the worker processes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .model import Problem
from .records import SUFFIXES
from .store import Store, StoredFile
from .workers import Workers

RACY_NS = 2_000_000_000  # mtimes this close to the start of a scan are not trusted by the next one
_SUFFIXES = tuple(SUFFIXES)
_PARALLEL_FOLDERS = 8  # folders below the top before listing in the workers pays off

Seen = tuple[str, int, int]  # (relative path, size, mtime in ns); size -1: the file could not be stat-ed


@dataclass(frozen=True)
class Listed:
    """One folder as the scan found it."""

    folder: str  # relative to the records folder; "" for the folder itself
    signature: bytes | None  # of its record files; None: one is too new to be trusted next time
    files: tuple[Seen, ...] | None  # None when the signature is the one the store kept
    folders: tuple[str, ...] = ()  # its subfolders, relative
    problem: str | None = None  # why it could not be listed


@dataclass
class Changes:
    """What a scan found: the files to read and the ones gone, with what the store knew of them."""

    todo: list[Seen] = field(default_factory=list)
    known: dict[str, StoredFile] = field(default_factory=dict)  # stored rows of the files in todo
    removed: list[str] = field(default_factory=list)
    signatures: dict[str, bytes | None] = field(default_factory=dict)  # of every folder listed
    gone: list[str] = field(default_factory=list)  # folders no longer there
    problems: list[Problem] = field(default_factory=list)
    unchanged: int = 0


def join(root: str, path: str) -> str:
    """A file's path as the build names it: the records folder as given, then its relative path."""
    return f"{root}/{path}" if path else root


def list_folder(root: str, folder: str, known: bytes | None, started_ns: int, *, stat: bool = True) -> Listed:
    """List one folder: its record files with their stats, and its subfolders (hidden ones skipped).

    Without ``stat`` (a store that knows no file: each is read anyway, and stat-ed then) the sizes and
    mtimes are left as -2, and the folder has no signature.
    """
    files: list[Seen] = []
    folders: list[str] = []
    prefix = f"{folder}/" if folder else ""
    try:
        with os.scandir(join(root, folder)) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    folders.append(prefix + name)
                elif name.lower().endswith(_SUFFIXES):
                    if not stat:
                        files.append((prefix + name, -2, -2))
                        continue
                    try:
                        info = entry.stat()
                        files.append((prefix + name, info.st_size, info.st_mtime_ns))
                    except FileNotFoundError:  # gone since listed, or a dangling link: as if never there
                        continue
                    except OSError:
                        files.append((prefix + name, -1, -1))  # read it, and let the read say what is wrong
    except OSError as e:
        return Listed(folder, known, None, (), e.strerror or str(e))
    files.sort()
    signature = _signature(files, started_ns)
    return Listed(
        folder, signature, None if signature is not None and signature == known else tuple(files), tuple(folders)
    )


def signature(files: list[Seen], started_ns: int) -> bytes | None:
    """The signature of a folder's record files (sorted), or None when one of them is too new to trust."""
    return _signature(sorted(files), started_ns)


def _signature(files: list[Seen], started_ns: int) -> bytes | None:
    if any(size < 0 or mtime + RACY_NS >= started_ns for _, size, mtime in files):
        return None
    text = "\0".join(f"{path}\0{size}\0{mtime}" for path, size, mtime in files)
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).digest()


def list_tree(job: tuple[str, str, dict[str, bytes | None], int, bool]) -> list[Listed]:
    """Worker: list a folder and everything below it."""
    root, top, known, started_ns, stat = job
    found = []
    stack = [top]
    while stack:
        listed = list_folder(root, stack.pop(), None, started_ns, stat=stat)
        listed = _with_known(listed, known.get(listed.folder))
        found.append(listed)
        stack.extend(listed.folders)
    return found


def walk(root: str) -> Iterator[Listed]:
    """Every folder below ``root`` and its record files, in this process, as a scan lists them."""
    stack = [""]
    while stack:
        listed = list_folder(root, stack.pop(), None, 0)
        yield listed
        stack.extend(listed.folders)


def _with_known(listed: Listed, known: bytes | None) -> Listed:
    """``listed`` without its files when its signature is the stored one."""
    if listed.problem is None and listed.signature is not None and listed.signature == known:
        return Listed(listed.folder, listed.signature, None, listed.folders)
    return listed


def _listings(
    root: str, known: Mapping[str, bytes | None], started_ns: int, workers: Workers, stat: bool
) -> Iterator[Listed]:
    """Every folder below ``root``: the top ones here, the subtrees below them in the workers when there are many."""
    frontier = [""]
    while frontier and (len(frontier) < _PARALLEL_FOLDERS * max(workers.count, 1) or workers.count < 2):
        folder = frontier.pop()
        listed = _with_known(list_folder(root, folder, None, started_ns, stat=stat), known.get(folder))
        yield listed
        frontier.extend(listed.folders)
    if not frontier:
        return
    tops = set(frontier)
    below: dict[str, dict[str, bytes | None]] = {top: {} for top in tops}
    for path, value in known.items():  # each stored signature goes with the subtree it is in
        parent = path
        while parent and parent not in tops:
            parent = parent.rpartition("/")[0]
        if parent in tops:
            below[parent][path] = value
    jobs = [(root, top, below[top], started_ns, stat) for top in sorted(tops)]
    for found in workers.map(list_tree, jobs):
        yield from found


def scan(source: Path, store: Store, workers: Workers, started_ns: int) -> Changes:
    """Compare the records folder with what the store knows; ``started_ns`` is when this scan began."""
    root = str(source)
    known = store.files.signatures()
    read_ns = int(store.meta("read_ns", "0") or 0)  # when the last scan began: its mtimes are judged by it
    changes = Changes()
    unreadable: list[str] = []
    listed_folders: set[str] = set()
    stat = not store.fresh  # a new store knows no file: each is read, and stat-ed there
    for listed in _listings(root, known, started_ns, workers, stat):
        listed_folders.add(listed.folder)
        if listed.problem is not None:
            unreadable.append(listed.folder)
            kept = "kept as the last build read them" if listed.folder in known else "not read"
            message = f"cannot list this folder ({listed.problem}); its records are {kept}: fix its permissions"
            changes.problems.append(Problem(join(root, listed.folder), message))
            continue
        changes.signatures[listed.folder] = listed.signature
        stored = None if listed.files is None else store.files.in_folder(listed.folder)
        if listed.files is None or stored is None:
            continue
        for seen in listed.files:
            path, size, mtime = seen
            row = stored.pop(path, None)
            if row is not None and (row.size, row.mtime) == (size, mtime) and mtime + RACY_NS < read_ns:
                continue
            changes.todo.append(seen)
            if row is not None:
                changes.known[path] = row
        changes.removed.extend(stored)
    for folder in known:
        if folder in listed_folders or any(folder == u or folder.startswith(f"{u}/") or not u for u in unreadable):
            continue
        changes.gone.append(folder)
        changes.removed.extend(store.files.in_folder(folder))
    return changes
