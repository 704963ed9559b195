"""The read stage of a build: scan the records folder, parse what changed, bring the store up to date.

Files are read and parsed in the worker processes when there are many. Each
comes back as plain values (``store.Parsed``) and its record packed; while
many are read, ``selection.Shortlist`` says which packed records could still
reach a feed, and only those are held.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .codec import decode_problems, encode_problems, encode_record
from .model import EPOCH, Listing, Problem, Provider, Record, to_micros
from .records import MAX_FILE_BYTES, ParseResult, parse_record, read_raw
from .scan import Seen, join, scan, signature, walk
from .selection import Shortlist
from .store import Delta, Parsed, Store, url_key
from .workers import Workers

PARALLEL_FROM = 1_000  # files to parse before the worker processes pay off
# Files a worker parses in one go: its results (about 2.5 KB a record) stay a few MB, however
# large the folder; at 1M records unbounded batches of 62,500 held over 1 GB in flight.
BATCH_FILES = 2_000
LOCAL_BATCH_FILES = 100  # in this process: the progress bar still moves, the store's statements are few

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Reading:
    """What the read stage did, and the packed records it holds for rendering."""

    delta: Delta
    parsed: int  # files read and parsed
    same: int  # of those, files read again whose bytes were what the store had (a touched file)
    reused: int  # files taken as the store had them
    removed: int  # files gone since the last build
    problems: tuple[Problem, ...]  # of the folder itself (a folder that cannot be listed)
    fresh: dict[str, bytes]  # path -> packed record, of files parsed now that may be rendered

    @property
    def changed(self) -> bool:
        return bool(self.parsed > self.same or self.removed or self.delta.entered or self.delta.left)


def parse_batch(jobs: list[tuple[str, str, int]]) -> list[tuple[Any, ...]]:
    """Worker: stat, read and parse files; each as the plain values of a ``Parsed`` and its packed record.

    The stat comes first: should the file change while it is read, its mtime
    differs from the one recorded and the next build reads it again. A file
    gone since the scan comes back with a size of None.
    """
    out: list[tuple[Any, ...]] = []
    for root, path, max_bytes in jobs:
        full = join(root, path)
        try:
            stat = os.stat(full)
            size, mtime = stat.st_size, stat.st_mtime_ns
        except FileNotFoundError:  # gone since the scan (or a dangling link): as if never there
            out.append((path, None, 0, b"", None, None, b""))
            continue
        except OSError:
            size, mtime = -1, -1  # matches no file: read again next time
        raw = read_raw(full, max_bytes)
        if isinstance(raw, Problem):
            out.append((path, size, mtime, b"", marshal.dumps(encode_problems((raw,))), None, b""))
            continue
        result = parse_record(full, raw)
        problems = marshal.dumps(encode_problems(result.problems)) if result.problems else None
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        record = result.record
        if record is None:
            out.append((path, size, mtime, digest, problems, None, b""))
            continue
        packed = marshal.dumps(encode_record(record))
        out.append((path, size, mtime, digest, problems, listing_values(record), packed))
    return out


def listing_values(record: Record) -> tuple[Any, ...]:
    """A record's listing as plain values, as a worker sends it and the store takes it.

    (url, time in microseconds, published, topics, (provider name, key, URL), URL key); the key
    is worked out here, in the worker, rather than in the process that fills the store.
    """
    provider = record.provider
    return (
        record.url,
        to_micros(record.published_at),
        record.is_published,
        record.topics,
        (provider.name, provider.key, provider.url),
        url_key(record.url),
    )


def _listing(full: str, values: tuple[Any, ...], providers: dict[tuple[str, str, str], Provider]) -> Listing:
    """The listing of the file at ``full`` from its values; ``providers`` shares equal providers between listings."""
    url, micros, is_published, topics, fields, _ = values
    provider = providers.get(fields)
    if provider is None:
        provider = providers[fields] = Provider(*fields)
    return Listing(full, url, micros, is_published, topics, provider)


def read(
    source: Path,
    store: Store,
    workers: Workers,
    now: datetime,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    shortlist: Shortlist | None = None,
    progress: Progress | None = None,
    hold: bool = True,
) -> Reading:
    """Bring ``store`` up to date with ``source`` as of ``now`` (inside the caller's transaction).

    Without ``hold`` (a check, which renders nothing) no packed record is kept for rendering.
    """
    started = time.time_ns()  # before any stat: the next scan judges mtimes by it
    root = str(source)
    changes = scan(source, store, workers, started)
    before = store.counts.files
    fresh: dict[str, bytes] = {}
    parsed = removed = same = 0
    signatures = changes.signatures

    def take(batch: list[tuple[Any, ...]]) -> None:
        nonlocal removed, same
        items: list[Parsed] = []
        vanished: list[str] = []
        for path, size, mtime, digest, problems, listing, packed in batch:
            if size is None:
                vanished.append(path)
                continue
            item = Parsed(path, size, mtime, digest, problems, listing)
            items.append(item)
            if path in changes.known and changes.known[path].digest == digest:
                same += 1  # the same bytes give the same listing and problems
            seen = seen_stats.get(path)
            folder = path.rpartition("/")[0]
            if seen == (-2, -2):  # listed without a stat: the signature is made of the stats taken here
                stats.setdefault(folder, []).append((path, size, mtime))
            elif seen != (size, mtime):  # changed between the scan and the read: no signature to trust
                signatures[folder] = None
            if listing is None or not hold:
                continue
            full = join(root, path)
            fresh[full] = packed
            if shortlist is not None:
                for dropped in shortlist.offer(_listing(full, listing, providers)):
                    fresh.pop(dropped, None)
        known_vanished = [path for path in vanished if path in changes.known]
        store.files.change(items, known_vanished, changes.known)
        removed += len(known_vanished)

    seen_stats = {path: (size, mtime) for path, size, mtime in changes.todo}
    providers: dict[tuple[str, str, str], Provider] = {}
    stats: dict[str, list[Seen]] = {}
    _parse(root, changes.todo, max_bytes, workers, take, progress)
    for folder, found in stats.items():
        signatures[folder] = signature(found, started)
    parsed = len(changes.todo) - removed
    store.files.change([], changes.removed, {})
    store.files.set_signatures(signatures, changes.gone)
    store.set_meta("read_ns", str(started))
    delta = store.visibility.update(now)
    removed += len(changes.removed)
    reused = before - len(changes.known) - len(changes.removed)
    return Reading(delta, parsed, same, reused, removed, tuple(changes.problems), fresh)


def _parse(
    root: str,
    todo: list[Seen],
    max_bytes: int,
    workers: Workers,
    take: Callable[[list[tuple[Any, ...]]], None],
    progress: Progress | None,
) -> None:
    """Parse the files of ``todo``, handing each batch of results to ``take``, in order."""
    jobs = [(root, path, max_bytes) for path, _, _ in todo]
    if workers.count < 2 or len(jobs) < PARALLEL_FROM:
        # Here, in batches too: the store takes each batch in a few statements, and file by file
        # those statements cost more than the parsing (at 100k files, 120 us a file against 200).
        local = workers.batches(jobs, per_worker=1, smallest=LOCAL_BATCH_FILES, largest=LOCAL_BATCH_FILES)
        batches: Iterable[list[tuple[Any, ...]]] = map(parse_batch, local)
    else:
        batches = workers.map(parse_batch, workers.batches(jobs, per_worker=8, smallest=50, largest=BATCH_FILES))
    done = 0
    for batch in batches:
        take(batch)
        done += len(batch)
        if progress:
            progress(done, len(jobs))


def reparse(paths: list[str], root: str, max_bytes: int, workers: Workers) -> dict[str, tuple[bytes, bytes]]:
    """Parse these files again (records the store no longer holds): relative path -> (digest, packed record).

    A file that no longer parses, or is gone, is left out.
    """
    found: dict[str, tuple[bytes, bytes]] = {}

    def take(batch: list[tuple[Any, ...]]) -> None:
        for path, size, _, digest, _, listing, packed in batch:
            if size is not None and listing is not None:
                found[path] = (digest, packed)

    _parse(root, [(path, 0, 0) for path in paths], max_bytes, workers, take, None)
    return found


@dataclass(frozen=True)
class Checked:
    """Every record file of a folder, checked: how many there are and every problem, in path order."""

    files: int
    problems: tuple[Problem, ...]


def check(source: Path, *, max_bytes: int = MAX_FILE_BYTES, workers: Workers | None = None) -> Checked:
    """Read every record file below ``source`` as a build does (in the worker processes when there
    are many), writing nothing."""
    store = Store.open(None, "check")
    pool = workers or Workers()
    try:
        store.begin()
        # Which records are visible does not matter here, only what is wrong with each file.
        reading = read(source, store, pool, EPOCH, max_bytes=max_bytes, hold=False)
        problems = [*reading.problems]
        for path, packed in store.files.problems():
            problems.extend(decode_problems(marshal.loads(packed), join(str(source), path)))  # noqa: S302 - ours
        return Checked(store.counts.files, tuple(sorted(problems, key=lambda p: p.path)))
    finally:
        store.close()
        if workers is None:
            pool.close()


def read_records(folder: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[tuple[Record, ...], tuple[Problem, ...]]:
    """All records below ``folder`` and every problem found, both in path order, in this process.

    The files are found as a build's scan finds them and parsed as a build parses them.
    """
    records: list[Record] = []
    problems: list[Problem] = []
    root = str(folder)
    paths: list[str] = []
    for listed in walk(root):
        if listed.problem is not None:
            problems.append(Problem(join(root, listed.folder), f"cannot list this folder ({listed.problem})"))
        paths.extend(path for path, _, _ in listed.files or ())
    for path in sorted(paths):
        full = join(root, path)
        raw = read_raw(full, max_bytes)
        result = ParseResult(None, (raw,)) if isinstance(raw, Problem) else parse_record(full, raw)
        problems.extend(result.problems)
        if result.record is not None:
            records.append(result.record)
    return tuple(records), tuple(problems)
