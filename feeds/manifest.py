"""``manifest.json``: every feed of the tree, its permanent slug and its files.

Later builds read it back: the slugs it lists are kept for good, the files
it implies are the ones a build may remove when no build makes them any
more, and the number of published entries it records guards against a
build that would publish far fewer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import OutputError
from .model import Draft, FeedKey, FeedKind, Format, Site
from .renderers.content import rfc3339, self_url
from .selection import KnownFeed
from .version import __version__

MANIFEST = PurePosixPath("manifest.json")
SITE_FILES = ("index.html", "feeds.opml", "feed.xsl", "extensions/related.html", str(MANIFEST))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


def manifest_json(feeds: Iterable[Draft], site: Site, next_due: datetime | None = None) -> bytes:
    """Every feed of the tree, in the order of the index page.

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
            "total": feed.total,
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


def known_feeds(feeds: Iterable[Draft]) -> tuple[KnownFeed, ...]:
    """The topic and provider feeds as the manifest records them, in its order."""
    heads = sorted(
        (f for f in feeds if f.page is None and f.key.kind is not FeedKind.ALL), key=lambda f: f.key.sort_key
    )
    return tuple(KnownFeed(f.key.kind, f.group, f.key.slug, f.name, f.updated) for f in heads)


@dataclass(frozen=True)
class Manifest:
    """What an earlier build's manifest says."""

    known: tuple[KnownFeed, ...] = ()  # its topic and provider feeds, whose slugs stay
    files: frozenset[str] = frozenset()  # every file it implies the build wrote
    published: int | None = None  # entries of the feed of all records; None: not recorded


def read_manifest(out_dir: Path) -> Manifest:
    """The manifest an earlier build left in ``out_dir`` (an empty one when there is none)."""
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        return _parse(data)
    except FileNotFoundError:
        return Manifest()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise OutputError(
            f"{out_dir / MANIFEST}: cannot be read ({e}); it holds the feeds' permanent URLs, so fix or remove it"
        ) from e


def _parse(data: dict[str, Any]) -> Manifest:
    known = []
    files = set(SITE_FILES)
    published = None
    for entry in data["feeds"]:
        kind = FeedKind[entry["kind"].upper()]
        slug = str(entry["slug"])
        pages = int(entry.get("archive_pages") or 0)
        key = FeedKey(kind, slug)
        files.update(str(key.path(fmt)) for fmt in Format)
        files.add(str(key.folder / "index.html"))
        for page in range(1, pages + 1):
            files.update(str(key.folder / "archive" / str(page) / fmt.value) for fmt in Format)
        if kind is FeedKind.ALL:
            total = entry.get("total")
            published = int(total) if isinstance(total, int) else None
            continue
        updated = datetime.fromisoformat(entry["updated"]) if entry.get("updated") else None
        known.append(KnownFeed(kind, str(entry["key"]), slug, str(entry["name"]), updated))
    return Manifest(tuple(known), frozenset(files), published)
