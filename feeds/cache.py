"""Incremental reading: records are parsed again only when their file changed.

The cache folder holds three files. ``index`` maps each record file to its
size and modification time (and its problems, if any): all that a build in
which nothing changed reads. ``details`` holds each file's content digest and
a small summary (what selection needs). ``records`` keeps the full parsed records of the entries the last build put
in a feed, the only ones a build renders; any other record needed later is
parsed again from its file.

A file is trusted unchanged when size and mtime match, unless its mtime is
too close to the index's own write time to tell (the "racily clean" case):
then it is read again and its digest decides. A cache from another release,
or one that cannot be read whole, is discarded and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import pickle
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .errors import FeedsError
from .model import Problem, Provider, Record, Severity
from .records import MAX_FILE_BYTES, ParseResult, parse_record, read_raw, walk_record_files
from .selection import Listing

FORMAT = 6  # bump when the cache layout or the meaning of a parse changes
INDEX_FILE = "index"
DETAILS_FILE = "details"
RECORDS_FILE = "records"
RACY_NS = 2_000_000_000  # mtimes this close to the index's write time are not trusted
PARALLEL_FROM = 1_000  # files to parse before a second process pays off
KEEP_PARSED = 5_000  # a run that parses more keeps only summaries in memory
_KEY = f"feeds {__version__} cache {FORMAT}"

# what a parse returns: (digest, summary fields, problems, the pickled result or b"")
_Parsed = tuple[bytes, tuple[Any, ...] | None, tuple[tuple[Any, ...], ...], bytes]


@dataclass(frozen=True)
class Summary:
    """A cached record's identity and grouping fields: a ``Listing`` without the rest."""

    path: str
    url: str
    published_at: datetime
    is_published: bool
    topics: tuple[str, ...]
    provider: Provider


@dataclass
class Scan:
    """The record folder after reading what changed."""

    listings: list[Listing]
    problems: list[Problem]
    parsed: int  # files parsed this run
    reused: int  # files taken from the cache
    removed: int  # cached files that no longer exist
    rejected: int


def _read(path: str, max_bytes: int) -> tuple[bytes, ParseResult]:
    raw = read_raw(path, max_bytes)
    if isinstance(raw, Problem):
        return b"", ParseResult(None, (raw,))
    return hashlib.blake2b(raw, digest_size=16).digest(), parse_record(path, raw)


def _parse_batch(jobs: list[tuple[str, int, bool]]) -> list[_Parsed]:
    """Worker: parse files; return digest, summary, problems (and the pickled result if asked)."""
    out: list[_Parsed] = []
    for path, max_bytes, keep in jobs:
        digest, result = _read(path, max_bytes)
        r = result.record
        fields = None
        if r is not None:
            provider = (r.provider.name, r.provider.key, r.provider.url)
            fields = (r.url, r.published_at.timestamp(), r.is_published, r.topics, provider)
        problems = tuple((p.path, p.message, p.line, p.field, p.severity.value) for p in result.problems)
        out.append((digest, fields, problems, pickle.dumps(result, protocol=5) if keep else b""))
    return out


class ParseCache:
    """The cache folder. ``load`` never fails: it starts empty when in doubt."""

    def __init__(self, folder: Path | None, max_bytes: int = MAX_FILE_BYTES, workers: int | None = None) -> None:
        self.folder = folder
        self.key = f"{_KEY} max {max_bytes}"
        self.max_bytes = max_bytes
        self.workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
        self.stats: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns): all a quiet build reads
        self.found: dict[str, tuple[tuple[Any, ...], ...]] = {}  # path -> its problems, when it has any
        self._details: dict[str, tuple[bytes, tuple[Any, ...] | None]] | None = None  # path -> (digest, summary)
        self._topics: list[str] = []  # the tables the summaries' numbers point into
        self._providers: list[tuple[str, str, str]] = []
        self._topic_ids: dict[str, int] = {}
        self._provider_ids: dict[tuple[str, str, str], int] = {}
        self.saved_ns = 0
        self.state: dict[str, Any] = {}
        self.changed = False  # whether the index differs from the one on disk
        self._blobs: dict[str, bytes] = {}  # pickled results: fresh ones, then those on disk
        self._blobs_loaded = False
        self._disk: dict[str, bytes] = {}  # the results in the records file
        self._used: dict[str, bytes] = {}  # the results this build put in a feed

    # ---- reading and writing the cache itself

    def _load(self, name: str) -> dict[str, Any] | None:
        if self.folder is None:
            return None
        try:
            with open(self.folder / name, "rb") as stream:
                data = marshal.load(stream)  # noqa: S302 - our own file, checked below
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return data if isinstance(data, dict) and data.get("key") == self.key else None

    def load(self) -> ParseCache:
        data = self._load(INDEX_FILE)
        try:
            if data is not None:
                self.stats, self.found = data["stats"], data["found"]
                self.saved_ns, self.state = data["saved_ns"], data["state"]
        except KeyError:
            self.stats, self.found, self.saved_ns, self.state = {}, {}, 0, {}
        return self

    @property
    def details(self) -> dict[str, tuple[bytes, tuple[Any, ...] | None]]:
        """Digest and summary of every file, read from disk the first time they are needed.

        In a summary, topics and the provider are numbers into two tables: a
        few hundred names stand for millions of repeats, which keeps the file
        small and quick to load.
        """
        if self._details is None:
            data = self._load(DETAILS_FILE) or {}
            loaded, topics, providers = data.get("details"), data.get("topics"), data.get("providers")
            fine = isinstance(loaded, dict) and loaded.keys() == self.stats.keys()
            if fine and isinstance(topics, list) and isinstance(providers, list):
                self._details, self._topics, self._providers = loaded, topics, providers
            else:  # lost, damaged or out of step with the index: parse everything again
                self._details, self.stats, self.found = {}, {}, {}
            self._topic_ids = {t: i for i, t in enumerate(self._topics)}
            self._provider_ids = {p: i for i, p in enumerate(self._providers)}
        assert self._details is not None
        return self._details

    def _encode(self, fields: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """A parse's summary with its topics and provider as numbers into the tables."""
        if fields is None:
            return None
        url, stamp, is_published, topics, provider = fields
        topic_ids = []
        for topic in topics:
            if topic not in self._topic_ids:
                self._topic_ids[topic] = len(self._topics)
                self._topics.append(topic)
            topic_ids.append(self._topic_ids[topic])
        if provider not in self._provider_ids:
            self._provider_ids[provider] = len(self._providers)
            self._providers.append(provider)
        return (url, stamp, is_published, tuple(topic_ids), self._provider_ids[provider])

    def save(self, state: dict[str, Any]) -> None:
        """Write what changed, atomically; a failure only costs the next run time."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._load_blobs()
            if self._used != self._disk:
                self._write(RECORDS_FILE, {"key": self.key, "records": self._used})
            if self.changed:  # details first: an index never describes details that are not there
                tables = {"topics": self._topics, "providers": self._providers}
                self._write(DETAILS_FILE, {"key": self.key, "details": self.details, **tables})
            if self.changed or state != self.state:
                index = {"key": self.key, "saved_ns": time.time_ns(), "stats": self.stats, "found": self.found}
                self._write(INDEX_FILE, {**index, "state": state})
        except OSError:
            pass
        self.state = state

    def _write(self, name: str, data: dict[str, Any]) -> None:
        assert self.folder is not None
        temporary = self.folder / f".{name}.{os.getpid()}.tmp"
        with open(temporary, "wb") as stream:
            marshal.dump(data, stream)
        os.replace(temporary, self.folder / name)

    def _load_blobs(self) -> None:
        if not self._blobs_loaded:
            self._blobs_loaded = True
            data = self._load(RECORDS_FILE)
            on_disk = data.get("records") if data else None
            self._disk = on_disk if isinstance(on_disk, dict) else {}
            for path, blob in self._disk.items():
                if path in self.stats:  # a changed file's old result was dropped by refresh
                    self._blobs.setdefault(path, blob)

    # ---- scanning the record folder

    def scan(self, source: Path, *, progress: Callable[[int, int], None] | None = None) -> Scan:
        """Read what changed below ``source``; everything else comes from the cache."""
        parsed, reused, removed = self.refresh(source, progress=progress)
        return self.assemble(parsed=parsed, reused=reused, removed=removed)

    def refresh(self, source: Path, *, progress: Callable[[int, int], None] | None = None) -> tuple[int, int, int]:
        """Bring the index up to date with ``source``: (files parsed, reused, removed)."""
        stats: dict[str, tuple[int, int]] = {}
        todo: list[tuple[str, os.stat_result]] = []
        for path, stat in walk_record_files(source):
            old = self.stats.get(path)
            racy = stat.st_mtime_ns + RACY_NS >= self.saved_ns
            if old is not None and old == (stat.st_size, stat.st_mtime_ns) and not racy:
                stats[path] = old
            else:
                todo.append((path, stat))
        removed = self.stats.keys() - stats.keys() - {path for path, _ in todo}
        if not todo and not removed:
            return 0, len(stats), 0
        details = self.details  # needed now: what changed, and what is kept
        if not details:  # the details were lost: every file is new
            todo = [*((p, s) for p, s in todo), *((p, os.stat(p)) for p in stats)]
            stats, removed = {}, set()
        reused = len(stats)
        keep = len(todo) <= KEEP_PARSED
        parsed = self._parse([path for path, _ in todo], keep, progress)
        for (path, stat), (digest, parsed_fields, problems, blob) in zip(todo, parsed, strict=True):
            fields = self._encode(parsed_fields)
            if details.get(path) != (digest, fields) or self.found.get(path, ()) != problems:
                self._blobs.pop(path, None)  # a stale result must never be rendered
            if blob:
                self._blobs[path] = blob
            stats[path] = (stat.st_size, stat.st_mtime_ns)
            details[path] = (digest, fields)
            if problems:
                self.found[path] = problems
            else:
                self.found.pop(path, None)
        for path in removed:
            details.pop(path, None)
            self.found.pop(path, None)
        self.stats, self.changed = stats, True
        return len(todo), reused, len(removed)

    def _parse(self, paths: list[str], keep: bool, progress: Callable[[int, int], None] | None) -> list[_Parsed]:
        jobs = [(path, self.max_bytes, keep) for path in paths]
        if self.workers < 2 or len(jobs) < PARALLEL_FROM:
            results = []
            for done, job in enumerate(jobs, start=1):
                results.extend(_parse_batch([job]))
                if progress:
                    progress(done, len(jobs))
            return results
        size = max(50, len(jobs) // (self.workers * 8))
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        results = []
        with ProcessPoolExecutor(self.workers) as pool:
            for batch in pool.map(_parse_batch, batches):
                results.extend(batch)
                if progress:
                    progress(len(results), len(jobs))
        return results

    def problems(self) -> list[Problem]:
        """Every problem of every file, in path order."""
        return [
            Problem(p, m, line, f, Severity(v)) for path in sorted(self.found) for p, m, line, f, v in self.found[path]
        ]

    def assemble(self, *, parsed: int = 0, reused: int = 0, removed: int = 0) -> Scan:
        listings: list[Listing] = []
        details = self.details
        providers = [Provider(*provider) for provider in self._providers]
        topics = self._topics
        rejected = 0
        for path, (_, fields) in sorted(details.items()):
            if fields is None:
                rejected += 1
                continue
            url, stamp, is_published, topic_ids, provider = fields
            when = datetime.fromtimestamp(stamp, UTC)
            names = tuple(topics[i] for i in topic_ids)
            listings.append(Summary(path, url, when, is_published, names, providers[provider]))
        return Scan(listings, self.problems(), parsed, reused, removed, rejected)

    # ---- full records for the entries that are rendered

    def fetch(self, listings: Sequence[Listing]) -> list[Record]:
        """The full records behind ``listings``, in order; kept for the next build."""
        self._load_blobs()
        missing = [listing.path for listing in listings if listing.path not in self._blobs]
        for path, (_, _, _, blob) in zip(missing, self._parse(missing, True, None), strict=True):
            self._blobs[path] = blob
        records = []
        for listing in listings:
            blob = self._blobs[listing.path]
            result = pickle.loads(blob)  # noqa: S301 - our own cache or a worker of ours
            if result.record is None or result.record.url != listing.url:
                raise FeedsError(f"{listing.path}: changed while the build was running; build again")
            self._used[listing.path] = blob
            records.append(result.record)
        return records
