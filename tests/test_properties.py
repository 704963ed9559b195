"""Property tests (Hypothesis).

1. ``parse_record`` never raises on hostile input (arbitrary bytes, arbitrary
   text, junk after a '---' line, junk YAML, real records with random splices):
   it returns a record or an error, and every problem is one line.
2. Generated records, each field sometimes valid, sometimes of the wrong type,
   sometimes missing, built into a whole output tree in memory: every file is
   well-formed; each publishable record is exactly once in the feed of all
   records and in the feed of each of its topics and of its provider (and in no
   other), in the planned feeds and in every rendered file; entries are newest
   first, ties by URL; nothing of an unpublished, scheduled or rejected record,
   and no ``secured`` value, reaches any file; feedparser reads every feed.

Each generated record carries a unique token (``Q<n>Z<hex>``) in its title and
in every URL it holds, so "nothing of it leaked" is a substring search.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
import string
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import feedparser
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.model import Feed, FeedKind, Format, Record, Severity, Site
from feeds.publish import build, documents
from feeds.records import ParseResult, parse_record
from feeds.selection import topic_key

from .conftest import tree, tree_of

ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 11, 26, tzinfo=UTC)
SITE = Site(base_url="https://feeds.example.org/")
ATOM = "{http://www.w3.org/2005/Atom}"

FAST = settings(max_examples=200, deadline=None, database=None)
SLOW = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------- parse_record never raises


def _check_parse_contract(raw: bytes) -> None:
    """parse_record returns a record (and no error) or no record and an error; one line per problem."""
    result = parse_record("x.txt", raw)
    errors = [p for p in result.problems if p.severity is Severity.ERROR]
    if result.record is None:
        assert errors, f"no record and no error for {raw!r}"
    else:
        assert not errors, f"a record and errors {errors} for {raw!r}"
    for problem in result.problems:
        text = str(problem)
        assert text.startswith("x.txt"), text
        assert len(text.splitlines()) == 1, repr(text)


SEEDS = [path.read_bytes() for path in sorted((ROOT / "seeds").glob("*.txt"))]


@st.composite
def _mutated_seed(draw: st.DrawFn) -> bytes:
    """A real record with a few random byte splices: deletions, insertions, overwrites."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        start = draw(st.integers(min_value=0, max_value=len(data)))
        end = min(len(data), start + draw(st.integers(min_value=0, max_value=8)))
        data[start:end] = draw(st.binary(max_size=8))
    return bytes(data)


@FAST
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.tuples(st.binary(max_size=500), st.binary(max_size=100)).map(lambda p: b"---\n" + p[0] + b"\n---\n" + p[1]),
        _mutated_seed(),
    )
)
def test_arbitrary_bytes_give_a_record_or_a_problem(raw: bytes) -> None:
    _check_parse_contract(raw)


@FAST
@given(st.text(max_size=1000))
def test_arbitrary_text_gives_a_record_or_a_problem(text: str) -> None:
    _check_parse_contract(text.encode("utf-8", errors="surrogatepass"))


@FAST
@given(
    st.text(max_size=500),
    st.sampled_from(["", "\n---\n", "\n---\nbody text\n", "\n--- \n\n# Heading\n"]),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_front_matter_with_junk_text_gives_a_record_or_a_problem(
    junk: str, closing: str, newline: str, bom: bool
) -> None:
    text = ("\ufeff" if bom else "") + ("---\n" + junk + closing).replace("\n", newline)
    _check_parse_contract(text.encode("utf-8", errors="surrogatepass"))


# Fragments of YAML, some valid, many not: the junk is built from these.
_FIELD_NAMES = [
    "title",
    "excerpt",
    "publishedDateTime",
    "sourceUrl",
    "published",
    "provider",
    "name",
    "domain",
    "topics",
    "images",
    "url",
    "width",
    "height",
    "related",
    "secured",
    "category",
]
_YAML_TOKENS = [
    "-",
    "- ",
    "? ",
    ": ",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "*nope",
    "<<: *a",
    "<<: [*a, *a]",
    '"k\\nk": ',
    '"k\\u2028k": ',
    "'k\n\n  k': ",
    "? |\n  k\n  k\n: ",
    "!!str ",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!pairs ",
    "!!map ",
    "!!seq ",
    "!!null ",
    "!!python/object:os.system ",
    "!local ",
    "|",
    "|-",
    ">",
    ">+",
    "'",
    '"',
    "\\",
    "#",
    "%YAML 1.1",
    "%TAG ! tag:x,2000:",
    "---",
    "...",
    "\t",
    "~",
    "null",
    "true",
    "yes",
    "off",
    ".inf",
    "-.nan",
    "0x1F",
    "0o17",
    "1_000",
    "1e400",
    "-0",
    "190:20:30",
    "2020-02-30",
    "2020-13-01T10:00:00Z",
    "2020-01-01T24:00:00Z",
    "2020-01-01T00:00:00+24:00",
    "0000-01-01",
    "9999-12-31T23:59:59-01:00",
    "https://a.example/x?y=1&z=2",
    "<script>alert(1)</script>",
    "&amp;",
    "😀",
    "\u2028",
    "\x85",
    "\x07",
    "\x7f",
    "\ufeff",
    "\ufffe",
]


@st.composite
def _junk_yaml(draw: st.DrawFn) -> str:
    pieces = st.one_of(
        st.sampled_from(_YAML_TOKENS),
        st.sampled_from(_FIELD_NAMES).map(lambda name: f"{name}: "),
        st.text(max_size=12),
        st.datetimes().map(datetime.isoformat),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
    )
    separators = st.sampled_from(["", " ", "\n", "\n  ", "\n- ", ": ", ", "])
    parts = draw(st.lists(st.tuples(pieces, separators), max_size=40))
    return "".join(piece + separator for piece, separator in parts)


_ODD_KEYS = ['"k\\nk"', '"k\\u2028k"', "'k\n\n  k'", "? |\n  k\n  k\n", '"ti\\ttle"', "1", "null", "[a]", "{a: 1}"]
_ODD_VALUES = ["!!int x", "!!float x", "!!bool x", "!!timestamp x", "2020-02-30", "&a 1", "*a", "[1, {b: 2}]", "|\n  t"]


@st.composite
def _junk_mapping(draw: st.DrawFn) -> str:
    """A mostly well-formed mapping of real and odd keys (repeats likely) to odd values."""
    keys = st.one_of(st.sampled_from(_FIELD_NAMES), st.sampled_from(_ODD_KEYS))
    values = st.one_of(st.sampled_from(_ODD_VALUES), st.sampled_from(_YAML_TOKENS), st.text(max_size=8))
    lines = draw(st.lists(st.tuples(keys, values), min_size=1, max_size=12))
    return "\n".join(f"{key}: {value}" for key, value in lines)


@FAST
@given(st.one_of(_junk_yaml(), _junk_mapping()), st.sampled_from(["\n---\n", "\n---\n\nbody\n", "\n"]))
def test_front_matter_with_junk_yaml_gives_a_record_or_a_problem(junk: str, closing: str) -> None:
    _check_parse_contract(("---\n" + junk + closing).encode("utf-8", errors="surrogatepass"))


def _record(extra: str) -> bytes:
    head = "title: t\nsourceUrl: https://a.example/x\npublished: true\n"
    if "publishedDateTime" not in extra:
        head += "publishedDateTime: 2024-01-01T00:00:00Z\n"
    return f"---\n{head}{extra}\n---\n".encode()


# Inputs that once escaped parse_record as exceptions (PyYAML's constructors raise
# ValueError/KeyError/AttributeError/IndexError, not YAMLError, for these) or gave
# a problem of several lines (PyYAML's ReaderError str(), a YAML key with a line
# break used as the field name); kept as fixed examples.
REPORTED = {
    "impossible calendar date": _record("publishedDateTime: 2020-02-30T10:00:00Z"),
    "impossible date in any field": _record("updated: 2020-13-01"),
    "offset of 24 hours": _record("publishedDateTime: 2020-01-01T00:00:00+24:00"),
    "offset of 99 hours": _record("publishedDateTime: 2020-01-01T00:00:00+99:00"),
    "hour 24": _record("publishedDateTime: 2020-01-01T24:00:00Z"),
    "year 0": _record("publishedDateTime: 0000-01-01"),
    "!!int on text": _record("quality: !!int high"),
    "!!float on text": _record("heat: !!float warm"),
    "!!bool on text": _record("flag: !!bool maybe"),
    "!!timestamp on text": _record("publishedDateTime: !!timestamp soon"),
    "!!int on a required field": _record("title: !!int t"),
    "control character in YAML": _record("excerpt: bell\x07here"),
    "DEL in YAML": _record("excerpt: a\x7fb"),
    "U+FFFE in YAML": _record("excerpt: a\ufffeb"),
    "empty !!float": _record("heat: !!float ''"),
    "repeated key with a line break": b'---\n"a\\nb": 1\n"a\\nb": 2\n---\n',
    "unreadable value under a key with a line break": b'---\n"a\\nb": !!int x\n---\n',
    "block scalar as a key": b"---\n? |\n  multi\n  line\n: !!float x\n---\n",
}


@pytest.mark.parametrize("raw", list(REPORTED.values()), ids=list(REPORTED))
def test_reported_inputs_give_a_record_or_a_problem(raw: bytes) -> None:
    _check_parse_contract(raw)


# ---------------------------------------------------------------- generated records

# Any Unicode a UTF-8 file can hold: control characters, emoji, markup, quotes.
_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=30)
_NASTY_TEXT = st.one_of(
    _TEXT,
    st.sampled_from(["<script>alert('x')</script>", "Tom & Jerry", "\"quoted\" 'single'", "]]>", "&lt;b&gt;", "😀🇺🇦"]),
    st.tuples(_TEXT, _TEXT).map(lambda pair: f"{pair[0]}<b>&{pair[1]}"),
)
_WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)
_HOSTS = ["a.example", "news.b.example", "www.c.example", "xn--bcher-kva.example", "d.example:8443"]
_PROVIDER_DOMAINS = ["a.example", "news.b.example", "e.example", "www.f.example"]
_TOPIC_POOL = ["AI", "ai", " AI  ", "Space", "C++", "C#", "C", "Open Source", "open  source", "Ｃ"]
_PATH_CHARS = string.ascii_letters + string.digits + "-._~"
# Spellings of a true `published` flag: only true (in any case) publishes; YAML 1.1
# reads yes/on as true too, but a record must never go out on a loose spelling.
_TRUE_SPELLINGS = ["true"] * 5 + ["True", "TRUE", "yes", "on"]
_MISSING = object()  # a field left out of the mapping
_NAIVE_1990 = datetime(1990, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # hypothesis wants naive bounds
_NAIVE_2035 = datetime(2035, 1, 1, tzinfo=UTC).replace(tzinfo=None)


@dataclass
class Spec:
    """One generated record: its YAML mapping and what the publisher must make of it."""

    index: int
    token: str  # unique to this record: in its title and in every URL it carries
    data: dict[str, Any]
    url: str | None  # the canonical URL when sourceUrl is valid
    when: datetime | None  # the UTC time when publishedDateTime is valid
    title_ok: bool
    secret: str | None
    provider_domain: str | None  # when provider.domain is a valid host name
    pool_topics: list[str]
    spelling: str = ""  # how a true `published` is written in the file

    @property
    def parses(self) -> bool:
        return self.title_ok and self.url is not None and self.when is not None

    @property
    def qualifies(self) -> bool:
        """published: true, a valid time not after NOW, a valid URL and title."""
        published = self.data.get("published") is True and self.spelling.lower() == "true"
        return self.parses and published and self.when is not None and self.when <= NOW


@st.composite
def _urls(draw: st.DrawFn, token: str, kind: str) -> str:
    """A canonical absolute URL (clean_url leaves it as it is) carrying the record's token."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.sampled_from(_HOSTS))
    path = draw(st.text(alphabet=_PATH_CHARS, max_size=12))
    query = draw(st.sampled_from(["", "?a=1&b=2", "?q=%C3%A9", "#frag"]))
    return f"{scheme}://{host}/{kind}/{token}/{path}{query}"


def _mostly(valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """valid 8 times in 10 (st.one_of would weigh each branch of a nested one_of alike)."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda roll: valid if roll < 8 else invalid)


def _maybe(draw: st.DrawFn, valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
    """Mostly valid (8 in 10, so that whole records often are), sometimes the
    wrong type or value, sometimes missing; shrinks towards valid."""
    roll = draw(st.integers(min_value=0, max_value=9))
    if roll < 8:
        return draw(valid)
    return draw(invalid) if roll == 8 else _MISSING


def _time_value(draw: st.DrawFn, moment: datetime) -> Any:
    """The same instant written the ways real exports write it."""
    minutes = draw(st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    return draw(
        st.sampled_from(
            [
                local,  # unquoted YAML timestamp with an offset
                moment,  # ... in UTC
                local.isoformat(),  # quoted string with an offset
                moment.isoformat().replace("+00:00", "Z"),
                moment.replace(tzinfo=None).isoformat(),  # no offset: read as UTC
            ]
        )
    )


@st.composite
def _spec(draw: st.DrawFn, index: int) -> Spec:
    token = f"Q{index}Z{draw(st.integers(min_value=0, max_value=2**32 - 1)):08x}"
    data: dict[str, Any] = {}

    title = _maybe(
        draw,
        _NASTY_TEXT.map(lambda text: f"TITLE-{token} {text}"),
        st.one_of(_WRONG_TYPES, st.sampled_from(["", "   ", "\t\n", "\x00\x01"])),
    )
    data["title"] = title
    data["excerpt"] = _maybe(draw, _NASTY_TEXT, _WRONG_TYPES)

    moment = draw(st.datetimes(min_value=_NAIVE_1990, max_value=_NAIVE_2035, timezones=st.just(UTC)))
    if draw(st.booleans()):  # ties in time, to test the URL tie-break
        moment = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        when_value: Any = moment.date()  # a date alone: midnight UTC
    else:
        when_value = _time_value(draw, moment)
    bad_times = st.one_of(
        _WRONG_TYPES,
        st.sampled_from(["yesterday", "2020-02-30T10:00:00Z", "1969-12-31T23:00:00Z", "20", "2020-01-01T25:00:00Z"]),
        st.just(date(1960, 5, 1)),
    )
    data["publishedDateTime"] = _maybe(draw, st.just(when_value), bad_times)

    url = draw(_urls(token, "story"))
    bad_urls = st.one_of(
        _WRONG_TYPES,
        st.sampled_from(
            [
                f"ftp://a.example/{token}",
                f"/relative/{token}",
                f"https:///{token}",
                f"javascript:alert('{token}')",
                f"https://a.example/{token} with space",
                f"https://user:pw@a.example/{token}",
                f"https://a.example:99999/{token}",
                f"https://a.example/{token}\x07",
            ]
        ),
    )
    data["sourceUrl"] = _maybe(draw, st.just(url), bad_urls)
    data["published"] = draw(st.sampled_from([True] * 12 + [False, "true", 1, "yes", None, _MISSING]))
    spelling = draw(st.sampled_from(_TRUE_SPELLINGS)) if data["published"] is True else ""

    domain = draw(st.sampled_from([*_PROVIDER_DOMAINS, None]))
    provider = {"name": draw(_NASTY_TEXT), "domain": domain} if domain else {"name": draw(_NASTY_TEXT)}
    bad_providers = st.one_of(
        _WRONG_TYPES,
        st.sampled_from([{"name": 5, "domain": []}, {"domain": "not a host!"}, {"domain": "a.example:99999"}]),
    )
    data["provider"] = _maybe(draw, st.just(provider), bad_providers)
    provider_domain = domain if data["provider"] is provider else None

    topics = draw(st.lists(st.one_of(st.sampled_from(_TOPIC_POOL), _NASTY_TEXT), max_size=4))
    bad_topics = st.one_of(_WRONG_TYPES, _TEXT, st.lists(st.one_of(_WRONG_TYPES, st.just("")), min_size=1, max_size=3))
    data["topics"] = _maybe(draw, st.just(topics), bad_topics)
    pool_topics = [t for t in topics if t in _TOPIC_POOL] if data["topics"] is topics else []

    image = st.fixed_dictionaries(
        {"url": _urls(token, "img")},
        optional={
            "width": st.one_of(st.integers(min_value=-5, max_value=200_000), st.booleans(), _TEXT),
            "height": st.integers(min_value=1, max_value=5000),
            "title": _NASTY_TEXT,
        },
    )
    bad_image = st.one_of(_WRONG_TYPES, st.just({"url": f"notaurl-{token}"}), st.just({"width": 3}))
    data["images"] = _maybe(draw, st.lists(_mostly(image, bad_image), max_size=3), _WRONG_TYPES)

    related = st.fixed_dictionaries(
        {"sourceUrl": _urls(token, "rel")},
        optional={
            "title": _NASTY_TEXT,
            "excerpt": _NASTY_TEXT,
            "publishedDateTime": st.one_of(st.just(when_value), bad_times),
            "provider": st.one_of(
                st.fixed_dictionaries({"name": _NASTY_TEXT, "domain": st.sampled_from(_PROVIDER_DOMAINS)}),
                _WRONG_TYPES,
            ),
        },
    )
    bad_related = st.one_of(_WRONG_TYPES, st.just({"title": "no url"}), st.just({"sourceUrl": 12}))
    data["related"] = _maybe(draw, st.lists(_mostly(related, bad_related), max_size=3), _WRONG_TYPES)

    secret = f"SECRET-{draw(st.binary(min_size=8, max_size=8)).hex()}"
    data["secured"] = draw(st.sampled_from([secret, secret, secret + ";SVY=", _MISSING]))
    for extra in draw(st.lists(st.sampled_from(["quality", "heat", "type", "ampUrl", "x-unknown"]), max_size=2)):
        data[extra] = draw(st.one_of(_WRONG_TYPES, _TEXT))

    data = {key: value for key, value in data.items() if value is not _MISSING}
    when_ok = "publishedDateTime" in data and data["publishedDateTime"] is when_value
    return Spec(
        index=index,
        token=token,
        data=data,
        url=url if data.get("sourceUrl") is url else None,
        when=moment if when_ok else None,
        title_ok="title" in data and data["title"] is title and isinstance(title, str) and title.startswith("TITLE-"),
        secret=data["secured"] if isinstance(data.get("secured"), str) else None,
        provider_domain=provider_domain,
        pool_topics=pool_topics,
        spelling=spelling,
    )


@st.composite
def _file(draw: st.DrawFn, spec: Spec) -> bytes:
    """The record as a file: front matter, maybe a body, maybe a BOM or CRLF."""
    dumped = yaml.safe_dump(spec.data, allow_unicode=True, sort_keys=draw(st.booleans()))
    # A line that is exactly '---' would end the front matter early; the dumper
    # indents continuation lines, so this only guards the test's own assumption.
    assume(not any(line.rstrip() == "---" for line in dumped.split("\n")))
    if spec.spelling:
        assert "\npublished: true\n" in "\n" + dumped
        dumped = ("\n" + dumped).replace("\npublished: true\n", f"\npublished: {spec.spelling}\n")[1:]
    body = draw(st.sampled_from(["", "\nSome *Markdown* body.\n", "\n---\n"]))
    text = f"---\n{dumped}---\n{body}"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode("utf-8")


@st.composite
def _record_files(draw: st.DrawFn) -> list[tuple[Spec, bytes]]:
    count = draw(st.integers(min_value=1, max_value=8))
    specs = [draw(_spec(index)) for index in range(count)]
    return [(spec, draw(_file(spec))) for spec in specs]


@dataclass
class Tree:
    specs: list[Spec]
    results: list[ParseResult]
    feeds: tuple[Feed, ...]
    files: dict[PurePosixPath, bytes]

    def heads(self) -> list[Feed]:
        """The feeds themselves (not archive pages, which the default site has none of)."""
        return [feed for feed in self.feeds if feed.page is None]


def _build_tree(inputs: list[tuple[Spec, bytes]]) -> Tree:
    """The files as a build writes them, and its documents, through the build's own path."""
    with tempfile.TemporaryDirectory() as folder:
        records = Path(folder) / "records"
        records.mkdir()
        results = []
        for spec, raw in inputs:
            path = records / f"{spec.index:03d}.txt"
            path.write_bytes(raw)
            results.append(parse_record(str(path), raw))
        feeds = documents(records, SITE, NOW)
        build(records, Path(folder) / "out", SITE, NOW)
        return Tree([spec for spec, _ in inputs], results, feeds, tree(Path(folder) / "out"))


def _entry_ids(path: PurePosixPath, data: bytes) -> list[str]:
    """The ids of the entries of one rendered feed, in document order."""
    if path.name == Format.JSON.value:
        return [item["id"] for item in json.loads(data)["items"]]
    root = etree.fromstring(data)
    if path.name == Format.RSS.value:
        return [guid.text or "" for guid in root.findall("channel/item/guid")]
    return [entry.findtext(f"{ATOM}id") or "" for entry in root.findall(f"{ATOM}entry")]


def _check_well_formed(files: dict[PurePosixPath, bytes]) -> None:
    for path, data in files.items():
        if path.suffix in (".xml", ".xsl", ".opml"):
            etree.fromstring(data)
        elif path.suffix == ".json":
            json.loads(data.decode("utf-8"))
        else:
            data.decode("utf-8")


def _groups_of(record: Record) -> set[tuple[FeedKind, str]]:
    groups = {(FeedKind.ALL, ""), (FeedKind.PROVIDER, record.provider.key)}
    return groups | {(FeedKind.TOPIC, topic_key(topic)) for topic in record.topics}


@SLOW
@given(_record_files())
def test_a_built_tree_keeps_its_promises(inputs: list[tuple[Spec, bytes]]) -> None:
    tree = _build_tree(inputs)

    # Records are rejected exactly when title, sourceUrl or publishedDateTime is
    # unusable, never for a broken optional field; the parsed values are the given ones.
    for spec, result in zip(tree.specs, tree.results, strict=True):
        assert (result.record is not None) == spec.parses, [str(p) for p in result.problems]
        if result.record is not None:
            assert result.record.url == spec.url
            assert result.record.published_at == spec.when
            assert result.record.title.startswith(f"TITLE-{spec.token}")
    by_url = {r.record.url: r.record for r in tree.results if r.record is not None}

    # Every output file is well-formed, and every feed has its three files.
    _check_well_formed(tree.files)
    heads = tree.heads()
    assert {feed.path(fmt) for feed in heads for fmt in Format} <= set(tree.files)
    assert [feed.key.kind for feed in heads].count(FeedKind.ALL) == 1

    qualifying = [spec for spec in tree.specs if spec.qualifies]
    excluded = [spec for spec in tree.specs if not spec.qualifies]

    # Independent of the parser: a valid provider domain names the provider's feed,
    # and a topic from the pool is in the feed of its case- and space-folded name.
    feeds_by_group = {(feed.key.kind, feed.group): feed for feed in heads}
    for spec in qualifying:
        if spec.provider_domain:
            key = spec.provider_domain.removeprefix("www.")
            assert spec.url in [r.url for r in feeds_by_group[(FeedKind.PROVIDER, key)].entries]
        for topic in spec.pool_topics:
            key = " ".join(topic.replace("Ｃ", "C").split()).casefold()
            assert spec.url in [r.url for r in feeds_by_group[(FeedKind.TOPIC, key)].entries]

    # Each qualifying record is exactly once in the feeds of its groups and in no
    # other: in the planned Feed objects and in the <guid>, <id> or "id" of each file.
    rendered_ids = {
        feed.path(fmt): _entry_ids(feed.path(fmt), tree.files[feed.path(fmt)]) for feed in heads for fmt in Format
    }
    for spec in qualifying:
        assert spec.url is not None
        groups = _groups_of(by_url[spec.url])
        for feed in heads:
            expected = 1 if (feed.key.kind, feed.group) in groups else 0
            assert [r.url for r in feed.entries].count(spec.url) == expected, (feed.key, spec.url)
            for fmt in Format:
                assert rendered_ids[feed.path(fmt)].count(spec.url) == expected, (feed.path(fmt), spec.url)
    published_urls = {spec.url for spec in qualifying}
    specs_by_url = {spec.url: spec for spec in qualifying}
    for feed in heads:
        assert {r.url for r in feed.entries} <= published_urls, feed.key

    # Entries are newest first, ties by URL, and every format lists them in that order.
    for feed in heads:
        for newer, older in itertools.pairwise(feed.entries):
            assert newer.published_at >= older.published_at, feed.key
            if newer.published_at == older.published_at:
                assert newer.url < older.url, feed.key
        for fmt in Format:
            assert rendered_ids[feed.path(fmt)] == [r.url for r in feed.entries], feed.path(fmt)
        items = json.loads(tree.files[feed.path(Format.JSON)])["items"]
        stamps = [datetime.fromisoformat(item["date_published"].replace("Z", "+00:00")) for item in items]
        assert stamps == [specs_by_url[r.url].when for r in feed.entries], feed.path(Format.JSON)

    # Nothing of an excluded record (unpublished, scheduled or rejected), and no
    # secret, is in any file; a qualifying record's title is (a positive control).
    everything = b"\n".join(tree.files.values())
    for spec in excluded:
        assert spec.token.encode() not in everything, f"excluded record {spec.index} leaked"
    for spec in tree.specs:
        if spec.secret is not None:
            assert spec.secret.encode() not in everything, "secured value leaked"
    for spec in qualifying:
        assert f"TITLE-{spec.token}".encode() in tree.files[PurePosixPath("all/feed.json")]


def _feedparser_reads_json() -> bool:
    """feedparser 6.0 has no JSON Feed parser (it reports a bozo XML error); a later one may."""
    minimal = b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}'
    parsed = feedparser.parse(io.BytesIO(minimal), response_headers={"content-type": "application/feed+json"})
    return not parsed.bozo and str(parsed.get("version", "")).startswith("json")


FEEDPARSER_READS_JSON = _feedparser_reads_json()


def _as_feedparser_reads(text: str) -> str:
    """feedparser 'repairs' text that looks like UTF-8 misread as Latin-1 ("Â¡" becomes
    "¡"), in every element of every format; expect that of it, not of the feed."""
    try:
        return text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _as_shown(detail: Any) -> str:
    """A feedparser text construct as a reader shows it: HTML is shown as its text."""
    value: str = detail.value
    return _html_text(value) if detail.type == "text/html" else value


def _html_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def _expected_title(title: str, detail: Any, fmt: Format) -> str:
    """The one exception to "shown as written": feedparser guesses the type of an RSS title from
    its text, and takes one with an entity or a closing tag of HTML's (``&amp;``, ``</b>``) for
    HTML, although the feed carries it as plain text; it shows that HTML's text. Atom says type="text"."""
    return _html_text(title) if fmt is Format.RSS and detail.type == "text/html" else title


@SLOW
@given(_record_files())
def test_feedparser_reads_every_feed(inputs: list[tuple[Spec, bytes]]) -> None:
    tree = _build_tree(inputs)
    for feed in tree.heads():
        urls = [record.url for record in feed.entries]
        for fmt in Format:
            data = tree.files[feed.path(fmt)]
            if fmt is Format.JSON and not FEEDPARSER_READS_JSON:
                items = json.loads(data.decode("utf-8"))["items"]
                assert [item["id"] for item in items] == urls
                assert [item["url"] for item in items] == urls
                assert [item["title"] for item in items] == [r.title for r in feed.entries]
                assert [item.get("summary") for item in items] == [r.excerpt for r in feed.entries]
                continue
            headers = {"content-type": fmt.media_type, "content-location": SITE.url(feed.path(fmt))}
            parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
            assert not parsed.bozo, (feed.path(fmt), parsed.get("bozo_exception"))
            if fmt is not Format.JSON:
                assert parsed.version == {Format.RSS: "rss20", Format.ATOM: "atom10"}[fmt]
            assert [entry.get("id") for entry in parsed.entries] == urls, feed.path(fmt)
            assert [entry.get("link") for entry in parsed.entries] == urls, feed.path(fmt)
            # Titles and excerpts reach the reader as written: escaped exactly once.
            for entry, record in zip(parsed.entries, feed.entries, strict=True):
                expected = _expected_title(_as_feedparser_reads(record.title), entry.title_detail, fmt)
                assert _as_shown(entry.title_detail) == expected, feed.path(fmt)
                if record.excerpt:
                    assert _as_shown(entry.summary_detail) == _as_feedparser_reads(record.excerpt), feed.path(fmt)


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM])
@pytest.mark.parametrize(
    "title", ["AT&amp;T wins", "&#169; 2024 in review", "Use &lt;b&gt; for bold", "R&D <lab> & co", "5 > 3"]
)
def test_a_title_that_looks_like_html_reads_as_written(title: str, fmt: Format) -> None:
    """Fixed example: the title is written as plain text in both formats (character references
    in RSS); Atom shows it as written, and feedparser reads these RSS titles as HTML (see above)."""
    fields = (
        f"title: {json.dumps(title)}\nsourceUrl: https://a.example/x\npublishedDateTime: 2024-01-01\npublished: true"
    )
    record = parse_record("x.txt", f"---\n{fields}\n---\n".encode()).record
    assert record is not None and record.title == title
    data = tree_of([record])[PurePosixPath("all", fmt.value)]
    (entry,) = feedparser.parse(io.BytesIO(data)).entries
    assert _as_shown(entry.title_detail) == _expected_title(title, entry.title_detail, fmt)
    if fmt is Format.RSS:
        written = re.search(rb"<item>\s*<title>([^<]*)</title>", data)
        assert written is not None and b"&amp;" not in written.group(1) and b"&gt;" not in written.group(1)
        assert etree.fromstring(data).findtext("channel/item/title") == title
    else:
        assert entry.title_detail.type == "text/plain"
