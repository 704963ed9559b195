"""Build the output tree: read records, plan every file, then write atomically.

All paths are planned before anything is written. A file whose bytes did not
change is left alone, so its mtime (and a web server's ETag) stays put.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from . import __version__
from .errors import OutputError, RecordError
from .model import Feed, FeedKind, Format, Problem, Severity, Site
from .records import read_records
from .renderers import render
from .renderers.content import self_url
from .renderers.jsonfeed import RELATED_DOC, related_doc_html
from .selection import KnownFeed, plan_feeds, select

MANIFEST = PurePosixPath("manifest.json")
_SAFE_PART = re.compile(r"[a-z0-9][a-z0-9.\-]*")


@dataclass(frozen=True)
class Report:
    """What a build did, for the summary line and for scripts."""

    read: int
    published: int
    unpublished: int
    scheduled: int
    duplicates: int
    problems: tuple[Problem, ...]
    feeds: int
    written: tuple[str, ...]
    unchanged: int

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


def manifest_json(feeds: Iterable[Feed], site: Site) -> bytes:
    """Every feed of the tree: other tools and later builds rely on this index."""
    entries = []
    for feed in feeds:
        entries.append(
            {
                "kind": feed.key.kind.name.lower(),
                "name": feed.name,
                "key": feed.group,
                "slug": feed.key.slug,
                "paths": {fmt.name.lower(): str(feed.key.path(fmt)) for fmt in Format},
                "urls": {fmt.name.lower(): self_url(feed, site, fmt) for fmt in Format},
                "items": len(feed.entries),
                "updated": None if feed.updated is None else feed.updated.isoformat().replace("+00:00", "Z"),
            }
        )
    document = {"version": 1, "generator": f"feeds {__version__}", "base_url": site.base_url, "feeds": entries}
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_tree(feeds: tuple[Feed, ...], site: Site) -> dict[PurePosixPath, bytes]:
    """Every output file, by path relative to the output folder."""
    files: dict[PurePosixPath, bytes] = {}
    owners: dict[PurePosixPath, str] = {}
    for feed in feeds:
        for fmt in Format:
            path = feed.key.path(fmt)
            owner = f"{feed.key.kind.name.lower()} {feed.name!r}"
            if path in owners:
                raise OutputError(f"{path}: both {owners[path]} and {owner} would be written here")
            check_path(path)
            owners[path] = owner
            files[path] = render(feed, site, fmt)
    files[PurePosixPath(RELATED_DOC)] = related_doc_html(site)
    files[MANIFEST] = manifest_json(feeds, site)
    return files


def check_path(path: PurePosixPath) -> None:
    """Refuse any planned path that could leave the output folder or upset a filesystem."""
    if path.is_absolute() or not all(_SAFE_PART.fullmatch(part) and len(part) <= 80 for part in path.parts):
        raise OutputError(f"{path}: unsafe output path")


def read_known(out_dir: Path) -> tuple[KnownFeed, ...]:
    """The topic and provider feeds an earlier build recorded in its manifest."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        known = []
        for entry in data["feeds"]:
            kind = FeedKind[entry["kind"].upper()]
            if kind is not FeedKind.ALL:
                known.append(KnownFeed(kind, str(entry["key"]), str(entry["slug"]), str(entry["name"])))
        return tuple(known)
    except FileNotFoundError:
        return ()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise OutputError(
            f"{out_dir / MANIFEST}: cannot be read ({e}); it holds the feeds' permanent URLs, so fix or remove it"
        ) from e


def write_tree(files: Mapping[PurePosixPath, bytes], out_dir: Path) -> tuple[tuple[str, ...], int]:
    """Write the changed files atomically; return (paths written, files unchanged)."""
    written: list[str] = []
    unchanged = 0
    root = out_dir.resolve()
    for path, data in sorted(files.items()):
        target = out_dir / path
        if not target.resolve().is_relative_to(root):
            raise OutputError(f"{target}: resolves outside {out_dir}")
        try:
            if target.read_bytes() == data:
                unchanged += 1
                continue
        except FileNotFoundError:
            pass
        except OSError as e:
            raise OutputError(f"{target}: cannot be read: {e.strerror or e}") from e
        write_atomically(target, data)
        written.append(str(path))
    return tuple(written), unchanged


def write_atomically(target: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never a part of either."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise OutputError(f"{target}: cannot be written: {e.strerror or e}") from e


def build(
    source: Path,
    out_dir: Path,
    site: Site,
    now: datetime,
    *,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Read ``source``, publish into ``out_dir``; with ``strict`` a rejected record stops it."""
    records, problems = read_records(source, progress=progress)
    rejected = sum(1 for p in problems if p.severity is Severity.ERROR)
    if strict and rejected:
        raise RecordError(problems)
    selection = select(records, now)
    feeds = plan_feeds(selection, site, read_known(out_dir))
    written, unchanged = write_tree(render_tree(feeds, site), out_dir)
    return Report(
        read=len(records) + rejected,
        published=len(selection.records),
        unpublished=selection.unpublished,
        scheduled=selection.scheduled,
        duplicates=selection.duplicates,
        problems=problems,
        feeds=len(feeds),
        written=written,
        unchanged=unchanged,
    )
