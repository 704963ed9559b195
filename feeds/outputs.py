"""Every output file of a build: its path, a digest of what it is made from, and how it is made.

All paths are planned and checked before anything is written: no two
documents share a path, and no path can leave the output folder.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import PurePosixPath

from . import pages
from .budget import FORMATS, fit
from .errors import OutputError
from .manifest import MANIFEST, manifest_json
from .model import Draft, Feed, FeedKey, Format, Site
from .planning import Plan
from .renderers import render_formats
from .renderers.jsonfeed import RELATED_DOC, related_doc_html
from .version import __version__
from .workers import Workers

PARALLEL_RENDER = 200  # files to render before a second process pays off
_SAFE_PART = re.compile(r"[a-z0-9][a-z0-9.\-]*")


class OutputKind(enum.Enum):
    """What an output file is: one format of a feed document, a feed's page, or a file of the whole site."""

    RSS = "rss"
    ATOM = "atom"
    JSON = "json"
    PAGE = "page"  # the feed's index.html
    SITE = "site"  # index.html, the OPML list, the stylesheet, the manifest ...

    @property
    def format(self) -> Format | None:
        return {OutputKind.RSS: Format.RSS, OutputKind.ATOM: Format.ATOM, OutputKind.JSON: Format.JSON}.get(self)


_KIND_OF = {Format.RSS: OutputKind.RSS, Format.ATOM: OutputKind.ATOM, Format.JSON: OutputKind.JSON}


@dataclass(frozen=True)
class Output:
    """One planned file. A document's files are rendered from its ``draft``; a site file has its own ``make``."""

    path: PurePosixPath
    kind: OutputKind
    digest: str | None = None  # None: always made, then compared byte for byte
    draft: Draft | None = None
    make: Callable[[], bytes] | None = None


def check_path(path: PurePosixPath) -> None:
    """Refuse any planned path that could leave the output folder or upset a filesystem."""
    if path.is_absolute() or not all(_SAFE_PART.fullmatch(part) and len(part) <= 80 for part in path.parts):
        raise OutputError(f"{path}: unsafe output path")


def document_paths(key: FeedKey, pages_count: int) -> list[PurePosixPath]:
    """Every file of a feed: its formats and page, and each format of each archive page."""
    paths = [key.path(fmt) for fmt in Format] + [key.folder / pages.INDEX]
    paths += [key.folder / "archive" / str(page) / fmt.value for page in range(1, pages_count + 1) for fmt in Format]
    return paths


def site_digest(site: Site) -> str:
    """What every file depends on besides its entries: the release and the settings."""
    return hashlib.blake2b(repr((__version__, site)).encode("utf-8"), digest_size=16).hexdigest()


def document_digest(draft: Draft, plan: Plan, settings: str, site: Site) -> str:
    """Changes whenever anything a document's files are made from changes.

    An entry stands for its file's digest (which stands for everything parsed
    from it) and the names selection gives its topics and provider. An
    archive page depends on whether a newer page follows it, not on how many
    pages there are or how large the group is; with a byte budget, the newest
    page also takes the entries its feed lets go, so it depends on the feed's.
    """
    if draft.page is None:
        head: object = replace(draft, entries=())
    else:
        head = (draft.key, draft.group, draft.name, draft.updated, draft.page, draft.page < draft.pages)
    members = draft.entries
    if site.max_feed_bytes is not None and draft.page is not None and draft.page == draft.pages:
        members = (*plan.head(draft.key).entries, *members)
    entries = [f"{plan.entries[entry.path].digest.hex()} {plan.names(entry)!r}" for entry in members]
    return hashlib.blake2b(repr((settings, head, entries)).encode("utf-8"), digest_size=16).hexdigest()


def plan_outputs(
    plan: Plan, site: Site, next_due: datetime | None = None, kept: Mapping[FeedKey, int] | None = None
) -> tuple[list[Output], set[str]]:
    """The files to make (every drafted document's, then the site's) and the path of every file the build keeps.

    Paths are checked: none is unsafe, and no two documents share one. ``kept``
    says how many entries each feed keeps within the byte budget; it is read
    when the site's files are made, after the feeds, so it can still be filled.
    """
    settings = site_digest(site)
    outputs: list[Output] = []
    owners: dict[PurePosixPath, str] = {}
    planned: set[str] = set()
    for draft in plan.heads:
        owner = f"{draft.key.kind.name.lower()} {draft.name!r}"
        for path in document_paths(draft.key, plan.pages[draft.key]):
            if path in owners:
                raise OutputError(f"{path}: both {owners[path]} and {owner} would be written here")
            check_path(path)
            owners[path] = owner
            planned.add(str(path))
    for draft in plan.drafts:
        digest = document_digest(draft, plan, settings, site)
        for fmt in Format:
            outputs.append(Output(draft.path(fmt), _KIND_OF[fmt], f"{digest}-{fmt.name}", draft))
        if draft.page is None:
            outputs.append(Output(draft.key.folder / pages.INDEX, OutputKind.PAGE, f"{digest}-HTML", draft))
    ordered = tuple(sorted(plan.heads, key=lambda draft: draft.key.sort_key))
    counts = kept if kept is not None else {}

    def heads() -> tuple[Draft, ...]:
        """The feeds as published: each with the entries it kept within the byte budget."""
        return tuple(replace(d, entries=d.entries[: counts[d.key]]) if d.key in counts else d for d in ordered)

    site_files: list[tuple[PurePosixPath, Callable[[], bytes]]] = [
        (pages.INDEX, lambda: pages.index_html(heads(), site).encode("utf-8")),
        (pages.OPML, lambda: pages.opml(heads(), site)),
        (pages.XSL, lambda: pages.stylesheet(site)),
        (PurePosixPath(RELATED_DOC), lambda: related_doc_html(site)),
        (MANIFEST, lambda: manifest_json(heads(), site, next_due)),
    ]
    for path, make in site_files:
        outputs.append(Output(path, OutputKind.SITE, make=make))
        planned.add(str(path))
    return outputs, planned


def render_files(feed: Feed, site: Site, kinds: tuple[OutputKind, ...]) -> tuple[list[bytes], int | None]:
    """A document's files of the given kinds, and how many entries a feed kept within the byte budget.

    The unit of parallel rendering. The count is None unless the document is a
    feed (not an archive page) rendered with a budget; the feed's page then
    lists the entries the feed kept.
    """
    kept = None
    formats: dict[Format, bytes] = {}
    shown = feed
    if site.max_feed_bytes is not None and feed.page is None:
        kept, made = fit(feed, site)
        formats = dict(zip(FORMATS, made, strict=True))
        shown = feed if kept == len(feed.entries) else replace(feed, entries=feed.entries[:kept])
    wanted = [kind.format for kind in kinds if kind.format is not None and kind.format not in formats]
    formats.update(render_formats(feed, site, wanted))
    files = []
    for kind in kinds:
        fmt = kind.format
        files.append(pages.feed_html(shown, site).encode("utf-8") if fmt is None else formats[fmt])
    return files, kept


def _render_batch(batch: list[tuple[Feed, Site, tuple[OutputKind, ...]]]) -> list[tuple[list[bytes], int | None]]:
    return [render_files(feed, site, kinds) for feed, site, kinds in batch]


def make_all(
    outputs: Sequence[Output],
    feeds: Mapping[int, Feed],
    site: Site,
    workers: Workers,
    kept: dict[FeedKey, int] | None = None,
) -> Iterator[bytes]:
    """The bytes of ``outputs``, in order, as they are made; documents in the worker processes when many.

    ``feeds`` holds, by the id of its draft, each document whose files are among ``outputs``;
    ``kept`` gets, for each feed rendered with a byte budget, how many entries it kept.
    """
    groups: dict[int, list[int]] = {}  # each document's outputs, by position, rendered together
    for index, output in enumerate(outputs):
        if output.draft is not None:
            groups.setdefault(id(output.draft), []).append(index)
    jobs = [(feeds[key], site, tuple(outputs[i].kind for i in ix)) for key, ix in groups.items()]
    if workers.count < 2 or len(outputs) < PARALLEL_RENDER:
        done: Iterator[tuple[list[bytes], int | None]] = (render_files(*job) for job in jobs)
    else:
        batches = workers.batches(jobs, per_worker=4)
        done = (files for batch in workers.map(_render_batch, batches) for files in batch)
    made: dict[int, bytes] = {}
    for index, output in enumerate(outputs):
        if output.make is not None:
            yield output.make()
            continue
        if index not in made:
            files, count = next(done)
            made.update(zip(groups[id(output.draft)], files, strict=True))
            if count is not None and kept is not None and output.draft is not None:
                kept[output.draft.key] = count
        yield made.pop(index)


def chunks(outputs: Sequence[Output], entries: int) -> Iterator[list[Output]]:
    """``outputs`` in order, in pieces whose documents hold about ``entries`` entries at most.

    A piece ends between documents, never inside one: a document's files are
    next to each other in ``outputs`` (the site's files count none).
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
