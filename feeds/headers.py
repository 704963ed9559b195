"""What each output file is served with: its media type, how long it may be cached, whether to gzip it.

``feeds serve`` and ``feeds deploy`` take their headers from here, so a file
is described the same way wherever it is served from. Section numbers refer
to RFC 9110 (HTTP Semantics) and RFC 9111 (HTTP Caching).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .model import Format

_UTF8 = "; charset=utf-8"
_BY_NAME = {fmt.value: fmt.media_type + _UTF8 for fmt in Format}  # rss.xml, atom.xml, feed.json
_BY_SUFFIX = {
    ".json": "application/json",  # RFC 8259 §11: no charset parameter is defined for it
    ".opml": "text/x-opml" + _UTF8,
    ".html": "text/html" + _UTF8,
    ".xsl": "application/xslt+xml" + _UTF8,  # the registered type; browsers read any type as XSLT
}
_MIME = mimetypes.MimeTypes()  # the built-in table only, so every machine gives the same answer
# A full archive page never changes (RFC 5005 §4) unless a record in it is withdrawn, and a
# deploy invalidates the CDN's copy then; a week bounds how long a browser may keep one.
ARCHIVE_MAX_AGE = 7 * 24 * 3600


def content_type(name: str) -> str:
    """The Content-Type for a file name (§8.3), with the charset every text file here is written in."""
    kind = _BY_NAME.get(name) or _BY_SUFFIX.get(PurePosixPath(name).suffix.lower())
    if kind is None:
        guessed, coding = _MIME.guess_type(name)
        kind = guessed if guessed and not coding else "application/octet-stream"
    return kind


def compressible(media_type: str) -> bool:
    """Whether gzip is worth trying on a body of this type: text, XML and JSON are; images are not."""
    kind = media_type.split(";")[0].strip()
    return kind.startswith("text/") or kind.endswith(("xml", "json", "javascript"))


@dataclass(frozen=True)
class CachePolicy:
    """How long each file of one output tree may be reused without asking again (RFC 9111 §5.2.2)."""

    max_age: int  # seconds, for feeds, pages and every other file
    full_archives: frozenset[str] = frozenset()  # paths of archive pages that are full

    def cache_control(self, path: str) -> str:
        if path in self.full_archives:
            return f"public, max-age={ARCHIVE_MAX_AGE}, immutable"  # RFC 8246
        return f"public, max-age={self.max_age}"

    def headers(self, path: str) -> dict[str, str]:
        """The Content-Type and Cache-Control of the file at ``path`` (relative to the tree, with slashes)."""
        return {"Content-Type": content_type(PurePosixPath(path).name), "Cache-Control": self.cache_control(path)}

    @property
    def fingerprint(self) -> str:
        """Changes whenever the same file would get other caching headers (the archive pages aside)."""
        return f"max-age={self.max_age};archives={ARCHIVE_MAX_AGE}"

    @classmethod
    def from_manifest(cls, manifest: bytes | None, max_age: int) -> CachePolicy:
        """The policy for the tree whose ``manifest.json`` holds ``manifest`` (None or unreadable: no archives)."""
        try:
            data = json.loads(manifest) if manifest else {}
            return cls(max_age, full_archive_pages(data))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls(max_age)


def full_archive_pages(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The archive pages a manifest implies are full: every page of a feed but its newest.

    Pages fill from the oldest, and the newest always has room, so pages
    1..n-1 of a feed with n archive pages are full.
    """
    full: set[str] = set()
    for feed in manifest.get("feeds", ()):
        pages = int(feed.get("archive_pages") or 0)
        for path in feed["paths"].values():
            where = PurePosixPath(path)
            full.update(str(where.parent / "archive" / str(page) / where.name) for page in range(1, pages))
    return frozenset(full)
