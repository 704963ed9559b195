"""What a deploy decides: the uploads (in link order, in waves), the deletions, the CDN paths, what it owes."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from ..errors import DeployError, OutputError
from ..links import is_feed_document, link_order, natural
from ..writing import write_atomically
from .local import LocalFile
from .target import _MD5, INVALIDATE_ALL_ABOVE, Target


@dataclass(frozen=True)
class RemoteObject:
    """An object under the prefix, as the listing shows it."""

    path: str  # its key without the prefix
    etag: str  # without quotes
    size: int


class Change(enum.Enum):
    NEW = "new"
    CHANGED = "changed"


@dataclass(frozen=True)
class Upload:
    path: str
    change: Change


def upload_groups(uploads: Iterable[Upload]) -> list[list[Upload]]:
    """The uploads in waves: each wave goes up in parallel, and only after the one before it is complete.

    Waves follow ``rank``; within a rank new files go before changed ones, so
    that a changed file (an archive page that gains a next-archive link) never
    points to a new one not yet there.
    """
    waves: dict[tuple[int, bool], list[Upload]] = {}
    for upload in uploads:
        waves.setdefault(link_order(upload.path, upload.change is not Change.CHANGED)[:2], []).append(upload)
    return [sorted(waves[key], key=lambda u: natural(u.path)) for key in sorted(waves)]


def compare(
    local: Mapping[str, LocalFile], remote: Mapping[str, RemoteObject], forced: bool = False
) -> tuple[list[Upload], list[str], int]:
    """(uploads decided, paths whose object's metadata must decide, files known unchanged).

    A listed ETag that equals the local MD5 means the same bytes. A different
    size with an MD5-shaped ETag means a change. Anything else (a multipart
    ETag, a server whose ETags are not MD5s, or a same-size change) is decided
    by the MD5 this tool stored in the object's metadata. ``forced`` (new
    caching headers): every file goes up again.
    """
    uploads: list[Upload] = []
    ask: list[str] = []
    same = 0
    for path, file in local.items():
        there = remote.get(path)
        if there is None:
            uploads.append(Upload(path, Change.NEW))
        elif forced:
            uploads.append(Upload(path, Change.CHANGED))
        elif there.etag == file.md5:
            same += 1
        elif _MD5.fullmatch(there.etag) and there.size != file.size:
            uploads.append(Upload(path, Change.CHANGED))
        else:
            ask.append(path)
    return uploads, ask, same


def stale_objects(
    local: Mapping[str, LocalFile], remote: Mapping[str, RemoteObject], feeds: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """Objects no file of the tree stands for: (feed documents, kept whatever their origin; the others).

    A feed document is one by its name, or because the manifest lists it (``feeds``).
    """
    gone = sorted((path for path in remote if path not in local), key=natural)
    kept = [p for p in gone if is_feed_document(p) or p in feeds]
    return kept, [p for p in gone if p not in kept]


def cdn_paths(base_url: str, paths: Iterable[str], limit: int = INVALIDATE_ALL_ABOVE) -> list[str]:
    """The URL paths a CDN must drop for ``paths``; one wildcard past ``limit``.

    A folder's index.html is also served as the folder itself.
    """
    base = urlsplit(base_url).path or "/"
    base = base if base.endswith("/") else base + "/"
    found: set[str] = set()
    for path in paths:
        found.add(base + quote(path))
        if PurePosixPath(path).name == "index.html":
            found.add(base + quote(path[: -len("index.html")]))
    if len(found) > limit:
        return [base + "*"]
    return sorted(found)


# ---------------------------------------------------------------- what survives a deploy that died


@dataclass
class Pending:
    """Notifications a deploy owes: kept beside the tree until sent, so the next deploy sends them.

    Once a file is up, the next deploy sees it unchanged; without this note a
    deploy killed between its uploads and its pings would never announce them.
    """

    path: Path
    ping: set[str] = field(default_factory=set)  # feed URLs
    invalidate: set[str] = field(default_factory=set)  # tree paths

    @classmethod
    def load(cls, tree: Path, target: Target) -> Pending:
        where = tree.resolve()
        name = hashlib.blake2b(str(target).encode(), digest_size=6).hexdigest()
        note = cls(where.parent / f".{where.name}.deploy-{name}.json")
        try:
            data = json.loads(note.path.read_text(encoding="utf-8"))
            note.ping = {str(url) for url in data["ping"]}
            note.invalidate = {str(path) for path in data["invalidate"]}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DeployError(f"{note.path}: cannot be read ({e}); remove it to go on") from e
        return note

    def save(self) -> None:
        if not self.ping and not self.invalidate:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        data = {"version": 1, "ping": sorted(self.ping), "invalidate": sorted(self.invalidate)}
        try:
            write_atomically(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        except OutputError as e:
            raise DeployError(str(e)) from e


# ---------------------------------------------------------------- the network
