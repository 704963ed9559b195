"""Which kind of output file a path is, and the order that never lets a reader follow a link to a missing file.

Both writers of the tree use it: a build renames its staged files into place
in this order, and a deploy uploads them in it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from .manifest import MANIFEST
from .model import Format

FEED_NAMES = frozenset(fmt.value for fmt in Format)


def is_archive_page(path: str) -> bool:
    """``<feed folder>/archive/<n>/<format file>``."""
    parts = PurePosixPath(path).parts
    return len(parts) >= 4 and parts[-1] in FEED_NAMES and parts[-3] == "archive" and parts[-2].isdigit()


def is_feed_document(path: str) -> bool:
    """A feed itself (rss.xml, atom.xml, feed.json, not an archive page): never deleted, pinged when it changes."""
    return PurePosixPath(path).name in FEED_NAMES and not is_archive_page(path)


def rank(path: str) -> int:
    """When a file goes into place: what it links to goes before it.

    0 stylesheet and other support files (every feed names feed.xsl), 1 archive
    pages, 2 feeds (which link to their newest archive page), 3 feed pages,
    4 the index page, 5 the OPML list, 6 the manifest.
    """
    if is_archive_page(path):
        return 1
    if is_feed_document(path):
        return 2
    if path == str(MANIFEST):
        return 6
    if path == "feeds.opml":
        return 5
    if PurePosixPath(path).name == "index.html":
        return 4 if "/" not in path else 3
    return 0


def natural(path: str) -> tuple[tuple[int, int, str], ...]:
    """Sorts archive/9 before archive/10."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in PurePosixPath(path).parts)


def link_order(path: str, new: bool) -> tuple[int, bool, tuple[tuple[int, int, str], ...]]:
    """The sort key: by rank, new files before changed ones (an archive page that gains a
    next-archive link must not point to a page not yet there), then by path."""
    return rank(path), not new, natural(path)
