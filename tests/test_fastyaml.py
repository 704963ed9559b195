"""Differential tests: ``fastyaml.load_mapping`` is None or exactly PyYAML's CSafeLoader result.

The emitters' styles (PyYAML, ruamel.yaml, js-yaml, Go's yaml.v3) are in test_yaml_styles.py.

Exactly means equal values of the same types all the way down, datetimes with the same
offset (or both naive). The fast path must also really be taken for the seeds and for
plain record-shaped YAML, or the speedup it promises would be fictional.
"""

from __future__ import annotations

import json
import math
import string
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds import fastyaml, frontmatter

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(got: Any, expected: Any, where: str = "") -> None:
    """Assert equal values of identical types, recursively; datetimes with equal offsets."""
    assert type(got) is type(expected), f"{where}: {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(got) == list(expected), f"{where}: keys {list(got)} != {list(expected)}"
        for key, value in expected.items():
            same(got[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), f"{where}: {len(got)} items != {len(expected)}"
        for index, (mine, theirs) in enumerate(zip(got, expected, strict=True)):
            same(mine, theirs, f"{where}[{index}]")
    elif isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got), where
    elif isinstance(expected, datetime):
        assert (got.tzinfo is None) == (expected.tzinfo is None), f"{where}: {got!r} != {expected!r}"
        assert got.utcoffset() == expected.utcoffset(), f"{where}: {got!r} != {expected!r}"
        assert got.replace(tzinfo=None) == expected.replace(tzinfo=None), f"{where}: {got!r} != {expected!r}"
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"
        if isinstance(expected, float):
            assert math.copysign(1, got) == math.copysign(1, expected), where


def check(text: str) -> dict[str, Any] | None:
    """load_mapping(text) is None or PyYAML's value; returns what load_mapping returned."""
    got = fastyaml.load_mapping(text)
    if got is None:
        return None
    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except Exception as error:  # PyYAML refuses it (or its constructor raises): so must we
        pytest.fail(f"PyYAML raised {error!r} but load_mapping returned {got!r} for {text!r}")
    same(got, expected, "")
    return got


# ---- (a) the seeds: every one must take the fast path


@pytest.mark.parametrize("path", sorted(SEEDS.iterdir()), ids=lambda p: p.name)
def test_seed(path: Path) -> None:
    source, _ = frontmatter.split(frontmatter.decode(path.read_bytes()))
    assert check(source) is not None, "the fast path fell back on a seed"
    assert check(source + "\n") is not None


# ---- (b) generated documents

_NASTY = [
    ":", ": ", " #", "#", "'", '"', "\\", " ", "  ", "\n", "\n\n", " \n", "-", "- ", "? ", "|", ">", "&a", "*a",
    "!t", "!!str", "%", "@", "`", "{", "}", "[", "]", ",", "---", "...", "<<", "=", "~", "yes", "No", "on",
    "null", "NULL", "true", "1e3", "1.0e+3", "0x1F", "017", "0o17", "1_000", "1:20", ".5", "-.5", ".inf",
    "-.NaN", "+1", "2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00Z", "é", "😀", "中文", "東京",
    "\u00a0", "\u3000", "\u200b", "\t", "\r", "\x85", "\u2028", "\ufeff", "\x07", "\x7f", "\ud7ff", "\U0010ffff",
]  # fmt: skip
_CHARS = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot be UTF-8 at all
nasty_text = st.lists(st.sampled_from(_NASTY) | st.text(_CHARS, max_size=4), max_size=8).map("".join)
scalars = st.one_of(
    nasty_text,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.booleans(),
    st.none(),
    st.dates(),
    st.datetimes(timezones=st.none() | st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
)
provider = st.fixed_dictionaries({"name": nasty_text, "domain": nasty_text})
records = st.fixed_dictionaries(
    {"title": nasty_text, "publishedDateTime": scalars, "quality": scalars, "published": scalars},
    optional={
        "excerpt": nasty_text,
        "provider": provider,
        "topics": st.lists(nasty_text, max_size=4),
        "images": st.lists(st.dictionaries(nasty_text, scalars, max_size=4), max_size=3),
        "related": st.lists(st.fixed_dictionaries({"title": nasty_text, "provider": provider}), max_size=4),
        "extra": st.dictionaries(nasty_text, scalars | st.lists(scalars, max_size=3), max_size=5),
    },
)


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as block scalars (|), where the emitter allows it."""


class _FoldedDumper(yaml.SafeDumper):
    """Writes multi-line strings as folded block scalars (>), where the emitter allows it."""


def _block(style: str) -> Any:
    def represent(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style if "\n" in data else None)

    return represent


_LiteralDumper.add_representer(str, _block("|"))
_FoldedDumper.add_representer(str, _block(">"))


@SETTINGS
@given(
    records,
    st.sampled_from([yaml.SafeDumper, _LiteralDumper, _FoldedDumper]),
    st.booleans(),
    st.sampled_from([20, 80, 10_000]),
    st.sampled_from([False, None]),
)
def test_dumped_records(record: dict[str, Any], dumper: type, unicode: bool, width: int, flow: bool | None) -> None:
    text = yaml.dump(
        record, Dumper=dumper, allow_unicode=unicode, width=width, default_flow_style=flow, sort_keys=False
    )
    check(text)
    check(text.rstrip("\n"))  # the front matter as frontmatter.split() cuts it: no final newline


# Plain-style YAML as the real exports write it: every such document must take the fast path.
_WORD_START = string.ascii_letters + "éÉßøÅ東京中文人工知能😀"
_WORD_REST = _WORD_START + string.digits + "'.,!?&()/-–—’“”€$%+"
words = st.lists(
    st.builds(lambda a, b: a + b, st.sampled_from(_WORD_START), st.text(st.sampled_from(_WORD_REST), max_size=8)),
    min_size=1,
    max_size=6,
).map(lambda ws: " ".join(ws).replace(",!", ",."))  # `,!` might start a tag: load_mapping falls back
# no "!": after a space it might start a tag, and load_mapping falls back (see CONSTRUCTS)
_TEXT = st.characters(exclude_categories=("Cc", "Cs", "Cn", "Zl", "Zp"), exclude_characters="\ufeff!")
quoted = st.text(_TEXT, max_size=60).map(lambda s: json.dumps(s, ensure_ascii=False))  # a YAML "..." too
single_quoted = st.text(_TEXT, max_size=30).map(lambda s: "'" + s.replace("'", "''") + "'")
_OFFSETS = ["Z", "+00:00", "+01:00", "-05:00", "+05:30", "+14:00", "-08", "", " Z", " +02:00"]
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1))  # noqa: DTZ001


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    moment = draw(moments)
    kind = draw(st.sampled_from(["T", " ", "t", "date", "fraction"]))
    if kind == "date":
        text = moment.date().isoformat()
    else:
        text = moment.strftime(f"%Y-%m-%d{'T' if kind == 'fraction' else kind}%H:%M:%S")
        if kind == "fraction":
            text += "." + str(moment.microsecond).rjust(draw(st.integers(1, 9)), "0")[:9]
        text += draw(st.sampled_from(_OFFSETS))
    quote = draw(st.sampled_from(["", "", "", '"', "'"]))
    return quote + text + quote


plain_scalars = st.one_of(
    words,
    quoted,
    single_quoted,
    timestamps(),
    st.integers(-(10**9), 10**9).map(str),
    st.sampled_from(["true", "false", "True", "yes", "No", "on", "OFF", "~", "null", "Null", "", "1.5", "-0.25"]),
    st.sampled_from(["1e3", "1_000", "+7", "1.0e+3", ".5", "-.5", "3.", "6.02e+23", "news", "article"]),
)
_BLOCK_LINES = st.lists(
    st.sampled_from(["", " ", "  "]).flatmap(lambda pad: words.map(lambda w: pad + w)) | st.just("")
)


@st.composite
def block_scalars(draw: st.DrawFn, indent: str) -> str:
    header = draw(st.sampled_from(["|", "|-", "|+", ">", ">-", ">+"]))
    # empty lines, then a line that sets the indentation, then lines indented as much or more
    lines = [""] * draw(st.integers(0, 2)) + [draw(words)] + draw(_BLOCK_LINES)
    body = "\n".join(indent + "  " + line if line else "" for line in lines)
    return f"{header}\n{body}"


@st.composite
def plain_records(draw: st.DrawFn) -> str:
    """A record written by hand or by an exporter, in the seeds' style."""
    value = plain_scalars | timestamps()
    lines = [f"category: {draw(value)}", f"title: {draw(quoted | words)}", f"publishedDateTime: {draw(timestamps())}"]
    lines += [f"sourceUrl: https://news.example.com/{draw(st.integers(0, 10**6))}/a-b:c?x=1&y=2#frag"]
    lines += [f"quality: {draw(st.integers(0, 100))}", f"published: {draw(st.sampled_from(['true', 'false']))}"]
    lines += [f"excerpt: {draw(block_scalars('') | words | quoted)}", ""]
    lines += ["provider:", f"  name: {draw(words | quoted)}", "  domain: news.example.com", ""]
    topics = draw(st.lists(words | quoted, max_size=3))
    lines += ["topics:" + ("" if topics else " []")] + [f"  - {topic}" for topic in topics]
    related = draw(st.lists(st.tuples(value, timestamps(), block_scalars("    ") | words), max_size=3))
    lines += ["related:" + ("" if related else " []")]
    for title, moment, excerpt in related:
        lines += [f"  - title: {title}", f"    publishedDateTime: {moment}", f"    excerpt: {excerpt}"]
        lines += ["    provider:", "      name: Other", "      domain: other.example.org", "    quality: 3"]
    lines += [f"secured: {json.dumps(draw(st.binary(max_size=40)).hex())}  # a comment"]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@SETTINGS
@given(plain_records())
def test_plain_records_take_the_fast_path(text: str) -> None:
    assert check(text) is not None, text


# ---- (c) tricky scalars and constructs, one at a time

TRICKY = [
    "yes", "No", "on", "OFF", "y", "n", "~", "null", "", "1_000", "0o17", "017", "0x1F", "0b101", "1:20", "190:20:30",
    ".5", "1e3", "1.0e+3", "1.0E-3", "6.8523015e+5", "685.230_15e+03", "-1_2.5", ".inf", "-.Inf", "-.NaN",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43.1234567Z", "2002-12-14",
    "2001-12-15 2:59:43.10", "2001-1-5 2:59:43", "2001-12-14T21:59:43+14:30", "2024-13-01", "2024-02-30",
    "2024-01-01T25:00:00Z", "2024-01-01T10:00:00+99:00", "'quoted'", '"esc\\u00e9"', '"\\x41\\t\\/"', '"\\q"',
    "<<", "=", "@at", "`tick", "!tag x", "!!str 1", "&a x", "*a", "[1, 2]", "{a: 1}", "[]", "{}", "-", "- x",
    "a: b", "x # comment", "x#y", "'it''s'", '"multi\n  line"', "plain\n  continued", "'folded\n\n  twice'",
    "http://x.example/a:b", "12:30", "-0", "+0.0", "-0.0", "0.", "00", "08", "1__0", "1_", "9" * 5000,
]  # fmt: skip
CONSTRUCTS = [
    "a: &x 1\nb: *x\n", "a: &x\n  k: v\nb: *x\n", "base: &b {k: v}\nc:\n  <<: *b\n", "<<: {a: 1}\n",
    "a: 1\na: 2\n", "a:\n  k: 1\n  k: 2\n", "1: x\n", "yes: x\n", "null: x\n", "2024-01-01: x\n", "? [a]\n: 1\n",
    "? a\n: 1\n", "'a': 1\n\"b\": 2\n", "a: !!str 1\n", "a: !foo x\n", "!!map {a: 1}\n", "--- \na: 1\n",
    "a: 1\n---\nb: 2\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n", "- a\n- b\n", "scalar\n", "", "# nothing\n",
    "a:\n\t- 1\n", "a:\tb\n", "a: b\tc\n", "a: 'b\tc'\n", "a: 1\r\nb: 2\r\n", "a: b\u2028c\n", "a: b\x85c\n",
    "a: b\x07\n", "\ufeffa: 1\n", "a: [x, y]\nb: {k: v}\n", "a: [x: y]\n", "a: {x}\n", "a: []\nb: {}\n",
    "a: b: c\n", "a: 'unterminated\n", "a: b\nc\n", " a: 1\nb: 2\n", "a:\n  - b\n  c: 1\n", "a: x\n  - y\n",
    "a:    # c\n  value\n", ": x\n", "? \n: x\n", '"": 1\n', "a:\n- 1\n- 2\n", "a:\n  -\n  - ''\n",
    "k" * 1100 + ": v\n", '"a\\nb": 1\n', "a: |\n\n   \n  x\n", "a: |\n    \n  x\n", "a: |2\n   x\n",
    "a: >\n x\n\n  y\n z\n", "a: |-\n  x\n\n", "a: |+\n  x\n\n", "a: |\n  x\n\n", "a: >-\n  x\n  y\n",
    "a: >+\n  x\n\n\n", "a: >\n  x\n\n   more\n  y\n", "a: |\n  x\n b: 1\n", "a: |\n  x\nb: 1", "a: |+\n  x",
    "a: >\n\n  x\n", "a: |1\n  x\n", "a: >2-\n   x\n  y\n", "a: |\n  x\n  # not a comment\n# comment\n",
    "a: 'x\n\n  y\n   z'\n", 'a: "x\\\n  y"\n', 'a: "x \\\n  \\ y"\n', "a: x\n\n  y\n", "a: -x\nb: :y\nc: ?z\n",
    "a: 'x' # c\nb: \"y\"#c\n", "a: ||\n", "a: ! x\n", "x:\n  - - a\n    - b\n  - - c\n",
    # found by fuzzing: ryml reads these differently from libyaml, or crashes on them
    "a: ]x\n", "}x: 1\n", "a:\n  - ]\n", "a: >-1e3yes\n", "a: |x\n", "a: |2-  # c\n   x\n", "a: |\n  x",
    "a: >\n  x", "a:\n  - |\n    x", "a: |\n  x\n\n  y", "a: |\n  x\n  ", "a: |+\n  x\n\n", "a: >-\n  x",
    "!\n!\n!\n!", "!a\n!b\n!c\n!d: x", "a:\n  !\n  !\n  !\n  !", "[!a\n!b\n!c\n!d]", "a: Wow !\n",
    "'<<': 1\n", "=: x\n", "'=': x\n", "a: =\n", "? ''\\: ", "- ? a\n  : b\n", 'a: "\\n\\L\\L"\n', 'a: "\\r\\P\\Lx"\n',
    'a: "\\L\\P"\n', 'a: "x" |y\nb: |\n  a\n', 'a: " |"\nb: |\n  a\n', "a: x - |y\nb: |\n  a\n",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_scalar(value: str) -> None:
    check(f"a: {value}\n")
    check(f"a:\n  - {value}\n  - {{}}\n")
    check(f"{value}: x\n")


@pytest.mark.parametrize("text", CONSTRUCTS)
def test_tricky_construct(text: str) -> None:
    check(text)


# Lines of YAML-ish tokens, most of them invalid: whenever load_mapping answers, PyYAML agrees.
_LINE_STARTS = ["", " ", "  ", "    ", "- ", "  - ", "? ", ": "]
_LINE_TOKENS = [*_NASTY, "a", "key", "x y", "http://a.b/c:d", "2024-01-01T10:00:00+05:30", "''", '\\"', "|-", ">2"]
_SEPARATORS = [": ", ":", ": |", ": >-", "", ":\n", ": |\n  "]
raw_lines = st.tuples(
    st.sampled_from(_LINE_STARTS),
    st.lists(st.sampled_from(_LINE_TOKENS), max_size=4).map("".join),
    st.sampled_from(_SEPARATORS),
    st.lists(st.sampled_from(_LINE_TOKENS), max_size=4).map("".join),
).map("".join)


@SETTINGS
@given(st.lists(raw_lines, min_size=1, max_size=8).map("\n".join))
def test_raw_lines(text: str) -> None:
    check(text)


def test_types_and_offsets() -> None:
    got = check("a: 2001-12-14t21:59:43.10-05:00\nb: 2001-12-14 21:59:43.10\nc: 2002-12-14\nd: 'x'\ne: yes\n")
    assert got is not None
    assert got["a"] == datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=timezone(timedelta(hours=-5)))
    assert got["b"].tzinfo is None
    assert type(got["c"]) is date
    assert got["d"] == "x"
    assert got["e"] is True


def test_falls_back_on_what_it_does_not_implement() -> None:
    for text in ["a: 0x1F\n", "a: 1:20\n", "a: .inf\n", "a: &x 1\n", "a: !!str 1\n", "a: 1\na: 2\n", "<<: {a: 1}\n"]:
        assert fastyaml.load_mapping(text) is None, text
    assert fastyaml.load_mapping("a: b: c\n") is None  # a YAML error: PyYAML reports it


# ---- (d) the UTF-8 fast path: the same cut and the same values as the text path

_FILE_LINES = ["---", "--- ", "---\u3000", "----", "---x", "-- -", "...", "a: 1", "published: yes", "  b: é😀", "", " "]
files = st.lists(st.sampled_from(_FILE_LINES) | raw_lines, max_size=8).map("\n".join)
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


def _split_by_lines(text: str) -> tuple[str, str]:
    """What frontmatter.split returned before it searched for the fence: the reference."""
    lines = text.split("\n")
    assert lines[0].rstrip() == "---"
    for number, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            return "\n".join(lines[1:number]), "\n".join(lines[number + 1 :]).strip("\n")
    raise AssertionError("not closed")


@SETTINGS
@given(files, line_ends, st.booleans())
def test_split_and_the_utf8_cut_agree_with_splitting_lines(text: str, end: str, bom: bool) -> None:
    raw = ("\ufeff" if bom else "").encode() + text.replace("\n", end).encode("utf-8", "surrogatepass")
    try:
        decoded = frontmatter.decode(raw)
        expected = _split_by_lines(decoded)
    except (frontmatter.FrontMatterError, AssertionError):
        with pytest.raises(frontmatter.FrontMatterError):
            frontmatter.split(frontmatter.decode(raw))
        return
    assert frontmatter.split(decoded) == expected
    cut = frontmatter._cut_utf8(frontmatter._normalized(raw))
    if cut is not None:
        assert (cut[0].decode(), cut[1].decode().strip("\n")) == expected


def test_the_seeds_load_from_their_bytes_as_from_their_text() -> None:
    for path in sorted(SEEDS.iterdir()):
        raw = path.read_bytes()
        document = frontmatter.load_raw(raw)  # a BOM and CRLF included
        assert document is not None, path.name
        same(document.data, frontmatter.load(frontmatter.decode(raw), exact=True).data, path.name)


# ---- (e) record-shaped lines: whatever the reader reads, PyYAML reads the same


def check_lines(text: str) -> dict[str, Any] | None:
    """``check`` of ``text`` and of the same lines with CRLF ends, as frontmatter reads them."""
    got = check(text)
    raw = f"---\n{text}\n---\n".replace("\n", "\r\n").encode()
    document = frontmatter.load_raw(raw)
    if document is not None:
        same(document.data, frontmatter.load(frontmatter.decode(raw), exact=True).data, "crlf")
    return got


_INDENTS = ["", " ", "  ", "   ", "    ", "     ", "      "]
_KEYS = ["a", "b", "title", "x_1", "_", "yes", "No", "null", "on", "1", "a b", "", "é", "-a", "k" * 70]
_SEPS = [": ", ":", ":  ", " : ", ":\t", "", ": -", ": - "]
_VALUES = [*TRICKY, *_NASTY, '""', '" "', '"a # b"', '"a: b"', '"x" ', "x ", "a: b", "a #b", "a#b", "[] ", "{}"]
shaped_lines = st.tuples(
    st.sampled_from(_INDENTS),
    st.sampled_from(["", "", "- ", "- - ", "-"]),
    st.sampled_from(_KEYS),
    st.sampled_from(_SEPS),
    st.sampled_from(_VALUES) | words | quoted | timestamps(),
).map("".join)


@SETTINGS
@given(st.lists(shaped_lines | st.sampled_from(["", " ", "#c", "---", "..."]), min_size=1, max_size=10).map("\n".join))
def test_line_reader_on_record_shaped_lines(text: str) -> None:
    check_lines(text)
    check_lines(text + "\n")


@SETTINGS
@given(plain_records())
def test_line_reader_on_plain_records(text: str) -> None:
    check_lines(text)


@pytest.mark.parametrize("text", CONSTRUCTS)
def test_line_reader_on_tricky_constructs(text: str) -> None:
    check_lines(text)


@pytest.mark.parametrize("value", TRICKY)
def test_line_reader_on_tricky_scalars(value: str) -> None:
    check_lines(f"a: {value}\n")
    check_lines(f"a:\n  - {value}\n  - {{}}\n")
    check_lines(f"a:\n  - b: {value}\n    c: {value}\n")


def test_line_reader_reads_the_seeds_and_nested_blocks() -> None:
    for path in sorted(SEEDS.iterdir()):
        raw = path.read_bytes()
        if not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw:
            source, _ = frontmatter.split(frontmatter.decode(raw))
            if "|" not in source and ">" not in source and "#" not in source:
                assert check_lines(source) is not None, path.name
    text = "a:\n  b:\n    - c: 1\n      d:\n        - x\n        - y\n    - []\ne:\n"
    assert check_lines(text) == {"a": {"b": [{"c": 1, "d": ["x", "y"]}, []]}, "e": None}
    assert check_lines("a:\n- x\nb: 1\n") == {"a": ["x"], "b": 1}  # an indentless sequence


# Documents written in the line reader's own shapes, so that most of them are read by it and
# compared with PyYAML: nested mappings and sequences at varied indentation, blank lines, plain
# and simple double-quoted scalars, and now and then a value or key it must leave to others.


def rarely(usual: st.SearchStrategy[str], unusual: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``unusual`` one time in twenty: enough to be tried, rare enough for most documents to be read."""
    return st.integers(0, 19).flatmap(lambda n: unusual if n == 0 else usual)


simple_quoted = st.text(_TEXT.filter(lambda c: c not in '"\\'), max_size=30).map(lambda s: f'"{s}"')
line_scalars = rarely(
    words
    | simple_quoted
    | timestamps().filter(lambda t: not t.startswith("'"))
    | st.integers(-(10**6), 10**6).map(str)
    | st.sampled_from(["true", "false", "~", "null", "1.5", "-0.25", "1_000", "x:y", "a#b", "C#", "[]", "{}"]),
    st.sampled_from(TRICKY) | st.sampled_from(_NASTY),
)
line_keys = rarely(
    st.sampled_from(["a", "b", "title", "sourceUrl", "x_1", "_", "K9"]),
    st.sampled_from(["yes", "null", "1", "a b", "é", "k" * 70]),
)
line_values = st.recursive(
    line_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(line_keys, inner, max_size=4),
    max_leaves=12,
)


def _emit(value: Any, column: int, step: int, lines: list[str], lead: str) -> None:
    """Append ``value`` as block YAML after ``lead``; its keys or "-" go at ``column``."""
    pad = " " * column
    if isinstance(value, str):
        lines.append(f"{lead} {value}")
    elif not value:
        lines.append(f"{lead} {'[]' if isinstance(value, list) else '{}'}")
    elif isinstance(value, dict):
        lines.append(lead)
        for key, item in value.items():
            _emit(item, column + step, step, lines, f"{pad}{key}:")
    else:
        lines.append(lead)
        for item in value:
            if isinstance(item, dict) and item:  # `- key: value`, then the other keys two further
                (first, nested), *others = item.items()
                _emit(nested, column + 2 + step, step, lines, f"{pad}- {first}:")
                for key, nested in others:
                    _emit(nested, column + 2 + step, step, lines, f"{pad}  {key}:")
            else:
                _emit(item, column + 2 + step, step, lines, f"{pad}-")


@st.composite
def line_documents(draw: st.DrawFn) -> str:
    mapping = draw(st.dictionaries(line_keys, line_values, min_size=1, max_size=6))
    step = draw(st.integers(1, 4))
    lines: list[str] = []
    for key, value in mapping.items():
        _emit(value, step, step, lines, f"{key}:")
    blank = draw(st.sets(st.integers(0, len(lines)), max_size=3))
    lines = [line for index, line in enumerate(lines) for line in ([line, ""] if index in blank else [line])]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"]))


@SETTINGS
@given(line_documents())
def test_line_reader_on_documents_in_its_shapes(text: str) -> None:
    check_lines(text)
    assert check(text) == check_lines(text) or check_lines(text) is None


def test_documents_too_large_for_the_exact_path_go_to_it() -> None:
    items = "".join(f"  - {n}\n" for n in range(frontmatter.MAX_NODES // 2 + 1))
    # maybe over the MAX_NODES values that frontmatter allows: left to PyYAML and that check
    assert fastyaml.load_mapping(f"a:\n{items}") is None
    assert fastyaml.load_mapping("a: |\n  x\nb:\n" + items) is None
    assert fastyaml.load_mapping(f"a:\n{items[: len(items) // 3]}") is not None


@pytest.mark.parametrize(
    "offset", ["", "Z", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00", "+05:60", "+05:99", "-99:00"]
)
@pytest.mark.parametrize(
    "moment", ["2024-01-01", "2024-02-29T23:59:59", "2023-02-29T10:00:00", "2024-01-01T24:00:00", "0000-01-01"]
)
def test_iso_timestamps_as_pyyaml_reads_them(moment: str, offset: str) -> None:
    text = moment + offset if "T" in moment else moment
    check(f"a: {text}\n")
    check(f"a: {text.replace('T', ' ')}\n")
    check(f"a:\n  - b: {text}\n")


# ---- (f) straight from the bytes: the same answers as from the decoded text

_UNSURE_TEXT = ["\x00", "\t", "\x0b", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\xa0", "\u2027", "\u2028", "\u2029",
                "\u202a", "\ufeff", "\ufefe", "\ufffd", "\ufffe", "\uffff", "\U00010000", "é", "–", "€", "\n", "a"]  # fmt: skip


@SETTINGS
@given(st.lists(st.sampled_from(_UNSURE_TEXT) | st.text(_CHARS, max_size=3), max_size=12).map("".join))
def test_unsure_on_utf8_is_unsure_on_text(text: str) -> None:
    assert fastyaml.unsure_utf8(text.encode()) == fastyaml.unsure(text)


def _damaged(raw: bytes, where: int, junk: bytes) -> bytes:
    where %= len(raw) + 1
    return raw[:where] + junk + raw[where:]


raw_files = st.one_of(
    st.one_of(files, plain_records(), line_documents(), line_documents(), line_documents())
    .map(lambda text: f"---\n{text}\n---\n")
    .map(str.encode),
    st.tuples(
        line_documents().map(lambda text: f"---\n{text}\n---\nbody é\n".encode()),
        st.integers(0, 10_000),
        st.sampled_from([b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80", b"\xc0\x8a", b"\x00", b"\r", b"\xef\xbb\xbf"]),
    ).map(lambda args: _damaged(*args)),
)


@SETTINGS
@given(raw_files)
def test_loading_raw_bytes_gives_the_document_decoding_gives(raw: bytes) -> None:
    got = frontmatter.load_raw(raw)
    if got is None:
        return
    expected = frontmatter.load(frontmatter.decode(raw))  # must not raise: the bytes were fine
    same(got.data, expected.data)
    assert got == expected


def test_the_seeds_load_from_their_bytes() -> None:
    for path in sorted(SEEDS.iterdir()):
        raw = path.read_bytes()
        document = frontmatter.load_raw(raw)
        assert document is not None, path.name
        assert document == frontmatter.load(frontmatter.decode(raw)), path.name
    assert frontmatter.load_raw(b"---\ntitle: caf\xc3\n---\n") is None  # not UTF-8: decode() says so
    assert frontmatter.load_raw(b"---\ntitle: x\n---\n\xff\n") is None  # nor is the body
    assert frontmatter.load_raw(b"---\ntitle: x\n---\nbody\n") is not None
