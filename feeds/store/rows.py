"""The typed values the store hands out and takes in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..model import FeedKind, Listing


class StoreDamaged(Exception):
    """What the store holds cannot be trusted; the build starts again from the records."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A record file as the store last saw it."""

    id: int
    size: int
    mtime: int
    digest: bytes


class Parsed(NamedTuple):
    """One record file read and parsed (in a worker): what the store keeps of it.

    A named tuple, not a frozen dataclass: one is made for every file read, and it is made
    in a third of the time (0.3 against 1.1 us).
    """

    path: str  # relative to the records folder
    size: int
    mtime: int
    digest: bytes
    problems: bytes | None  # marshalled; None when there are none
    listing: tuple[Any, ...] | None  # the listing as reading.listing_values packs it; None: rejected


@dataclass(frozen=True, slots=True)
class Group:
    """A group of visible entries: all of them, one topic key or one provider key."""

    id: int
    kind: FeedKind
    key: str
    visible: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A visible entry of a group, with the digest of the file its record comes from."""

    file: int
    digest: bytes
    listing: Listing


@dataclass(frozen=True)
class Delta:
    """How the visible set changed in a build."""

    entered: int
    left: int
    oldest: dict[int, int]  # group id -> the oldest time (micros) an entry entered or left it
    before: dict[int, int]  # group id -> how many visible entries it had before the change

    @property
    def touched(self) -> frozenset[int]:
        return frozenset(self.oldest)


@dataclass(frozen=True)
class Counts:
    """Record files and listings by what selection makes of them, as of the last visibility update."""

    files: int = 0
    published: int = 0
    unpublished: int = 0
    visible: int = 0

    @property
    def rejected(self) -> int:
        return self.files - self.published - self.unpublished
