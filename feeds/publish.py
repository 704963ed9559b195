"""Build the output tree: read records, plan every file, then write atomically.

All paths are planned and checked before anything is written. A feed whose
inputs did not change since the last build is not rendered again, and a file
whose bytes did not change is not touched, so its mtime (and a web server's
ETag) stays put. One build at a time holds a lock beside the output folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from . import pages
from .cache import ParseCache
from .errors import BusyError, OutputError, RecordError
from .model import Draft, Feed, FeedKind, Format, Listing, Problem, Severity, Site
from .records import MAX_FILE_BYTES
from .renderers import render
from .renderers.content import rfc3339, self_url
from .renderers.jsonfeed import RELATED_DOC, related_doc_html
from .selection import Fetch, KnownFeed, Plan, Shortlist, plan, select
from .version import __version__
from .workers import Workers

MANIFEST = PurePosixPath("manifest.json")
PARALLEL_RENDER = 200  # files to render before a second process pays off
RENDER_CHUNK = 20_000  # entries whose full records a build holds at once (archive pages make many)
_SAFE_PART = re.compile(r"[a-z0-9][a-z0-9.\-]*")


@dataclass(frozen=True)
class Output:
    """One planned file: its path, a digest of everything it is made from, and how to make it.

    A feed's files are rendered from its records (``draft`` and ``kind``);
    the site-wide files have their own ``make``.
    """

    path: PurePosixPath
    make: Callable[[], bytes] | None = None
    digest: str | None = None  # None: always made, compared byte for byte
    draft: Draft | None = None
    kind: str = ""  # for a feed's files: the Format's name, or "HTML" for its page


@dataclass(frozen=True)
class Report:
    """What a build did: for the summary line, ``--report`` and scripts."""

    read: int
    published: int
    unpublished: int
    scheduled: int
    duplicates: int
    problems: tuple[Problem, ...]
    feeds: int
    written: tuple[str, ...]
    unchanged: int
    next_due: datetime | None = None
    feeds_changed: tuple[str, ...] = ()
    urls_changed: tuple[str, ...] = ()  # feed (not archive) URLs whose bytes changed, for WebSub
    parsed: int = 0
    reused: int = 0
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    def summary(self) -> str:
        return (
            f"{self.read} records read: {self.published} published, "
            f"{self.unpublished} unpublished, {self.scheduled} scheduled for later, "
            f"{self.duplicates} duplicate URLs, {self.rejected} rejected; "
            f"{self.feeds} feeds, {len(self.written)} files written, {self.unchanged} unchanged"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "records": {
                "read": self.read,
                "published": self.published,
                "unpublished": self.unpublished,
                "scheduled": self.scheduled,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "parsed": self.parsed,
                "from_cache": self.reused,
            },
            "next_due": _stamp(self.next_due),
            "feeds": {"total": self.feeds, "changed": list(self.feeds_changed)},
            "files": {"written": list(self.written), "unchanged": self.unchanged},
            "problems": [p.as_dict() for p in self.problems],
            "timings": {name: round(seconds, 4) for name, seconds in self.timings.items()},
        }


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def manifest_json(feeds: Iterable[Draft], site: Site, next_due: datetime | None = None) -> bytes:
    """Every feed of the tree: other tools and later builds rely on this index.

    ``next_due`` is when the next scheduled record becomes visible, so a
    scheduler can run the next build exactly then.
    """
    entries = [
        {
            "kind": feed.key.kind.name.lower(),
            "name": feed.name,
            "key": feed.group,
            "slug": feed.key.slug,
            "paths": {fmt.name.lower(): str(feed.key.path(fmt)) for fmt in Format},
            "urls": {fmt.name.lower(): self_url(feed, site, fmt) for fmt in Format},
            "items": len(feed.entries),
            "archive_pages": feed.pages,
            "updated": _stamp(feed.updated),
        }
        for feed in feeds
    ]
    document = {
        "version": 1,
        "generator": f"feeds {__version__}",
        "base_url": site.base_url,
        "next_due": _stamp(next_due),
        "feeds": entries,
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


Identity = Callable[[Listing], str]  # a string that changes whenever the rendered entry would


def value_identity() -> Identity:
    """Identify records by a hash of their whole value (remembered per object: a record is in several feeds)."""
    seen: dict[int, tuple[Listing, str]] = {}

    def identity(record: Listing) -> str:
        known = seen.get(id(record))
        if known is None or known[0] is not record:
            digest = hashlib.blake2b(repr(record).encode("utf-8"), digest_size=16).hexdigest()
            known = seen[id(record)] = (record, digest)
        return known[1]

    return identity


def feed_digest(draft: Draft, site: Site, identity: Identity | None = None) -> str:
    """Changes whenever anything a feed document's files are made from changes."""
    identity = identity or value_identity()
    head = replace(draft, entries=())
    entries = [identity(entry) for entry in draft.entries]
    return hashlib.blake2b(repr((__version__, site, head, entries)).encode("utf-8"), digest_size=16).hexdigest()


def plan_outputs(
    drafts: Sequence[Draft],
    site: Site,
    next_due: datetime | None = None,
    identity: Identity | None = None,
) -> list[Output]:
    """Every output file, checked: no two feeds share a path, no path leaves the folder.

    ``identity`` tells entries apart for the files' digests (by default, by their value).
    """
    outputs: list[Output] = []
    owners: dict[PurePosixPath, str] = {}
    identity = identity or value_identity()
    for draft in drafts:
        digest = feed_digest(draft, site, identity)
        for fmt in Format:
            path = draft.path(fmt)
            owner = f"{draft.key.kind.name.lower()} {draft.name!r}" + (
                "" if draft.page is None else f" page {draft.page}"
            )
            if path in owners:
                raise OutputError(f"{path}: both {owners[path]} and {owner} would be written here")
            check_path(path)
            owners[path] = owner
            outputs.append(Output(path, None, f"{digest}-{fmt.name}", draft, fmt.name))
        if draft.page is None:
            outputs.append(Output(draft.key.folder / pages.INDEX, None, f"{digest}-HTML", draft, "HTML"))
    ordered = tuple(sorted((d for d in drafts if d.page is None), key=lambda draft: draft.key.sort_key))
    outputs.append(Output(pages.INDEX, lambda: pages.index_html(ordered, site).encode("utf-8")))
    outputs.append(Output(pages.OPML, lambda: pages.opml(ordered, site)))
    outputs.append(Output(pages.XSL, lambda: pages.stylesheet(site)))
    outputs.append(Output(PurePosixPath(RELATED_DOC), lambda: related_doc_html(site)))
    outputs.append(Output(MANIFEST, lambda: manifest_json(ordered, site, next_due)))
    return outputs


def render_feed_files(feed: Feed, site: Site, kinds: tuple[str, ...]) -> list[bytes]:
    """A feed's files of the given kinds (Format names, or "HTML"): the unit of parallel rendering."""
    return [
        pages.feed_html(feed, site).encode("utf-8") if k == "HTML" else render(feed, site, Format[k]) for k in kinds
    ]


def _render_batch(batch: list[tuple[Feed, Site, tuple[str, ...]]]) -> list[list[bytes]]:
    return [render_feed_files(feed, site, kinds) for feed, site, kinds in batch]


def make_all(outputs: list[Output], feeds: Mapping[int, Feed], site: Site, workers: Workers) -> Iterator[bytes]:
    """The bytes of ``outputs``, in order, as they are made; feeds' files in the worker processes when many.

    ``feeds`` holds, by the id of its draft, each feed document whose files are among ``outputs``.
    """
    groups: dict[int, list[int]] = {}  # each feed's outputs, by position, rendered together
    for index, output in enumerate(outputs):
        if output.draft is not None and output.kind:
            groups.setdefault(id(output.draft), []).append(index)
    jobs = [(feeds[key], site, tuple(outputs[i].kind for i in ix)) for key, ix in groups.items()]
    if workers.count < 2 or len(outputs) < PARALLEL_RENDER:
        done: Iterator[list[bytes]] = (render_feed_files(*job) for job in jobs)
    else:
        size = max(1, len(jobs) // (workers.count * 4))
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        done = (files for batch in workers.map(_render_batch, batches) for files in batch)
    made: dict[int, bytes] = {}
    for index, output in enumerate(outputs):
        if output.make is not None:
            yield output.make()
            continue
        if index not in made:
            made.update(zip(groups[id(output.draft)], next(done), strict=True))
        yield made.pop(index)


def render_tree(feeds: tuple[Feed, ...], site: Site, next_due: datetime | None = None) -> dict[PurePosixPath, bytes]:
    """Every output file's bytes, by path relative to the output folder."""
    outputs = plan_outputs(feeds, site, next_due)
    made = make_all(outputs, {id(feed): feed for feed in feeds}, site, Workers(1))
    return {output.path: data for output, data in zip(outputs, made, strict=True)}


def check_path(path: PurePosixPath) -> None:
    """Refuse any planned path that could leave the output folder or upset a filesystem."""
    if path.is_absolute() or not all(_SAFE_PART.fullmatch(part) and len(part) <= 80 for part in path.parts):
        raise OutputError(f"{path}: unsafe output path")


def known_feeds(feeds: Iterable[Draft]) -> tuple[KnownFeed, ...]:
    """The topic and provider feeds as the manifest records them, in its order."""
    heads = sorted(
        (f for f in feeds if f.page is None and f.key.kind is not FeedKind.ALL), key=lambda f: f.key.sort_key
    )
    return tuple(KnownFeed(f.key.kind, f.group, f.key.slug, f.name, f.updated) for f in heads)


def read_known(out_dir: Path) -> tuple[KnownFeed, ...]:
    """The topic and provider feeds an earlier build recorded in its manifest."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        known = []
        for entry in data["feeds"]:
            kind = FeedKind[entry["kind"].upper()]
            if kind is not FeedKind.ALL:
                updated = datetime.fromisoformat(entry["updated"]) if entry.get("updated") else None
                known.append(KnownFeed(kind, str(entry["key"]), str(entry["slug"]), str(entry["name"]), updated))
        return tuple(known)
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise OutputError(
            f"{out_dir / MANIFEST}: cannot be read ({e}); it holds the feeds' permanent URLs, so fix or remove it"
        ) from e


class OutputTree:
    """The output folder as a build writes into it; no path may lead out of it.

    Each folder is checked and made once per build, not once per file.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._root = out_dir.resolve()
        self._folders: set[PurePosixPath] = set()

    def _inside(self, target: Path) -> None:
        try:
            inside = target.resolve().is_relative_to(self._root)
        except (OSError, RuntimeError) as e:  # RuntimeError: a loop of symbolic links (Python 3.11)
            raise OutputError(f"{target}: cannot be resolved: {e}") from e
        if not inside:
            raise OutputError(f"{target}: resolves outside {self.out_dir}")

    def write(self, path: PurePosixPath, data: bytes) -> bool:
        """Write one file atomically unless it already holds ``data``; True when written."""
        target = self.out_dir / path
        if path.parent not in self._folders:
            self._inside(target.parent)  # before making it: a symbolic link must not lead the way out
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise OutputError(f"{target.parent}: cannot be made: {e.strerror or e}") from e
            self._folders.add(path.parent)
        if target.is_symlink():
            self._inside(target)
        try:
            if target.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"{target}: cannot be read: {e.strerror or e}") from e
        write_atomically(target, data)
        return True


def write_atomically(target: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part of either; the folder must exist.

    There is no fsync per file: it costs about 4 ms a file here, most of a cold
    build's writing time. A rename is atomic however the process dies; after a
    power loss, a damaged file differs in size from what the cache recorded,
    so the next build writes it again.
    """
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        try:
            handle = os.open(temporary, flags, 0o644)
        except FileExistsError:  # left by a build that died (with our pid): a new file, never a link's target
            temporary.unlink()
            handle = os.open(temporary, flags, 0o644)
        with open(handle, "wb") as stream:
            os.fchmod(handle, 0o644)  # readable by the web server whatever the umask
            stream.write(data)
        os.replace(temporary, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise OutputError(f"{target}: cannot be written: {e.strerror or e}") from e
        raise


def lock_path(out_dir: Path) -> Path:
    """The lock sits beside the output folder, where neither readers nor the server look."""
    return out_dir.parent / f".{out_dir.name}.lock"


@contextmanager
def build_lock(out_dir: Path, wait: float = 0) -> Iterator[None]:
    """Hold an exclusive flock for the output folder, waiting up to ``wait`` seconds."""
    path = lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise OutputError(f"{path}: cannot create the lock file: {e.strerror or e}") from e
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BusyError(f"{out_dir}: another build is running (lock {path}); try again later") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(handle)  # closing releases the lock


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now

    def total(self) -> dict[str, float]:
        return {**self.laps, "total": time.perf_counter() - self.start}


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
) -> Report:
    """Read ``source`` and publish it into ``out_dir``.

    With ``cache_dir``, unchanged record files are not parsed again and feeds
    whose inputs did not change are not rendered again. With ``strict``, any
    rejected record stops the build before anything is written.
    """
    with build_lock(out_dir, wait), Workers(workers) as pool:
        try:
            return _build(source, out_dir, site, now, strict, cache_dir, progress, pool, max_bytes)
        finally:
            gc.unfreeze()  # the build froze what it read; a process that goes on needs it collected


def _build(
    source: Path,
    out_dir: Path,
    site: Site,
    now: datetime,
    strict: bool,
    cache_dir: Path | None,
    progress: Callable[[int, int], None] | None,
    workers: Workers,
    max_bytes: int,
) -> Report:
    clock = _Clock()
    cache = ParseCache(cache_dir, max_bytes, workers)
    if cache_dir is not None:
        cache.load()
        gc.freeze()  # what a build loads lives to its end: the collector need not walk it again and again
    shortlist = Shortlist(now, None if site.archives else site.max_items)
    parsed, reused, removed = cache.refresh(source, progress=progress, shortlist=shortlist)
    gc.freeze()
    known = read_known(out_dir)
    settings = repr((__version__, site, known))
    quiet = _unchanged(cache, out_dir, settings, now)
    if quiet is not None:  # nothing to select, render or write: answer from the last build
        if strict and quiet.rejected:
            raise RecordError(quiet.problems)
        clock.lap("read")
        timings = {"read": clock.laps["read"], "select": 0.0, "render": 0.0, "write": 0.0}
        return replace(quiet, parsed=parsed, reused=reused, timings={**timings, **clock.total()})
    if not cache.intact():  # the index outlived the details it describes: read every file again
        parsed, reused, removed = cache.refresh(source, progress=progress, shortlist=shortlist)
    scan = cache.assemble(parsed=parsed, reused=reused, removed=removed)
    gc.freeze()
    clock.lap("read")
    if strict and scan.rejected:
        raise RecordError(tuple(scan.problems))
    selection = select(scan.listings, now)
    drafted = plan(selection, site, known)
    drafts = drafted.drafts
    outputs = plan_outputs(drafts, site, selection.next_due, lambda entry: cache.identity(entry, *drafted.names(entry)))
    unfinished = cache.dirty  # outputs a build that died may have written: made again, reported as changed
    made_before = {path: made for path, made in cache.state.get("outputs", {}).items() if path not in unfinished}
    pending, sizes = _stale(outputs, made_before, out_dir)
    # In path order, as readers follow links: a feed's new archive page is there before the feed
    # that points to it (archive/ sorts first), every feed before the site-wide files.
    pending.sort(key=lambda output: (output.draft is None, output.path))
    skipped = len(outputs) - len(pending)
    clock.lap("select")
    if pending:
        cache.mark(str(output.path) for output in pending)
    written, writing = _make_and_write(pending, drafted, cache.fetch, site, workers, OutputTree(out_dir), sizes)
    # The records of what may be rendered again soon, for the next build: feeds and their newest
    # archive pages (older pages never change, and are rendered again only with new settings).
    cache.keep(entry for draft in drafts if draft.page in (None, draft.pages) for entry in draft.entries)
    clock.lap("render")
    clock.laps["render"] -= writing
    clock.laps["write"] = writing
    unchanged = len(pending) - len(written)
    written.sort(key=lambda path: (path == str(MANIFEST), path))
    # Changed since the last build that finished: what this one wrote, and what an unfinished one may have.
    fresh = set(written) | unfinished
    counts = [len(scan.listings) + scan.rejected, len(selection.records), selection.unpublished]
    counts += [selection.scheduled, selection.duplicates, sum(1 for draft in drafts if draft.page is None)]
    due = None if selection.next_due is None else selection.next_due.timestamp()
    settings = repr((__version__, site, known_feeds(drafts)))  # as the next build will read them
    cache.save({"outputs": sizes, "settings": settings, "counts": counts, "next_due": due})
    changed = {o.draft.key.folder.as_posix() for o in outputs if o.draft and str(o.path) in fresh}
    heads = sum(1 for draft in drafts if draft.page is None)
    urls = tuple(
        site.url(o.path)
        for o in outputs
        if o.draft and o.draft.page is None and str(o.path) in fresh and o.path.suffix != ".html"
    )
    return Report(
        read=len(scan.listings) + scan.rejected,
        published=len(selection.records),
        unpublished=selection.unpublished,
        scheduled=selection.scheduled,
        duplicates=selection.duplicates,
        problems=tuple(scan.problems),
        feeds=heads,
        written=tuple(written),
        unchanged=unchanged + skipped,
        next_due=selection.next_due,
        feeds_changed=tuple(sorted(changed)),
        urls_changed=urls,
        parsed=scan.parsed,
        reused=scan.reused,
        timings=clock.total(),
    )


def _make_and_write(
    pending: list[Output],
    drafted: Plan,
    fetch: Fetch,
    site: Site,
    workers: Workers,
    tree: OutputTree,
    sizes: dict[str, list[Any]],
) -> tuple[list[str], float]:
    """Make the ``pending`` files and write each as soon as it is made; (paths written, seconds writing).

    So a build never holds them all, and full records are fetched a piece at
    a time. The manifest goes last, so it never lists a feed that is not
    there yet. ``sizes`` gets each file's digest and size.
    """
    written: list[str] = []
    last: list[tuple[PurePosixPath, bytes]] = []
    writing = 0.0
    for chunk in _chunks(pending, RENDER_CHUNK):
        redo = list({id(o.draft): o.draft for o in chunk if o.draft is not None}.values())
        feeds = dict(zip(map(id, redo), drafted.complete(redo, fetch), strict=True))
        for output, data in zip(chunk, make_all(chunk, feeds, site, workers), strict=True):
            sizes[str(output.path)] = [output.digest, len(data)]
            if output.path == MANIFEST:
                last.append((output.path, data))
                continue
            start = time.perf_counter()
            if tree.write(output.path, data):
                written.append(str(output.path))
            writing += time.perf_counter() - start
    start = time.perf_counter()
    written += [str(path) for path, data in last if tree.write(path, data)]
    return written, writing + time.perf_counter() - start


def _stale(
    outputs: list[Output], before: Mapping[str, list[Any]], out_dir: Path
) -> tuple[list[Output], dict[str, list[Any]]]:
    """The outputs to make again, and the digest and size recorded for each of the others.

    A file is made again unless its inputs (its digest) are those it was last
    made from and it is still there with the size it was written with.
    """
    pending: list[Output] = []
    kept: dict[str, list[Any]] = {}
    for output in outputs:
        old = before.get(str(output.path))
        if output.digest and old and old[0] == output.digest and _size(out_dir / output.path) == old[1]:
            kept[str(output.path)] = old
        else:
            pending.append(output)
    return pending, kept


def _chunks(outputs: list[Output], entries: int) -> Iterator[list[Output]]:
    """``outputs`` in order, in pieces whose feed documents show about ``entries`` entries at most.

    A piece ends between documents, never inside one: a document's files are
    next to each other in ``outputs`` (the site-wide files, last, count none).
    """
    chunk: list[Output] = []
    count = 0
    for _, run in itertools.groupby(outputs, key=lambda output: id(output.draft)):
        files = list(run)
        size = 0 if files[0].draft is None else len(files[0].draft.entries)
        if chunk and count + size > entries:
            yield chunk
            chunk, count = [], 0
        chunk += files
        count += size
    if chunk:
        yield chunk


def _unchanged(cache: ParseCache, out_dir: Path, settings: str, now: datetime) -> Report | None:
    """The last build's report, if this build would change nothing; else None.

    That is: no record file changed, the settings and release are the same, no
    scheduled record has come due and every output file is still there.
    """
    state = cache.state
    if cache.changed or cache.dirty or state.get("settings") != settings or "counts" not in state:
        return None
    if state["next_due"] is not None and state["next_due"] <= now.timestamp():
        return None
    outputs: dict[str, list[Any]] = state["outputs"]
    if any(_size(out_dir / path) != size for path, (_, size) in outputs.items()):
        return None
    read, published, unpublished, scheduled, duplicates, heads = state["counts"]
    due = None if state["next_due"] is None else datetime.fromtimestamp(state["next_due"], UTC)
    return Report(
        read=read,
        published=published,
        unpublished=unpublished,
        scheduled=scheduled,
        duplicates=duplicates,
        problems=tuple(cache.problems()),
        feeds=heads,
        written=(),
        unchanged=len(outputs),
        next_due=due,
    )


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
