"""The typed, immutable data that flows through a build.

A field that is not declared here cannot be rendered: the model is the
allowlist that keeps private record fields (``secured``) out of every feed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Generic, TypeVar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    """An aware time as whole microseconds since 1970, exactly: how listings, the store and workers carry times."""
    return (moment - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC time ``to_micros`` was given."""
    return EPOCH + timedelta(microseconds=micros)


def printable(text: str) -> str:
    """``text`` on one line and unable to fake another: backslashes and unprintable characters escaped.

    As ``ls -b`` shows file names: ``\\n`` for a line break, ``\\\\`` for a backslash,
    ``\\ooo`` for other control characters and for each byte of a name that is not UTF-8.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escaped(char) for char in text)


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        code -= 0xDC00
    return f"\\{code:03o}" if code < 0x100 else f"\\u{code:04x}"


class Severity(enum.Enum):
    ERROR = "error"  # the record is skipped
    WARNING = "warning"  # the record is kept, a field was dropped or read leniently


@dataclass(frozen=True)
class Problem:
    """Something wrong with one input file, shaped ``path:line: field: message``."""

    path: str
    message: str
    line: int | None = None
    field: str | None = None
    severity: Severity = Severity.ERROR

    def as_dict(self) -> dict[str, object]:
        """The problem for JSON reports."""
        return {
            "path": self.path,
            "line": self.line,
            "field": self.field,
            "severity": self.severity.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        path = printable(self.path)
        where = path if self.line is None else f"{path}:{self.line}"
        what = self.message if self.field is None else f"{self.field}: {self.message}"
        return f"{where}: {self.severity.value}: {what}"


@dataclass(frozen=True)
class Provider:
    """Who published a story. ``key`` identifies it (its domain, lowercased)."""

    name: str
    key: str
    url: str  # the provider's home page


@dataclass(frozen=True)
class Image:
    url: str
    width: int | None = None
    height: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class RelatedLink:
    """Other coverage of the same story (its excerpt is not published, so not kept)."""

    url: str
    title: str
    published: datetime | None = None
    provider: Provider | None = None


@dataclass(frozen=True)
class Record:
    """One news item, checked and cleaned. Times are aware and in UTC."""

    path: str
    title: str
    url: str
    published_at: datetime
    is_published: bool
    provider: Provider
    excerpt: str | None = None
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[RelatedLink, ...] = ()
    category: str | None = None

    @property
    def listing(self) -> Listing:
        return Listing(self.path, self.url, to_micros(self.published_at), self.is_published, self.topics, self.provider)

    def __hash__(self) -> int:
        """The hash of the fields, worked out once, as a str keeps its own.

        Records key the renderers' memos (each is rendered for about four feeds, in two or
        three formats); kept, it saves 2% of rendering's instructions (valgrind, 30 feeds).
        """
        found: int | None = self.__dict__.get("_hash")
        if found is None:
            fields = (self.path, self.title, self.url, self.published_at, self.is_published, self.provider)
            found = hash((*fields, self.excerpt, self.topics, self.images, self.related, self.category))
            object.__setattr__(self, "_hash", found)
        return found

    def __getstate__(self) -> dict[str, object]:
        """What pickling keeps (a record goes to a worker to be rendered): the fields, not the hash,
        which only this process's string hashing makes."""
        state = dict(self.__dict__)
        state.pop("_hash", None)
        return state


@dataclass(frozen=True, slots=True)
class Listing:
    """What selection knows of a record: who it is, when, whether it may be published, its groups.

    The parser makes one beside each ``Record`` (``Record.listing``); the
    store keeps it between builds, and selection, the shortlist and the
    drafts of feed documents use nothing else.
    """

    path: str
    url: str
    # Microseconds since 1970, UTC, as workers send them and the store keeps them: the shortlist
    # compares one for each file read, and as a datetime each was made and taken apart again
    # (98M of 1,638M instructions of a cold 10k build's read stage in the main process).
    time: int
    is_published: bool
    topics: tuple[str, ...]
    provider: Provider

    @property
    def published_at(self) -> datetime:
        return from_micros(self.time)


class FeedKind(enum.Enum):
    """The three families of feeds; the value is the folder in the output tree."""

    ALL = "all"
    TOPIC = "topics"
    PROVIDER = "providers"


class Format(enum.Enum):
    """Output formats; the value is the file name inside a feed's folder."""

    RSS = "rss.xml"
    ATOM = "atom.xml"
    JSON = "feed.json"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    Format.RSS: "application/rss+xml",
    Format.ATOM: "application/atom+xml",
    Format.JSON: "application/feed+json",
}


@dataclass(frozen=True)
class FeedKey:
    """Which feed: its kind and its slug (the folder name in the output tree)."""

    kind: FeedKind
    slug: str

    @property
    def sort_key(self) -> tuple[int, str]:
        return (list(FeedKind).index(self.kind), self.slug)

    @property
    def folder(self) -> PurePosixPath:
        if self.kind is FeedKind.ALL:
            return PurePosixPath(self.kind.value)
        return PurePosixPath(self.kind.value, self.slug)

    def path(self, fmt: Format) -> PurePosixPath:
        return self.folder / fmt.value


@dataclass(frozen=True)
class Site:
    """Site-wide settings, read from ``feeds.yaml`` and the command line."""

    title: str = "News feeds"
    description: str | None = None
    base_url: str = "http://localhost:8000/"
    home_url: str | None = None
    language: str = "en"
    max_items: int = 50
    archives: bool = False  # RFC 5005 archive documents for entries beyond max_items
    archive_page_size: int = 50
    hubs: tuple[str, ...] = ()  # WebSub hubs announced in every feed
    icon: str | None = None  # a square image beside the feed's name (JSON Feed icon, Atom icon, RSS image)
    icon_size: int | None = None  # the icon's side in pixels, for RSS <image> (at most 144)
    logo: str | None = None  # a wide image (Atom logo, webfeeds:logo)
    favicon: str | None = None  # a small icon (JSON Feed favicon, the pages' <link rel="icon">)
    accent_color: str | None = None  # six hex digits, as Feedly's webfeeds:accentColor takes them
    providers: tuple[tuple[str, str], ...] = ()  # (provider domain, icon URL): that provider's feed icon
    topics: tuple[tuple[str, str], ...] = ()  # (topic key, icon URL): that topic's feed icon
    refresh_minutes: int = 15  # how long a reader or cache may keep a feed before asking again
    max_shrink: float = 0.5  # the share of the last build's entries a build may drop without --allow-shrink
    max_feed_bytes: int | None = None  # no feed document grows past this many bytes (None: no limit)
    deploy_gzip: bool = False  # feeds deploy: store compressible files gzipped (Content-Encoding: gzip)

    @property
    def link(self) -> str:
        return self.home_url or self.base_url

    def url(self, path: PurePosixPath | str) -> str:
        return self.base_url + str(path)


E = TypeVar("E", Listing, Record, covariant=True)


@dataclass(frozen=True)
class Document(Generic[E]):
    """One feed document (the feed itself or one of its archive pages): a group of entries, newest first.

    A ``Feed`` has full records as entries and can be rendered; a ``Draft``
    has only what selection knows of them, which is enough to tell whether
    its files changed and to list it in the manifest and the index pages.
    """

    key: FeedKey
    group: str  # the topic or provider key the slug was given to ("" for all)
    name: str
    entries: tuple[E, ...]
    total: int  # published records in the group before the cut
    updated: datetime | None  # the newest entry's time; None for an empty feed
    page: int | None = None  # archive page number, 1 the oldest; None for the feed itself
    pages: int = 0  # how many archive pages the group has

    def path(self, fmt: Format, page: int | None = -1) -> PurePosixPath:
        """This document's path, or that of another ``page`` of the same group (None: the feed)."""
        page = self.page if page == -1 else page
        if page is None:
            return self.key.path(fmt)
        return self.key.folder / "archive" / str(page) / fmt.value


Feed = Document[Record]  # ready to render
Draft = Document[Listing]  # planned, its records not yet fetched
AnyDocument = Draft | Feed  # what is said of a document whatever its entries
