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
import hashlib
import marshal
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from .codec import decode_problems, decode_record, from_micros, to_micros
from .errors import FeedsError, RecordError, ShrinkError
from .manifest import MANIFEST, Manifest, known_feeds, read_manifest
from .model import Draft, Feed, FeedKey, FeedKind, Problem, Provider, Record, Severity, Site
from .outputs import Output, chunks, make_all, plan_outputs
from .planning import Plan, plan
from .reading import Reading, read, reparse
from .records import MAX_FILE_BYTES
from .report import Report
from .scan import join
from .selection import KnownFeed, Shortlist
from .store import Store, StoreDamaged, discard
from .version import __version__
from .workers import Workers
from .writing import OutputTree, build_lock

RENDER_CHUNK = 20_000  # entries whose full records a build holds at once (archive pages make many)
WRITING = "writing"  # in the cache folder while a build stages and commits files: a sweep is due if it stays
SHRINK_FLOOR = 10  # a build may always drop this many entries, whatever the share


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

    ``known`` are the feeds an earlier build published (their slugs stay).
    """
    with Workers(1) as pool:
        store = Store.open(None, store_key(max_bytes))
        try:
            return Build(source, None, site, now, Options(max_bytes=max_bytes), store, pool).documents(known)
        finally:
            store.close()


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last
        self.last = now

    def total(self) -> dict[str, float]:
        stages = dict.fromkeys(("read", "select", "render", "write"), 0.0)
        return {**stages, **self.laps, "total": time.perf_counter() - self.start}


def settings_key(site: Site, known: Sequence[KnownFeed]) -> str:
    """Everything but the records that every file depends on; when it changes, every document is drafted again."""
    feeds = [(k.kind.name, k.group, k.slug, k.name) for k in known]
    return hashlib.blake2b(repr((__version__, site, feeds)).encode("utf-8"), digest_size=16).hexdigest()


class Build:
    """One build, stage by stage; every stage reads and writes the store through one transaction."""

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
        self.clock = _Clock()
        self.warnings: list[str] = []
        self._reparsed: dict[str, bytes] = {}  # packed records parsed again for rendering

    # ---- the stages

    def run(self) -> Report:
        store, site = self.store, self.site
        manifest = read_manifest(self.out_dir)
        marker = None if self.options.cache_dir is None else self.options.cache_dir / WRITING
        if store.fresh or marker is None or marker.exists():
            self.tree.sweep()  # temporary files of a build that died, whoever ran it
        last = manifest.published if store.fresh else store.counts.visible
        unfinished = set(store.meta_json("unfinished") or ())  # files a build may have renamed before it died
        store.begin()
        shortlist = Shortlist(self.now, None if site.archives else site.max_items)
        reading = read(
            self.source,
            store,
            self.workers,
            self.now,
            max_bytes=self.options.max_bytes,
            shortlist=shortlist,
            progress=self.options.progress,
        )
        gc.freeze()  # what a build has read lives to its end: the collector need not walk it again and again
        problems = self._problems(reading)
        if self.options.strict and any(p.severity is Severity.ERROR for p in problems):
            raise RecordError(problems)
        self._guard_shrink(last)
        settings = settings_key(site, manifest.known)
        names = store.groups.names()
        named = sorted((kind.value, key, name) for (kind, key), name in names.items())
        names_key = hashlib.blake2b(repr(named).encode("utf-8"), digest_size=16).hexdigest()
        before = store.outputs.all()
        broken = {path for path, (_, size) in before.items() if _size(self.out_dir / path) != size} | unfinished
        self.clock.lap("read")
        everything = store.fresh or store.meta("settings") != settings or store.meta("names") != names_key
        if not (reading.changed or everything or broken):
            store.commit()  # the scan's times and signatures
            return self._report(reading, problems, store.meta_json("heads") or 0, (), (), len(before))
        drafted = plan(
            store,
            site,
            self.root,
            manifest.known,
            reading.delta,
            everything=everything,
            redo=_redo(broken, manifest),
        )
        _, next_due = store.groups.scheduled(to_micros(self.now))
        outputs, planned = plan_outputs(drafted, site, None if next_due is None else _utc(next_due))
        pending = [o for o in outputs if o.digest is None or _stale(str(o.path), o.digest, before, broken)]
        # In the order readers follow links: a feed's new archive page is there before the feed that
        # points to it (archive/ sorts first), every feed before the site's files, the manifest last.
        pending.sort(key=lambda o: (o.draft is None, o.path == MANIFEST, o.path))
        self.clock.lap("select")
        if marker is not None and pending:  # staged files of a build that dies are swept by the next
            with contextlib.suppress(OSError):
                marker.touch()
        try:
            sizes = self._make(pending, drafted, reading)
            stale = (set(before) | manifest.files) - planned
            store.outputs.change(sizes, stale & set(before))
            store.set_meta("settings", settings_key(site, known_feeds(drafted.heads)))
            store.set_meta("names", names_key)
            store.set_meta_json("heads", len(drafted.heads))
            store.set_meta_json("unfinished", self.tree.staged)
            self._keep_records(drafted, reading)
            self._save()
            written = self._commit(marker)
        except BaseException:
            self.tree.discard()  # a failed build leaves no temporary file (a killed one's are swept next time)
            raise
        removed = self.tree.remove(stale)
        for path in self.tree.strangers(planned):
            self.warnings.append(f"{self.out_dir / path}: not made by feeds; left alone (remove it if it is stale)")
        self.clock.lap("write")
        fresh = set(written) | (unfinished & planned)
        heads = len(drafted.heads)
        return self._report(reading, problems, heads, tuple(written), tuple(removed), len(planned), fresh)

    def documents(self, known: Sequence[KnownFeed]) -> tuple[Feed, ...]:
        """Read, plan every document and fetch its records, as ``run`` does before it renders."""
        self.store.begin()
        reading = read(self.source, self.store, self.workers, self.now, max_bytes=self.options.max_bytes)
        drafted = plan(self.store, self.site, self.root, known, reading.delta, everything=True)
        return tuple(self._complete(drafted.drafts, drafted, reading))

    def _problems(self, reading: Reading) -> tuple[Problem, ...]:
        found = [*reading.problems]
        for path, packed in self.store.files.problems():
            found.extend(decode_problems(marshal.loads(packed), join(self.root, path)))  # noqa: S302 - ours
        return tuple(sorted(found, key=lambda p: p.path))

    def _guard_shrink(self, last: int | None) -> None:
        """Refuse a build that would drop a large share of what the last one published (an unmounted share)."""
        if last is None or self.options.allow_shrink:
            return
        dropped = last - self.store.counts.visible
        limit = max(SHRINK_FLOOR, int(last * self.site.max_shrink))
        if dropped > limit:
            raise ShrinkError(
                f"{self.source}: this build would publish {self.store.counts.visible} entries, {dropped} fewer than the"
                f" {last} of the last build (more than max_shrink, {self.site.max_shrink:.0%}); nothing was written."
                " Is the records folder mounted and complete? If the records were withdrawn on purpose,"
                " build with --allow-shrink"
            )

    def _make(self, pending: list[Output], drafted: Plan, reading: Reading) -> dict[str, tuple[str, int]]:
        """Render and stage the ``pending`` files, a piece at a time; each one's digest and size."""
        sizes: dict[str, tuple[str, int]] = {}
        writing = 0.0
        for chunk in chunks(pending, RENDER_CHUNK):
            redo = list({id(o.draft): o.draft for o in chunk if o.draft is not None}.values())
            feeds = dict(zip(map(id, redo), self._complete(redo, drafted, reading), strict=True))
            for output, data in zip(chunk, make_all(chunk, feeds, self.site, self.workers), strict=True):
                sizes[str(output.path)] = (output.digest or "", len(data))
                start = time.perf_counter()
                self.tree.stage(output.path, data)
                writing += time.perf_counter() - start
        self.clock.lap("render")
        self.clock.laps["render"] -= writing
        self.clock.laps["write"] = writing
        return sizes

    def _complete(self, drafts: Sequence[Draft], drafted: Plan, reading: Reading) -> list[Feed]:
        """The drafts with full records for entries, their names made canonical.

        Each record comes from this build's parses, else from the store if the
        file it was parsed from is unchanged, else from parsing the file again.
        """
        needed = list({entry.path: entry for draft in drafts for entry in draft.entries}.values())
        entries = drafted.entries
        packed = {path: reading.fresh[path] for path in (e.path for e in needed) if path in reading.fresh}
        missing = [e for e in needed if e.path not in packed]
        kept = self.store.records.get([entries[e.path].file for e in missing])
        for listing in missing:
            if entries[listing.path].file in kept:
                packed[listing.path] = kept[entries[listing.path].file]
        again = [e.path for e in needed if e.path not in packed]
        if again:
            relative = {path.removeprefix(self.root + "/"): path for path in again}
            for path, (digest, data) in reparse(
                list(relative), self.root, self.options.max_bytes, self.workers
            ).items():
                if digest == entries[relative[path]].digest:
                    packed[relative[path]] = data
                    self._reparsed[relative[path]] = data
        providers: dict[tuple[str, str, str], Provider] = {}
        full: dict[str, Record] = {}
        for listing in needed:
            blob = packed.get(listing.path)
            if blob is None:  # changed since it was read, or its row is damaged: read everything again
                raise StoreDamaged(f"{listing.path} is not as the store knows it")
            record = decode_record(marshal.loads(blob), listing.path, providers)  # noqa: S302 - ours
            if record.url != listing.url:
                raise StoreDamaged(f"the record kept for {listing.path}")
            topics, provider = drafted.names(record.listing)
            if topics != record.topics or provider != record.provider.name:
                record = replace(record, topics=topics, provider=replace(record.provider, name=provider))
            full[listing.path] = record
        return [
            Feed(d.key, d.group, d.name, tuple(full[e.path] for e in d.entries), d.total, d.updated, d.page, d.pages)
            for d in drafts
        ]

    def _keep_records(self, drafted: Plan, reading: Reading) -> None:
        """Keep the packed records of the entries that may be rendered again soon, and only those."""
        at_hand = {**reading.fresh, **self._reparsed}
        rows = []
        for path, entry in drafted.entries.items():
            if entry.file in drafted.keep and path in at_hand:
                rows.append((entry.file, entry.digest, at_hand[path]))
        self.store.records.put(rows)
        if self.store.records.count() > 2 * len(drafted.keep) + 1_000:
            self.store.records.keep(set(drafted.keep))

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

    def _commit(self, marker: Path | None) -> list[str]:
        """Rename the staged files into place; then note that no rename is pending."""
        written = self.tree.commit()
        with contextlib.suppress(sqlite3.Error):
            self.store.begin()
            self.store.set_meta_json("unfinished", [])
            self.store.commit()
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink(missing_ok=True)
        return written

    def _report(
        self,
        reading: Reading,
        problems: tuple[Problem, ...],
        heads: int,
        written: tuple[str, ...],
        removed: tuple[str, ...],
        files: int,
        fresh: set[str] | None = None,
    ) -> Report:
        counts = self.store.counts
        scheduled, next_due = self.store.groups.scheduled(to_micros(self.now))
        changed: set[str] = set()
        urls: list[str] = []
        for path in sorted(fresh or ()):
            parts = PurePosixPath(path).parts
            if parts[0] not in ("all", "topics", "providers"):
                continue
            folder = "all" if parts[0] == "all" else "/".join(parts[:2])
            changed.add(folder)
            if "archive" not in parts and not path.endswith(".html"):
                urls.append(self.site.url(path))
        return Report(
            read=counts.files,
            published=counts.visible,
            unpublished=counts.unpublished,
            scheduled=scheduled,
            duplicates=counts.published - scheduled - counts.visible,
            problems=problems,
            feeds=heads,
            written=tuple(sorted(written, key=lambda path: (path == str(MANIFEST), path))),
            unchanged=files - len(written),
            next_due=None if next_due is None else _utc(next_due),
            feeds_changed=tuple(sorted(changed)),
            urls_changed=tuple(urls),
            parsed=reading.parsed,
            reused=reading.reused,
            removed=removed,
            warnings=tuple(self.warnings),
            timings=self.clock.total(),
        )


def _redo(broken: set[str], manifest: Manifest) -> dict[FeedKey, int]:
    """For each feed with a file missing or damaged, the first archive page to make again (0: the feed only)."""
    slugs = {(k.kind.value, k.slug): FeedKey(k.kind, k.slug) for k in manifest.known}
    redo: dict[FeedKey, int] = {}
    for path in broken:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] not in ("all", "topics", "providers"):
            continue
        key = FeedKey(FeedKind.ALL, "all") if parts[0] == "all" else slugs.get((parts[0], parts[1]))
        if key is None:
            continue
        rest = parts[1:] if parts[0] == "all" else parts[2:]
        page = int(rest[1]) if len(rest) == 3 and rest[0] == "archive" and rest[1].isdigit() else 0
        if page:
            redo[key] = min(redo.get(key, page), page)
        else:
            redo.setdefault(key, 0)
    return redo


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
