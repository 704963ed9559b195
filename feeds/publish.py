"""Build the output tree: read the records into the store, plan the documents, make what changed, write.

The stages, each in a module of its own: ``reading`` (scan the folder, parse
what changed, update the store), ``planning`` and ``outputs`` (every feed
document and file, with a digest of what it is made from), then rendering
and ``writing`` (stage every changed file, commit them all, remove what no
build makes any more). A file whose inputs did not change is not made again,
and a file whose bytes did not change is not touched, so its mtime (and a web
server's ETag) stays put. One build at a time holds a lock beside the output
folder; the store's changes are kept only when the build gets that far.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .codec import decode_problems
from .errors import FeedsError, RecordError
from .fetching import Fetcher
from .making import make_and_stage
from .manifest import MANIFEST, read_manifest
from .model import Feed, FeedKey, Problem, Severity, Site, from_micros, to_micros
from .outputs import Output, plan_outputs
from .planning import Plan, plan, redo_pages
from .reading import Reading, read
from .records import MAX_FILE_BYTES
from .report import Clock, Report, announced
from .scan import join
from .selection import KnownFeed, Shortlist
from .state import BuildState, guard_shrink, names_key, settings_key
from .store import Store, StoreDamaged, discard
from .version import __version__
from .workers import Workers
from .writing import OutputTree, build_lock

WRITING = "writing"  # in the cache folder while a build stages and commits files: a sweep is due if it stays


@dataclass(frozen=True)
class Options:
    """How to build, besides the folders, the settings and the time."""

    strict: bool = False
    cache_dir: Path | None = None
    progress: Callable[[int, int], None] | None = None
    max_bytes: int = MAX_FILE_BYTES
    allow_shrink: bool = False


def store_key(max_bytes: int) -> str:
    """What a store must have been made with to be used: this release, the same size limit."""
    return f"feeds {__version__} max {max_bytes}"


def build(
    source: Path,
    out_dir: Path,
    site: Site,
    now: datetime,
    *,
    strict: bool = False,
    cache_dir: Path | None = None,
    wait: float = 0,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    max_bytes: int = MAX_FILE_BYTES,
    allow_shrink: bool = False,
) -> Report:
    """Read ``source`` and publish it into ``out_dir``.

    With ``cache_dir``, unchanged record files are not parsed again and
    documents whose inputs did not change are not rendered again. With
    ``strict``, any rejected record stops the build before anything is
    written; so does dropping more than ``site.max_shrink`` of the entries
    the last build published, unless ``allow_shrink``.
    """
    options = Options(strict, cache_dir, progress, max_bytes, allow_shrink)
    # The workers are forked first: before the lock, so none of them can hold it after the build
    # died, and before the database opens and the build holds much memory.
    with Workers(workers) as pool:
        pool.start()
        with build_lock(out_dir, wait):
            return _build(source, out_dir, site, now, options, pool)


def _build(source: Path, out_dir: Path, site: Site, now: datetime, options: Options, pool: Workers) -> Report:
    """The build under the lock, started again from the records should the store turn out damaged.

    Once with a new store in the cache folder; should that fail too (a full disk, a folder that
    is not writable), with one in memory: the feeds are right, only the next build is slower.
    """
    cache_dir = options.cache_dir
    warnings: list[str] = []
    try:
        for folder in (cache_dir, cache_dir, None):
            store = Store.open(folder, store_key(options.max_bytes))
            if store.warning:
                warnings.append(store.warning)
            try:
                report = Build(source, out_dir, site, now, options, store, pool).run()
                return replace(report, warnings=(*warnings, *report.warnings))
            except (StoreDamaged, sqlite3.DatabaseError) as e:
                store.rollback()
                store.close()
                if folder is not None:
                    with contextlib.suppress(OSError):
                        discard(folder)
                warnings.append(f"{folder}: the cache was damaged or could not be written ({e}); made again")
                if folder is None:
                    raise FeedsError(f"the build's own database failed ({e})") from e
            except Exception as e:
                store.rollback()
                if store.fresh or isinstance(e, FeedsError):
                    raise
                # Anything else that goes wrong with a store an earlier build left may be damage no
                # checksum caught: the build starts again from the records, and fails only if it recurs.
                warnings.append(f"{folder}: the cache could not be used ({type(e).__name__}: {e}); made again")
                if folder is not None:
                    with contextlib.suppress(OSError):
                        discard(folder)
            except BaseException:
                store.rollback()
                raise
            finally:
                store.close()
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt returns or raises
    finally:
        gc.unfreeze()  # the build froze what it read; a process that goes on needs it collected


def documents(
    source: Path,
    site: Site,
    now: datetime,
    *,
    known: Sequence[KnownFeed] = (),
    max_bytes: int = MAX_FILE_BYTES,
) -> tuple[Feed, ...]:
    """Every feed document a build of ``source`` would publish, with full records; nothing is written.

    ``known`` are the feeds an earlier build published (their slugs stay). The
    documents are as planned, before a byte budget (``max_feed_bytes``) cuts
    any: that happens as their files are made.
    """
    with Workers(1) as pool:
        store = Store.open(None, store_key(max_bytes))
        try:
            return Build(source, None, site, now, Options(max_bytes=max_bytes), store, pool).documents(known)
        finally:
            store.close()


class Build:
    """One build, stage by stage, all through one transaction of the store."""

    def __init__(
        self,
        source: Path,
        out_dir: Path | None,
        site: Site,
        now: datetime,
        options: Options,
        store: Store,
        workers: Workers,
    ) -> None:
        self.source, self.root, self.out_dir = source, str(source), out_dir or Path(".")
        self.site, self.now, self.options = site, now, options
        self.store, self.workers = store, workers
        self.tree = OutputTree(self.out_dir)
        self.clock = Clock()
        self.warnings: list[str] = []
        self.marker = None if options.cache_dir is None else options.cache_dir / WRITING
        self.cuts: tuple[tuple[str, int, int], ...] = ()  # (feed folder, entries kept, entries planned)

    def run(self) -> Report:
        store, site = self.store, self.site
        manifest = read_manifest(self.out_dir)
        state = BuildState.load(store)
        if store.fresh or self.marker is None or self.marker.exists():
            self.tree.sweep()  # temporary files of a build that died, whoever ran it
        last = manifest.published if store.fresh else store.counts.visible
        store.begin()
        reading = self._read()
        problems = self._problems(reading)
        if self.options.strict and any(p.severity is Severity.ERROR for p in problems):
            raise RecordError(problems)
        if not self.options.allow_shrink:
            guard_shrink(self.source, last, store.counts.visible, site)
        names = names_key(store.groups.names())
        before = store.outputs.all()
        unfinished = set(state.unfinished)
        broken = {path for path, (_, size) in before.items() if _size(self.out_dir / path) != size} | unfinished
        self.clock.lap("read")
        everything = store.fresh or state.settings != settings_key(site, manifest.known) or state.names != names
        if not (reading.changed or everything or broken or state.doomed):
            store.commit()  # the scan's times and signatures
            self.cuts = tuple((folder, kept, total) for folder, (kept, total) in sorted(state.cuts.items()))
            return _report(self, reading, problems, state.feeds, files=len(before))
        redo = redo_pages(broken, manifest)
        drafted = plan(store, site, self.root, manifest.known, reading.delta, everything=everything, redo=redo)
        _, next_due = store.groups.scheduled(to_micros(self.now))
        # What each feed kept within the byte budget: as the last build left it, until it is rendered again
        cuts = state.cuts if site.max_feed_bytes is not None else {}
        kept = {d.key: cuts[str(d.key.folder)][0] for d in drafted.heads if str(d.key.folder) in cuts}
        outputs, planned = plan_outputs(drafted, site, None if next_due is None else _utc(next_due), kept)
        pending = [o for o in outputs if o.digest is None or _stale(str(o.path), o.digest, before, broken)]
        # A fixed order for making them (the tree renames them into place in link order, see links.py)
        pending.sort(key=lambda o: (o.draft is None, o.path == MANIFEST, o.path))
        self.clock.lap("select")
        stale = (set(before) | manifest.files | set(state.doomed)) - planned
        fetcher = Fetcher(store, reading, self.root, self.options.max_bytes, self.workers)
        written, removed = self._write(pending, drafted, fetcher, stale, set(before), names, kept)
        for path in self.tree.strangers(planned):
            self.warnings.append(f"{self.out_dir / path}: not made by feeds; left alone (remove it if it is stale)")
        self.clock.lap("write")
        fresh = set(written) | (unfinished & planned)
        return _report(self, reading, problems, len(drafted.heads), written, removed, len(planned), fresh)

    def documents(self, known: Sequence[KnownFeed]) -> tuple[Feed, ...]:
        """Read, plan every document and fetch its records, as ``run`` does before it renders."""
        self.store.begin()
        reading = self._read()
        drafted = plan(self.store, self.site, self.root, known, reading.delta, everything=True)
        return tuple(
            Fetcher(self.store, reading, self.root, self.options.max_bytes, self.workers).complete(
                drafted.drafts, drafted
            )
        )

    def _read(self) -> Reading:
        shortlist = Shortlist(self.now, None if self.site.archives else self.site.max_items)
        options = self.options
        reading = read(
            self.source,
            self.store,
            self.workers,
            self.now,
            max_bytes=options.max_bytes,
            shortlist=shortlist,
            progress=options.progress,
        )
        gc.freeze()  # what a build has read lives to its end: the collector need not walk it again and again
        return reading

    def _problems(self, reading: Reading) -> tuple[Problem, ...]:
        found = [*reading.problems]
        for path, packed in self.store.files.problems():
            found.extend(decode_problems(marshal.loads(packed), join(self.root, path)))  # noqa: S302 - ours
        return tuple(sorted(found, key=lambda p: p.path))

    def _write(
        self,
        pending: list[Output],
        drafted: Plan,
        fetcher: Fetcher,
        stale: set[str],
        made: set[str],
        names: str,
        kept: dict[FeedKey, int],
    ) -> tuple[list[str], list[str]]:
        """Make and stage the pending files, keep the store's changes, rename the files into place, then
        remove the ``stale`` ones (``made``: the files the store knows it made); the paths renamed and removed.

        The state saved with the store names the staged files and the stale ones: should the build die
        while renaming or removing, the next one makes the first again (and announces them) and removes
        the others. Only then is the state made final, its settings taken from the manifest as written,
        the source the next build reads them from.
        """
        if self.marker is not None and pending:  # staged files of a build that dies are swept by the next
            with contextlib.suppress(OSError):
                self.marker.touch()
        try:
            sizes = make_and_stage(pending, drafted, fetcher, self.site, self.workers, self.tree, self.clock, kept)
            self.store.outputs.change(sizes, stale & made)
            self.cuts = tuple(
                (str(key.folder), count, len(drafted.head(key).entries))
                for key, count in sorted(kept.items(), key=lambda item: str(item[0].folder))  # as state keeps them
                if count < len(drafted.head(key).entries)
            )
            cuts = {folder: (count, total) for folder, count, total in self.cuts}
            state = BuildState("", names, len(drafted.heads), tuple(self.tree.staged), cuts, tuple(sorted(stale)))
            state.save(self.store)
            fetcher.keep(drafted)
            self._save()
            written = self.tree.commit()
        except BaseException:
            self.tree.discard()  # a failed build leaves no temporary file (a killed one's are swept next time)
            raise
        removed = self.tree.remove(stale)
        with contextlib.suppress(sqlite3.Error):
            self.store.begin()
            settings = settings_key(self.site, read_manifest(self.out_dir).known)
            replace(state, settings=settings, unfinished=(), doomed=()).save(self.store)
            self.store.commit()
        if self.marker is not None:
            with contextlib.suppress(OSError):
                self.marker.unlink(missing_ok=True)
        return written, removed

    def _save(self) -> None:
        """Commit the store; if that fails, the build goes on and the next one reads every record again."""
        try:
            self.store.commit()
        except sqlite3.Error as e:
            self.warnings.append(
                f"{self.options.cache_dir}: the cache cannot be saved ({e}); the next build reads every record again"
            )
            self.store.rollback()
            if self.options.cache_dir is not None:
                with contextlib.suppress(OSError):
                    discard(self.options.cache_dir)


def _report(
    build: Build,
    reading: Reading,
    problems: tuple[Problem, ...],
    feeds: int,
    written: Sequence[str] = (),
    removed: Sequence[str] = (),
    files: int = 0,
    fresh: set[str] | None = None,
) -> Report:
    """The build's report, from the store's counts once the build has gone as far as it went."""
    counts = build.store.counts
    scheduled, next_due = build.store.groups.scheduled(to_micros(build.now))
    changed, urls = announced(fresh or set(), build.site)
    return Report(
        read=counts.files,
        published=counts.visible,
        unpublished=counts.unpublished,
        scheduled=scheduled,
        duplicates=counts.published - scheduled - counts.visible,
        problems=problems,
        feeds=feeds,
        written=tuple(sorted(written, key=lambda path: (path == str(MANIFEST), path))),
        unchanged=files - len(written),
        next_due=None if next_due is None else _utc(next_due),
        feeds_changed=changed,
        urls_changed=urls,
        parsed=reading.parsed,
        reused=reading.reused,
        removed=tuple(removed),
        cut=build.cuts,
        warnings=(*build.warnings, *_emptied(build.cuts, build.out_dir)),
        timings=build.clock.total(),
    )


def _emptied(cuts: Sequence[tuple[str, int, int]], out_dir: Path) -> list[str]:
    """A warning for each feed the byte budget left with no entry: its newest alone is too large."""
    return [
        f"{out_dir / folder}: even its newest entry is larger than max_feed_bytes; the feed is published empty"
        for folder, kept, total in cuts
        if kept == 0 and total > 0
    ]


def _stale(path: str, digest: str, before: Mapping[str, tuple[str, int]], broken: set[str]) -> bool:
    """Whether a file must be made again: its inputs changed since it was made, or the file did."""
    return path in broken or before.get(path, ("", 0))[0] != digest


def _utc(micros: int) -> datetime:
    return from_micros(micros).astimezone(UTC)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
