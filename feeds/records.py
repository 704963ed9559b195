"""Turn record files into checked, cleaned ``Record`` values, or ``Problem`` lines.

This is the only module that looks at raw YAML values. Everything it returns is
typed and safe to render: text is free of characters XML cannot carry, URLs are
absolute http(s), times are aware UTC datetimes.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeGuard
from urllib.parse import urlsplit

from . import frontmatter
from .clean import clean_text, clean_url, describe, parse_time
from .model import Image, Listing, Problem, Provider, Record, RelatedLink, Severity

SUFFIXES = frozenset({".txt", ".md", ".yaml", ".yml"})
_SUFFIX_TUPLE = tuple(SUFFIXES)
MAX_FILE_BYTES = 4 * 1024 * 1024  # a record is a few KB; far larger files are refused unread
MAX_ITEMS = 100  # images or related items kept per record
MAX_DIMENSION = 100_000  # pixels; larger widths or heights are dropped as nonsense


@dataclass(frozen=True)
class ParseResult:
    """The outcome for one file: a record (or None) and what was wrong."""

    record: Record | None
    problems: tuple[Problem, ...]

    @property
    def listing(self) -> Listing | None:
        """What selection needs of the record: the one shape it travels in to the store."""
        return None if self.record is None else self.record.listing


class _Reject(Exception):
    """Raised inside the parser to reject the whole record with one problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


# ---------------------------------------------------------------- parsing


class _Fields:
    """Typed access to one record's raw mapping that collects problems."""

    def __init__(self, path: str, doc: frontmatter.Document) -> None:
        self.path = path
        self.doc = doc
        self.problems: list[Problem] = []

    def line(self, key: str, index: int | None = None) -> int | None:
        if index is not None and key in self.doc.item_lines:
            lines = self.doc.item_lines[key]
            if index < len(lines):
                return lines[index]
        return self.doc.key_lines.get(key)

    def _problem(self, key: str, message: str, index: int | None, severity: Severity) -> Problem:
        label = key if index is None else f"{key}[{index}]"
        return Problem(self.path, message, self.line(key, index), label, severity)

    def warn(self, key: str, message: str, *, index: int | None = None) -> None:
        """Keep the record; the field (or one item of it) is dropped or read leniently."""
        self.problems.append(self._problem(key, message, index, Severity.WARNING))

    def reject(self, key: str, message: str) -> NoReturn:
        """Skip the whole record."""
        raise _Reject(self._problem(key, message, None, Severity.ERROR))

    def required_text(self, key: str) -> str:
        value = self.doc.data.get(key)
        if value is None:
            self.reject(key, "missing; every record needs one")
        if not isinstance(value, str):
            self.reject(key, f"expected text, found {describe(value)} (quote it)")
        cleaned = clean_text(value, single_line=True)
        if not cleaned:
            self.reject(key, "is empty")
        return cleaned

    def text(self, key: str, *, single_line: bool = False) -> str | None:
        value = self.doc.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.warn(key, f"expected text, found {describe(value)} (quote it); left out")
            return None
        return clean_text(value, single_line=single_line) or None


def _is_mapping(value: object) -> TypeGuard[Mapping[Any, Any]]:
    """``isinstance(value, Mapping)``, without the ABC machinery for the usual dict."""
    return type(value) is dict or isinstance(value, Mapping)


def _nested_text(value: Mapping[Any, Any], key: str) -> str | None:
    found = value.get(key)
    if isinstance(found, str):
        return clean_text(found, single_line=True) or None
    return None


def _provider(raw: object, fallback_url: str) -> tuple[Provider, str | None]:
    """The provider, keyed by its domain; falls back to the host of the story's URL."""
    if type(raw) is dict:
        name, domain = raw.get("name"), raw.get("domain")
        if type(name) is str and type(domain) is str:  # the usual case, remembered
            known = _named_provider(name, domain)
            if known is not None:
                return known, None
    mapping: Mapping[Any, Any] = {}
    complaint = None
    if _is_mapping(raw):
        mapping = raw
    else:
        complaint = f"expected a mapping with name and domain, found {describe(raw)}"
    name = _nested_text(mapping, "name")
    domain = _nested_text(mapping, "domain")
    host = None
    if domain:
        host = _domain_host(domain)
        if not host:
            complaint = f"domain is not a host name: {domain!r}"
    if not host:
        host = urlsplit(fallback_url).hostname or "unknown"
    return _provider_of(name, host), complaint


# Records name the same few hundred providers over and over, so what a provider mapping
# gives is remembered (10k records: 26,757 of 26,957 calls remembered, 0.15 us against 1.4 us,
# about 3 us a record). Provider is immutable: records can share one.
@functools.lru_cache(maxsize=4096)
def _named_provider(name: str, domain: str) -> Provider | None:
    """What _provider makes of {name: name, domain: domain}, or None if the domain is no host."""
    cleaned = clean_text(domain, single_line=True)
    host = _domain_host(cleaned) if cleaned else None
    return _provider_of(clean_text(name, single_line=True) or None, host) if host else None


def _domain_host(domain: str) -> str | None:
    return urlsplit(clean_url(f"https://{domain.lower()}/") or "").hostname


def _provider_of(name: str | None, host: str) -> Provider:
    key = host.removeprefix("www.")
    return Provider(name=name or key, key=key, url=f"https://{host}/")


def _images(fields: _Fields) -> tuple[Image, ...]:
    raw = fields.doc.data.get("images")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        fields.warn("images", f"expected a list of images, found {describe(raw)}")
        return ()
    images: list[Image] = []
    for index, item in enumerate(raw[:MAX_ITEMS]):
        if not _is_mapping(item):
            fields.warn("images", f"expected a mapping with url, found {describe(item)}; dropped", index=index)
            continue
        url = clean_url(item["url"]) if isinstance(item.get("url"), str) else None
        if url is None:
            fields.warn("images", f"url is not an absolute http(s) URL: {item.get('url')!r}; dropped", index=index)
            continue
        size: dict[str, int | None] = {}
        for side in ("width", "height"):
            number = item.get(side)
            if number is None:
                size[side] = None
            elif isinstance(number, int) and not isinstance(number, bool) and 0 < number <= MAX_DIMENSION:
                size[side] = number
            else:
                fields.warn(
                    "images",
                    f"{side} must be a positive whole number of pixels, found {describe(number)}",
                    index=index,
                )
                size[side] = None
        images.append(Image(url=url, width=size["width"], height=size["height"], title=_nested_text(item, "title")))
    return tuple(images)


def _related(fields: _Fields) -> tuple[RelatedLink, ...]:
    raw = fields.doc.data.get("related")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        fields.warn("related", f"expected a list of related items, found {describe(raw)}")
        return ()
    links: list[RelatedLink] = []
    for index, item in enumerate(raw[:MAX_ITEMS]):
        if not _is_mapping(item):
            fields.warn("related", f"expected a mapping with sourceUrl, found {describe(item)}; dropped", index=index)
            continue
        url = clean_url(item["sourceUrl"]) if isinstance(item.get("sourceUrl"), str) else None
        if url is None:
            found = item.get("sourceUrl")
            fields.warn("related", f"sourceUrl is not an absolute http(s) URL: {found!r}; dropped", index=index)
            continue
        when = None
        if item.get("publishedDateTime") is not None:
            try:
                when = parse_time(item["publishedDateTime"])
            except ValueError as e:
                fields.warn("related", f"publishedDateTime: {e}; left out", index=index)
        provider = None
        if _is_mapping(item.get("provider")):
            provider, _ = _provider(item["provider"], url)
        links.append(
            RelatedLink(
                url=url,
                title=_nested_text(item, "title") or url,
                published=when,
                provider=provider,
            )
        )
    return tuple(links)


def _topics(fields: _Fields) -> tuple[str, ...]:
    raw = fields.doc.data.get("topics")
    if raw is None:
        return ()
    if isinstance(raw, str):
        fields.warn("topics", f"expected a list of topics, found {describe(raw)}; write it as a list")
        return ()
    if not isinstance(raw, list):
        fields.warn("topics", f"expected a list of topics, found {describe(raw)}")
        return ()
    topics: dict[str, None] = {}
    for index, item in enumerate(raw[:MAX_ITEMS]):
        name = clean_text(item, single_line=True) if isinstance(item, str) else ""
        if not name:
            fields.warn("topics", f"expected a topic name, found {describe(item)}; dropped", index=index)
            continue
        topics.setdefault(name[:200], None)
    return tuple(topics)


INTERNAL = "a bug in feeds, please report it with this file"


def parse_record(path: str, raw: bytes, *, exact: bool = False) -> ParseResult:
    """Check one file's bytes; ``path`` is only used to name it in problems.

    Never raises: one file can never stop a build. An exception nothing here
    foresaw rejects the file with a line that says so.
    """
    try:
        return _parse(path, raw, exact)
    except Exception as e:
        return ParseResult(None, (Problem(path, f"cannot be read: {type(e).__name__} ({INTERNAL})"),))


def _parse(path: str, raw: bytes, exact: bool) -> ParseResult:
    try:
        doc = None if exact else frontmatter.load_raw(raw)  # the usual record: not even decoded whole
        if doc is None:
            doc = frontmatter.load(frontmatter.decode(raw), exact=exact)
    except frontmatter.FrontMatterError as e:
        return ParseResult(None, (Problem(path, e.message, e.line),))
    result = _check(path, doc)
    if result.problems and not doc.exact:  # load it again to tell the lines
        return _parse(path, raw, True)
    return result


def _check(path: str, doc: frontmatter.Document) -> ParseResult:
    fields = _Fields(path, doc)
    for key, line, why in doc.unreadable:
        required = key in ("title", "sourceUrl", "publishedDateTime")
        severity = Severity.ERROR if required else Severity.WARNING
        message = f"value cannot be read ({why})" + ("" if required else "; left out")
        problem = Problem(path, message, line, key, severity)
        if required:
            return ParseResult(None, (*fields.problems, problem))
        fields.problems.append(problem)
    if doc.removed_characters:
        message = f"{doc.removed_characters} control characters removed (YAML cannot carry them)"
        fields.problems.append(Problem(path, message, None, None, Severity.WARNING))
    for key, line in doc.duplicate_keys:
        fields.problems.append(
            Problem(path, "appears more than once; the last value is used", line, key, Severity.WARNING)
        )
    try:
        record = _build(fields)
    except _Reject as e:
        return ParseResult(None, (*_by_line(fields.problems), e.problem))
    return ParseResult(record, _by_line(fields.problems))


def _by_line(problems: list[Problem]) -> tuple[Problem, ...]:
    return tuple(sorted(problems, key=lambda p: p.line or 0))


def _build(fields: _Fields) -> Record:
    data = fields.doc.data
    title = fields.required_text("title")
    raw_url = data.get("sourceUrl")
    if raw_url is None:
        fields.reject("sourceUrl", "missing; every record needs its article's URL")
    url = clean_url(raw_url) if isinstance(raw_url, str) else None
    if url is None:
        fields.reject("sourceUrl", f"not an absolute http(s) URL: {describe(raw_url)}")
    if data.get("publishedDateTime") is None:
        fields.reject("publishedDateTime", "missing; every record needs its publication time")
    try:
        published_at = parse_time(data["publishedDateTime"])
    except ValueError as e:
        fields.reject("publishedDateTime", str(e))
    # Only the YAML 1.2 boolean publishes: YAML 1.1 also reads yes/on/y as true,
    # and a record must never go out because of a loose spelling.
    flag = data.get("published")
    spelled = fields.doc.plain_scalars.get("published", "")
    if flag is True and spelled.lower() != "true":
        fields.warn("published", f"write true or false, found {spelled!r}; the record is not published")
        flag = False
    elif flag is not None and not isinstance(flag, bool):
        fields.warn("published", f"must be true or false, found {describe(flag)}; the record is not published")
    provider, complaint = _provider(data.get("provider"), url)
    if complaint and "provider" in data:
        fields.warn("provider", complaint)
    return Record(
        path=fields.path,
        title=title,
        url=url,
        published_at=published_at,
        is_published=flag is True,
        provider=provider,
        excerpt=fields.text("excerpt"),
        topics=_topics(fields),
        images=_images(fields),
        related=_related(fields),
        category=fields.text("category", single_line=True),
    )


# ---------------------------------------------------------------- reading


def read_raw(path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes | Problem:
    """A record file's bytes, or the problem that kept them from being read.

    Only regular files are read, and never more than ``max_bytes`` + 1 bytes:
    the file is opened without blocking (a FIFO would wait for a writer) and
    looked at through its open descriptor, so a device or a FIFO named like a
    record, or a file that grows while it is read, costs one problem line.
    """
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        return Problem(path, f"cannot read: {e.strerror or e}")
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            return Problem(path, f"not a regular file but {_kind(info.st_mode)}; only regular files are read")
        if info.st_size > max_bytes:
            return Problem(path, f"file is {info.st_size} bytes, over the limit of {max_bytes}; not read")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(handle, min(left, max(info.st_size + 1, 65_536)))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        return Problem(path, f"cannot read: {e.strerror or e}")
    finally:
        os.close(handle)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(raw) > max_bytes:
        return Problem(path, f"file grew past the limit of {max_bytes} bytes while it was read; not read")
    return raw


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")
