"""Incremental reading: records are parsed again only when their file changed.

The cache is one file in its own folder. It maps each record file to its size,
modification time, content digest, a small summary (what selection needs) and
the pickled parse result (loaded only for entries that are rendered). A file
is trusted unchanged when size and mtime match, unless its mtime is too close
to the cache's own write time to tell (the "racily clean" case): then its
content digest decides. A cache from another release, or one that cannot be
read whole, is discarded and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .model import Problem, Provider, Record, Severity
from .records import MAX_FILE_BYTES, SUFFIXES, ParseResult, parse_record
from .selection import Listing

FORMAT = 3  # bump when the cache layout or the meaning of a parse changes
CACHE_FILE = "records.cache"
RACY_NS = 2_000_000_000  # mtimes this close to the cache's write time are not trusted
PARALLEL_FROM = 2_000  # files to parse before a second process pays off
_KEY = f"feeds {__version__} cache {FORMAT}"


@dataclass(frozen=True)
class Summary:
    """A cached record's identity and grouping fields: a ``Listing`` without the rest."""

    path: str
    url: str
    published_at: datetime
    is_published: bool
    topics: tuple[str, ...]
    provider: Provider


# (size, mtime_ns, digest, summary fields or None, pickled ParseResult, problems as tuples)
_Entry = tuple[int, int, bytes, tuple[Any, ...] | None, bytes, tuple[tuple[Any, ...], ...]]
_Parsed = tuple[bytes, tuple[Any, ...] | None, bytes, tuple[tuple[Any, ...], ...]]


@dataclass
class Scan:
    """The state of the record folder after reading what changed."""

    listings: list[Listing]
    problems: list[Problem]
    parsed: int  # files parsed this run
    reused: int  # files taken from the cache
    removed: int  # cached files that no longer exist
    entries: dict[str, _Entry]
    rejected: int

    def fetch(self, listing: Listing) -> Record:
        """The full record behind a listing (unpickled on demand for cached ones)."""
        if isinstance(listing, Record):
            return listing
        record = pickle.loads(self.entries[listing.path][4]).record  # noqa: S301 - our own cache file
        assert isinstance(record, Record)
        return record


def _walk(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every record file below ``folder`` with its stat, hidden entries skipped."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in reversed(entries):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif os.path.splitext(entry.name)[1].lower() in SUFFIXES:
                try:
                    yield entry.path, entry.stat()
                except OSError:
                    continue


def _summary_fields(result: ParseResult) -> tuple[Any, ...] | None:
    r = result.record
    if r is None:
        return None
    provider = (r.provider.name, r.provider.key, r.provider.url)
    return (r.url, r.published_at.timestamp(), r.is_published, r.topics, provider)


def _parse_one(path: str, size: int, max_bytes: int) -> tuple[bytes, ParseResult]:
    if size > max_bytes:
        message = f"file is {size} bytes, over the limit of {max_bytes}; not read"
        return b"", ParseResult(None, (Problem(path, message),))
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except OSError as e:
        return b"", ParseResult(None, (Problem(path, f"cannot read: {e.strerror or e}"),))
    return hashlib.blake2b(raw, digest_size=16).digest(), parse_record(path, raw)


def _parse_batch(jobs: list[tuple[str, int, int]]) -> list[_Parsed]:
    """Worker: parse files; return digest, summary, pickled result and problems of each."""
    out: list[_Parsed] = []
    for path, size, max_bytes in jobs:
        digest, result = _parse_one(path, size, max_bytes)
        problems = tuple((p.path, p.message, p.line, p.field, p.severity.value) for p in result.problems)
        out.append((digest, _summary_fields(result), pickle.dumps(result, protocol=5), problems))
    return out


class _Progress:
    """Calls ``report(done, total)`` as files are parsed."""

    def __init__(self, report: Callable[[int, int], None] | None, total: int) -> None:
        self.report, self.total, self.done = report, total, 0

    def advance(self, count: int) -> None:
        self.done += count
        if self.report:
            self.report(self.done, self.total)


class ParseCache:
    """The cache folder; ``load`` never fails, it starts empty when in doubt."""

    def __init__(self, folder: Path, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.folder = folder
        self.key = f"{_KEY} max {max_bytes}"
        self.max_bytes = max_bytes
        self.file = folder / CACHE_FILE
        self.entries: dict[str, _Entry] = {}
        self.saved_ns = 0
        self.state: dict[str, Any] = {}

    def load(self) -> ParseCache:
        try:
            with open(self.file, "rb") as stream:
                data = marshal.load(stream)  # noqa: S302 - our own cache file, checked below
            if not isinstance(data, dict) or data.get("key") != self.key:
                return self
            self.entries, self.saved_ns, self.state = data["entries"], data["saved_ns"], data["state"]
        except (OSError, EOFError, ValueError, TypeError, KeyError):
            self.entries, self.saved_ns, self.state = {}, 0, {}
        return self

    def scan(
        self,
        source: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        workers: int | None = None,
    ) -> Scan:
        """Read what changed below ``source``; everything else comes from the cache."""
        entries: dict[str, _Entry] = {}
        todo: list[tuple[str, os.stat_result]] = []
        for path, stat in _walk(source):
            old = self.entries.get(path)
            racy = stat.st_mtime_ns + RACY_NS >= self.saved_ns
            if old is not None and old[0] == stat.st_size and old[1] == stat.st_mtime_ns and not racy:
                entries[path] = old
            else:
                todo.append((path, stat))
        reused = len(entries)
        parsed = self._parse(todo, _Progress(progress, len(todo)), workers)
        for (path, stat), (digest, fields, blob, problems) in zip(todo, parsed, strict=True):
            entries[path] = (stat.st_size, stat.st_mtime_ns, digest, fields, blob, problems)
        removed = len(set(self.entries) - set(entries))
        self.entries = entries
        return self._assemble(entries, parsed=len(todo), reused=reused, removed=removed)

    def _parse(
        self,
        todo: list[tuple[str, os.stat_result]],
        progress: _Progress,
        workers: int | None,
    ) -> Iterator[_Parsed]:
        jobs = [(path, stat.st_size, self.max_bytes) for path, stat in todo]
        processes = workers if workers is not None else min(os.cpu_count() or 1, 4)
        if processes < 2 or len(jobs) < PARALLEL_FROM:
            for job in jobs:
                yield from _parse_batch([job])
                progress.advance(1)
            return
        size = max(50, len(jobs) // (processes * 8))
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        with ProcessPoolExecutor(processes) as pool:
            for batch in pool.map(_parse_batch, batches):
                yield from batch
                progress.advance(len(batch))

    def _assemble(self, entries: dict[str, _Entry], *, parsed: int, reused: int, removed: int) -> Scan:
        listings: list[Listing] = []
        problems: list[Problem] = []
        providers: dict[tuple[str, str, str], Provider] = {}
        rejected = 0
        for path in sorted(entries):
            _, _, _, fields, _, found = entries[path]
            problems.extend(Problem(p, m, line, f, Severity(v)) for p, m, line, f, v in found)
            if fields is None:
                rejected += 1
                continue
            url, stamp, is_published, topics, provider = fields
            shared = providers.setdefault(provider, Provider(*provider))
            when = datetime.fromtimestamp(stamp, UTC)
            listings.append(Summary(path, url, when, is_published, tuple(topics), shared))
        return Scan(listings, problems, parsed, reused, removed, entries, rejected)

    def save(self, state: dict[str, Any]) -> None:
        """Write the cache atomically; a failure only costs the next run time."""
        self.state = state
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.file.with_suffix(f".{os.getpid()}.tmp")
            data = {"key": self.key, "saved_ns": _now_ns(), "entries": self.entries, "state": state}
            with open(temporary, "wb") as stream:
                marshal.dump(data, stream)
            os.replace(temporary, self.file)
        except OSError:
            pass


def _now_ns() -> int:
    """The cache's write time, on the clock that file mtimes come from."""
    return time.time_ns()
