"""Incremental reading: records are parsed again only when their file changed.

The cache folder holds four files. ``index`` maps each record file to its
size and modification time (and its problems, if any): all that a build in
which nothing changed reads. ``details`` holds each file's content digest and
a small summary (what selection needs). Both are written whole now and then,
under a new name (``base``); ``changes`` lists the files changed since, as
they are now, so that a build which changed a few files writes only those.
``records`` keeps the full parsed records of the entries the last build put
in a feed, with the digest of the file each came from; any other record
needed later is parsed again.

A file is trusted unchanged when size and mtime match, unless its mtime is
too close to the time the build that recorded them began to look at the
files to tell (the "racily clean" case): then it is read again and its
digest decides. A cache from another release,
or one that cannot be read whole, is discarded and rebuilt, never trusted.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from .codec import decode_problems, decode_record, encode_problems, encode_record, from_micros
from .errors import FeedsError
from .model import Listing, Problem, Provider, Record
from .records import MAX_FILE_BYTES, parse_record, read_raw, walk_record_files, walk_record_paths
from .selection import Shortlist
from .version import __version__
from .workers import Workers

FORMAT = 9  # bump when the cache layout or the meaning of a parse changes
INDEX_FILE = "index"
DETAILS_FILE = "details"
RECORDS_FILE = "records"
CHANGES_FILE = "changes"
DIRTY_FILE = "dirty"  # output files a build set out to write; gone once it saved the cache
CHANGES_LIMIT = 2_000  # files the changes file may list before index and details are written whole again
RACY_NS = 2_000_000_000  # mtimes this close to the time the files were looked at are not trusted
PARALLEL_FROM = 1_000  # files to parse before a second process pays off
_KEY = f"feeds {__version__} cache {FORMAT}"

# what a parse returns: (digest of the file, its size and mtime (None: the file is gone), summary
# fields or None, problems, the record, marshalled)
_Parsed = tuple[bytes, tuple[int, int] | None, tuple[Any, ...] | None, tuple[tuple[Any, ...], ...], bytes]


class Summary(NamedTuple):
    """A cached record's identity and grouping fields: a ``Listing`` without the rest.

    A named tuple rather than a dataclass: a build makes one per record file,
    and a tuple is made several times faster.
    """

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


def _parse_batch(jobs: list[tuple[str, int]]) -> list[_Parsed]:
    """Worker: stat, read and parse files; return what the cache keeps of each, as plain values.

    The stat comes first: should the file change while it is read, its mtime
    differs from the one recorded and the next build reads it again. The
    record travels marshalled: one bytes object per record is cheap to send,
    and the reader unpacks only the few it keeps.
    """
    out: list[_Parsed] = []
    for path, max_bytes in jobs:
        try:
            stat = os.stat(path)
            seen: tuple[int, int] | None = (stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:  # gone since the walk (or a dangling link): as if never seen
            out.append((b"", None, None, (), b""))
            continue
        except OSError:
            seen = (-1, -1)  # matches no file: read again next time
        raw = read_raw(path, max_bytes)
        if isinstance(raw, Problem):
            out.append((b"", seen, None, encode_problems((raw,)), b""))
            continue
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        result = parse_record(path, raw)
        problems = encode_problems(result.problems)
        r = result.record
        if r is None:
            out.append((digest, seen, None, problems, b""))
            continue
        record = encode_record(r)
        fields = (r.url, record[3], r.is_published, r.topics, record[5])  # url, time, flag, topics, provider
        out.append((digest, seen, fields, problems, marshal.dumps(record)))
    return out


def _without_collector(load: Callable[[bytes], Any], data: bytes) -> Any:
    """Load many objects at once without the cycle collector walking them again and again.

    marshal makes no reference cycles, so the collector has nothing to find.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return load(data)
    finally:
        if enabled:
            gc.enable()


class ParseCache:
    """The cache folder. ``load`` never fails: it starts empty when in doubt."""

    def __init__(self, folder: Path | None, max_bytes: int = MAX_FILE_BYTES, workers: Workers | None = None) -> None:
        self.folder = folder
        self.key = f"{_KEY} max {max_bytes}"
        self.max_bytes = max_bytes
        self.workers = workers  # None: processes of its own for each large parse
        self.stats: dict[str, tuple[int, int]] = {}  # path -> (size, mtime_ns): all a quiet build reads
        self.found: dict[str, tuple[tuple[Any, ...], ...]] = {}  # path -> its problems, when it has any
        self._details: dict[str, tuple[bytes, tuple[Any, ...] | None]] | None = None  # path -> (digest, summary)
        self._topics: list[str] = []  # the tables the summaries' numbers point into
        self._providers: list[tuple[str, str, str]] = []
        self._topic_ids: dict[str, int] = {}
        self._provider_ids: dict[tuple[str, str, str], int] = {}
        self._topic_tuples: dict[tuple[str, ...], tuple[int, ...]] = {}  # each record's topics, as numbers
        self.read_ns = 0  # when the files the index describes were looked at: their mtimes are judged by it
        self.state: dict[str, Any] = {}
        self.changed = False  # whether the index differs from the one on disk
        self.base = ""  # names the last whole write of index and details; changes apply to that one only
        self.lost = False  # whether the details of the files in the index turned out to be lost
        self._started_ns = 0  # when this build began to look at the files
        self.dirty: frozenset[str] = frozenset()  # outputs an unfinished build may have written
        self._since_base: dict[str, None] = {}  # files changed since, in the changes file
        self._fresh: dict[str, bytes] = {}  # records parsed this run that may be rendered, marshalled
        self._disk: dict[str, tuple[bytes, bytes]] | None = None  # the records file: path -> (digest, record)
        self._used: dict[str, tuple[bytes, bytes]] = {}  # the records to keep for the next build

    # ---- reading and writing the cache itself

    def _load(self, name: str) -> dict[str, Any] | None:
        if self.folder is None:
            return None
        try:
            with open(self.folder / name, "rb") as stream:
                # one read, then loads: marshal.load reads a file object a few bytes at a time
                data = _without_collector(marshal.loads, stream.read())
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return data if isinstance(data, dict) and data.get("key") == self.key else None

    def load(self) -> ParseCache:
        data = self._load(INDEX_FILE)
        try:
            if data is not None:
                self.stats, self.found, self.base = dict(data["stats"]), dict(data["found"]), str(data["base"])
                self.read_ns, self.state = int(data["read_ns"]), dict(data["state"])
                changes = self._load(CHANGES_FILE)
                if changes is not None and changes["base"] == self.base:
                    self._apply(self.stats, changes["stats"])
                    self._apply(self.found, changes["found"])
                    self.read_ns, self.state = int(changes["read_ns"]), dict(changes["state"])
                    self._since_base = dict(changes["paths"])
        except (KeyError, TypeError, ValueError, AttributeError):  # not ours after all: start empty
            self.stats, self.found, self.base, self.read_ns, self.state, self._since_base = {}, {}, "", 0, {}, {}
        dirty = self._load(DIRTY_FILE)
        paths = dirty.get("paths") if dirty else None
        self.dirty = (
            frozenset(paths) if isinstance(paths, list) and all(isinstance(p, str) for p in paths) else frozenset()
        )
        return self

    def mark(self, paths: Iterable[str]) -> None:
        """Note the output files a build is about to write, until ``save`` says it finished.

        A build that dies after writing some of them leaves the note, so the
        next build makes those files again and reports them as changed.
        """
        if self.folder is None:
            return
        self.dirty = self.dirty | frozenset(paths)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write(DIRTY_FILE, {"key": self.key, "paths": sorted(self.dirty)})
        except OSError:
            pass

    @staticmethod
    def _apply(target: dict[str, Any], changes: dict[str, Any]) -> None:
        """Bring a table of the last full write up to date: None stands for an entry removed."""
        for path, value in changes.items():
            if value is None:
                target.pop(path, None)
            else:
                target[path] = value

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
            if not isinstance(loaded, dict) or data.get("base") != self.base:
                loaded = None
            elif self._since_base:
                changes = self._load(CHANGES_FILE) or {}
                topics, providers = changes.get("topics"), changes.get("providers")
                try:
                    self._apply(loaded, changes["details"])
                except (KeyError, TypeError, ValueError, AttributeError):
                    loaded = None
            fine = loaded is not None and loaded.keys() == self.stats.keys()
            if fine and isinstance(topics, list) and isinstance(providers, list):
                self._details, self._topics, self._providers = loaded, topics, providers
            else:  # lost, damaged or out of step with the index: parse everything again, write all anew
                self.lost = bool(self.stats)
                self._details, self.stats, self.found, self._since_base = {}, {}, {}, {}
                self._topics, self._providers, self.base = [], [], ""
            self._topic_ids = {t: i for i, t in enumerate(self._topics)}
            self._provider_ids = {p: i for i, p in enumerate(self._providers)}
        assert self._details is not None
        return self._details

    def intact(self) -> bool:
        """Whether the details of every file in the index are at hand (reading them if need be).

        When they are not, the index is emptied too, and the next ``refresh`` reads every file.
        """
        return bool(self.details) or not self.lost

    def _encode(self, fields: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        """A parse's summary with its topics and provider as numbers into the tables."""
        if fields is None:
            return None
        url, micros, is_published, topics, provider = fields
        topic_ids = self._topic_tuples.get(topics)
        if topic_ids is None:
            for topic in topics:
                if topic not in self._topic_ids:
                    self._topic_ids[topic] = len(self._topics)
                    self._topics.append(topic)
            topic_ids = self._topic_tuples[topics] = tuple(self._topic_ids[topic] for topic in topics)
        provider_id = self._provider_ids.get(provider)
        if provider_id is None:
            provider_id = self._provider_ids[provider] = len(self._providers)
            self._providers.append(provider)
        return (url, micros, is_published, topic_ids, provider_id)

    def save(self, state: dict[str, Any]) -> None:
        """Write what changed, atomically; a failure only costs the next run time.

        A build that changed a few files writes only them, to the changes file;
        index and details are written whole once the changes pile up (or
        after a cold read), and the changes file then starts again.
        """
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._used != self._records_file():
                self._write(RECORDS_FILE, {"key": self.key, "records": self._used})
            # Every build reads the changes file with the index, so it is kept small.
            small = len(self._since_base) <= min(CHANGES_LIMIT, max(16, len(self.stats) // 10))
            if not self.changed and state == self.state:
                pass
            elif self.base and small:
                self._write_changes(state)
            else:  # details first: an index never describes details that are not there
                self.base, self._since_base = os.urandom(8).hex(), {}
                tables = {"topics": self._topics, "providers": self._providers}
                self._write(DETAILS_FILE, {"key": self.key, "base": self.base, "details": self.details, **tables})
                index = {"key": self.key, "base": self.base, "stats": self.stats, "found": self.found}
                self._write(INDEX_FILE, {**index, "read_ns": self._started_ns or time.time_ns(), "state": state})
                (self.folder / CHANGES_FILE).unlink(missing_ok=True)
            (self.folder / DIRTY_FILE).unlink(missing_ok=True)
            self.dirty = frozenset()
        except OSError:
            pass
        self.state = state

    def _write_changes(self, state: dict[str, Any]) -> None:
        """Every file changed since index and details were last written whole, as it is now."""
        details = self.details
        self._write(
            CHANGES_FILE,
            {
                "key": self.key,
                "base": self.base,
                "paths": self._since_base,
                "read_ns": self._started_ns or time.time_ns(),
                "state": state,
                "stats": {path: self.stats.get(path) for path in self._since_base},
                "found": {path: self.found.get(path) for path in self._since_base},
                "details": {path: details.get(path) for path in self._since_base},
                "topics": self._topics,
                "providers": self._providers,
            },
        )

    def _write(self, name: str, data: dict[str, Any]) -> None:
        assert self.folder is not None
        temporary = self.folder / f".{name}.{os.getpid()}.tmp"
        with open(temporary, "wb") as stream:
            marshal.dump(data, stream)
        os.replace(temporary, self.folder / name)

    def _records_file(self) -> dict[str, tuple[bytes, bytes]]:
        """The records the last build rendered, each with the digest of the file it was parsed from."""
        if self._disk is None:
            data = self._load(RECORDS_FILE)
            records = data.get("records") if data else None
            self._disk = records if isinstance(records, dict) else {}
        return self._disk

    # ---- scanning the record folder

    def scan(self, source: Path, *, progress: Callable[[int, int], None] | None = None) -> Scan:
        """Read what changed below ``source``; everything else comes from the cache."""
        parsed, reused, removed = self.refresh(source, progress=progress)
        return self.assemble(parsed=parsed, reused=reused, removed=removed)

    def refresh(
        self,
        source: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        shortlist: Shortlist | None = None,
    ) -> tuple[int, int, int]:
        """Bring the index up to date with ``source``: (files parsed, reused, removed).

        The records parsed are kept in memory for ``fetch`` while ``shortlist``
        says they may be rendered (without one, none is kept).
        """
        self._started_ns = self._started_ns or time.time_ns()  # before any stat: see RACY_NS
        stats: dict[str, tuple[int, int]] = {}
        todo: list[str] = []
        if not self.stats:  # nothing cached: every file is parsed, and the workers stat them
            todo = list(walk_record_paths(source))
        else:
            for path, stat in walk_record_files(source):
                old = self.stats.get(path)
                racy = stat.st_mtime_ns + RACY_NS >= self.read_ns
                if old is not None and old == (stat.st_size, stat.st_mtime_ns) and not racy:
                    stats[path] = old
                else:
                    todo.append(path)
        removed = self.stats.keys() - stats.keys() - set(todo)
        if not todo and not removed:
            return 0, len(stats), 0
        details = self.details  # needed now: what changed, and what is kept
        if not details:  # the details were lost: every file is new
            todo, stats, removed = [*todo, *stats], {}, set()
        reused = len(stats)

        def take(at: int, parsed: list[_Parsed]) -> None:
            for path, (digest, stat, fields, problems, record) in zip(todo[at : at + len(parsed)], parsed, strict=True):
                if stat is None:  # vanished: skipped, as a walk skips it
                    details.pop(path, None)
                    self.found.pop(path, None)
                    continue
                stats[path] = stat
                details[path] = (digest, self._encode(fields))
                if problems:
                    self.found[path] = problems
                else:
                    self.found.pop(path, None)
                if fields is not None and shortlist is not None:
                    self._fresh[path] = record
                    _, micros, is_published, topics, (_, provider, _) = fields
                    for dropped in shortlist.offer(path, micros, is_published, topics, provider):
                        del self._fresh[dropped]

        self._parse(todo, progress, take)
        for path in removed:
            details.pop(path, None)
            self.found.pop(path, None)
        self._since_base.update(dict.fromkeys([*todo, *removed]))
        self.stats, self.changed = stats, True
        return len(todo), reused, len(removed)

    def _parse(
        self,
        paths: list[str],
        progress: Callable[[int, int], None] | None,
        take: Callable[[int, list[_Parsed]], None],
    ) -> None:
        """Parse ``paths``, handing each batch of results to ``take`` with its first index, in order."""
        jobs = [(path, self.max_bytes) for path in paths]
        workers = self.workers or Workers()
        if workers.count < 2 or len(jobs) < PARALLEL_FROM:
            for done, job in enumerate(jobs):
                take(done, _parse_batch([job]))
                if progress:
                    progress(done + 1, len(jobs))
            return
        with nullcontext(workers) if self.workers else workers:  # a pool of its own is stopped when done
            size = max(50, len(jobs) // (workers.count * 8))
            batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
            for number, batch in enumerate(workers.map(_parse_batch, batches)):
                take(number * size, batch)
                if progress:
                    progress(min((number + 1) * size, len(jobs)), len(jobs))

    def problems(self) -> list[Problem]:
        """Every problem of every file, in path order."""
        return [problem for path in sorted(self.found) for problem in decode_problems(self.found[path])]

    def assemble(self, *, parsed: int = 0, reused: int = 0, removed: int = 0) -> Scan:
        listings: list[Listing] = []
        details = self.details
        providers = [Provider(*provider) for provider in self._providers]
        topics = self._topics
        names: dict[tuple[int, ...], tuple[str, ...]] = {}  # few distinct combinations, many records
        rejected = 0
        for path, (_, fields) in sorted(details.items()):
            if fields is None:
                rejected += 1
                continue
            url, micros, is_published, topic_ids, provider = fields
            when = from_micros(micros)
            topic_names = names.get(topic_ids)
            if topic_names is None:
                topic_names = names[topic_ids] = tuple(topics[i] for i in topic_ids)
            listings.append(Summary(path, url, when, is_published, topic_names, providers[provider]))
        return Scan(listings, self.problems(), parsed, reused, removed, rejected)

    # ---- full records for the entries that are rendered

    def identity(self, listing: Listing, topics: tuple[str, ...], provider: str) -> str:
        """What an entry is made from: its file's digest, which stands for everything parsed
        from it, and the names selection gives its topics and provider."""
        return f"{self.details[listing.path][0].hex()} {topics!r} {provider!r}"

    def _at_hand(self, path: str) -> bytes | None:
        """The record of ``path`` from this run's parses, or from the records file if its file is unchanged."""
        blob = self._fresh.get(path)
        if blob is None:
            kept = self._records_file().get(path)
            blob = kept[1] if kept is not None and kept[0] == self.details[path][0] else None
        return blob

    def keep(self, listings: Iterable[Listing]) -> None:
        """Keep the records behind ``listings`` for the next build, as far as they are at hand."""
        for listing in listings:
            if listing.path not in self._used and (blob := self._at_hand(listing.path)) is not None:
                self._used[listing.path] = (self.details[listing.path][0], blob)

    def fetch(self, listings: Sequence[Listing]) -> list[Record]:
        """The full records behind ``listings``, in order.

        Each comes from this run's parses, else from the records file if the
        file it was parsed from is unchanged, else from parsing its file again.
        """
        details = self.details
        found = {listing.path: blob for listing in listings if (blob := self._at_hand(listing.path)) is not None}
        missing = [listing.path for listing in listings if listing.path not in found]

        def take(at: int, parsed: list[_Parsed]) -> None:
            for path, (digest, _, fields, _, blob) in zip(missing[at : at + len(parsed)], parsed, strict=True):
                if fields is not None and digest == details[path][0]:
                    found[path] = self._fresh[path] = blob

        self._parse(missing, None, take)
        providers: dict[tuple[str, str, str], Provider] = {}
        records = []
        for listing in listings:
            blob = found.get(listing.path)
            record = None if blob is None else decode_record(marshal.loads(blob), providers)  # noqa: S302 - ours
            if record is None or record.url != listing.url:
                raise FeedsError(f"{listing.path}: changed while the build was running; build again")
            records.append(record)
        return records
