"""Records as every common exporter writes them: read by the fast path, as PyYAML reads them.

The emitters are the real libraries (PyYAML, ruamel.yaml, js-yaml through Node) and a
hand-written one in Go yaml.v3's shape (``benchmarks.styles``). For each style the fast path
gives exactly CSafeLoader's value or declines, and does not decline on the usual records; the
same data in every style makes the same ``Record`` and the same output tree, byte for byte.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import styles
from feeds import fastyaml, frontmatter
from feeds.model import Image, Provider, RelatedLink
from feeds.publish import build
from feeds.records import ParseResult, parse_record

from .conftest import DATA, NOW, SEEDS, SITE, make_record, record_mapping, tree
from .test_fastyaml import check, same

HAVE_NODE = shutil.which("node") is not None and (styles.JS / "node_modules" / "js-yaml").is_dir()
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="js-yaml needs node and `npm ci --prefix tests/js`")
ALL_STYLES = [pytest.param(style, marks=needs_node) if style == "jsyaml" else style for style in styles.STYLES]
PYTHON_STYLES = [style for style in styles.MAPPING_STYLES if style != "jsyaml"]


def read_fast(raw: bytes) -> dict[str, Any] | None:
    """The fast path on a record file, as a build takes it; checked against PyYAML on the way."""
    document = frontmatter.load_raw(raw)
    text = frontmatter.decode(raw)
    source, _ = frontmatter.split(text)
    expected = yaml.load(source, Loader=yaml.CSafeLoader)
    if document is None:
        assert fastyaml.load_mapping(source) is None
        return None
    same(document.data, expected, "")
    same(frontmatter.load(text).data, expected, "")
    return document.data


# ---- every file in the suite, and the seeds in every style


SUITE = sorted(p for p in [*DATA.rglob("*"), *SEEDS.iterdir()] if p.is_file())


@pytest.mark.parametrize("path", SUITE, ids=lambda p: str(p.relative_to(p.parent.parent)))
def test_every_file_of_the_suite_is_read_as_pyyaml_reads_it_or_left_to_it(path: Path) -> None:
    raw = path.read_bytes()
    try:
        source, _ = frontmatter.split(frontmatter.decode(raw))
    except frontmatter.FrontMatterError:
        assert frontmatter.load_raw(raw) is None
        return
    check(source)
    document = frontmatter.load_raw(raw)
    if document is not None:
        same(document.data, yaml.load(source, Loader=yaml.CSafeLoader), path.name)


@pytest.mark.parametrize("style", ALL_STYLES)
def test_the_seeds_in_every_style_take_the_fast_path(style: str) -> None:
    raws = [path.read_bytes() for path in sorted(SEEDS.iterdir())]
    for path, raw in zip(sorted(SEEDS.iterdir()), styles.rewrite(style, raws), strict=True):
        assert read_fast(raw) is not None, f"{style}: {path.name} declined:\n{raw.decode('utf-8-sig')}"
        assert outcome(parse_record(path.name, raw)) == outcome(parse_record(path.name, path.read_bytes())), path.name


def test_the_styles_are_what_they_say() -> None:
    """The emitters really write the constructs the fast path must read."""
    raw = next(p for p in sorted(SEEDS.iterdir()) if b"related:\n  - " in p.read_bytes()).read_bytes()
    written = {style: styles.rewrite(style, [raw])[0] for style in styles.STYLES if style != "jsyaml" or HAVE_NODE}
    assert b"\ntopics:\n- " in written["pyyaml"]  # an indentless sequence
    assert written["pyyaml"].split(b"excerpt: ")[1].split(b"\n")[1].startswith(b"  ")  # folded at 80
    assert b"publishedDateTime: 20" in written["pyyaml"] and b"T" not in written["pyyaml"].split(b"Time: ")[1][:20]
    assert max(map(len, written["pyyaml-unfolded"].split(b"\n"))) > 200
    assert b"\n    - " in written["goyaml"] and b"\n      " in written["goyaml"]
    assert written["crlf-bom"].startswith(b"\xef\xbb\xbf---\r\n")
    if HAVE_NODE:
        assert b">-\n" in written["jsyaml"] and b"publishedDateTime: '" in written["jsyaml"]


# ---- generated records through several emitters: same values, same Record

_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789éüßø東京中文😀’“”—–-.,;!?&()/'\"@#%*:|>[]{}~"), min_size=1, max_size=12)  # fmt: skip
_SEPARATOR = st.sampled_from([" ", " ", " ", " ", "  ", ": ", " #", "\n", "\n\n", "\t", " - "])


@st.composite
def texts(draw: st.DrawFn, words: int = 12) -> str:
    parts = [draw(_WORD)]
    for _ in range(draw(st.integers(0, words))):
        parts += [draw(_SEPARATOR), draw(_WORD)]
    return draw(st.sampled_from(["", "", "", " ", "- ", "? ", "'", '"'])) + "".join(parts)


plain_words = st.lists(st.sampled_from(["the", "AI", "council’s", "plan", "“unusual”", "chip", "東京", "5G", "C#", "R&D", "—", "(beta)", "e.g.", "x:y", "100%"]), min_size=1, max_size=60).map(" ".join)  # fmt: skip
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(  # noqa: DTZ001
    lambda m: m.replace(microsecond=0)
)
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
urls = st.integers(0, 10**6).map(lambda n: f"https://news.example.com/{n}/a-b?x=1&y=2")


@st.composite
def record_mappings(draw: st.DrawFn, text: st.SearchStrategy[str]) -> dict[str, Any]:
    def provider() -> dict[str, Any]:
        return {"name": draw(text), "domain": draw(st.sampled_from(["news.example.com", "other.example.org"]))}

    mapping: dict[str, Any] = {
        "category": "news",
        "title": draw(text),
        "excerpt": draw(text),
        "publishedDateTime": draw(moments).replace(tzinfo=draw(zones)),
        "sourceUrl": draw(urls),
        "quality": draw(st.integers(0, 100)),
        "published": draw(st.booleans()),
        "provider": provider(),
        "topics": draw(st.lists(text, max_size=3)),
        "images": [
            {"url": url, "width": 800, "height": 600, "title": draw(text)} for url in draw(st.lists(urls, max_size=2))
        ],
        "related": [
            {
                "title": draw(text),
                "sourceUrl": url,
                "publishedDateTime": draw(moments).replace(tzinfo=UTC),
                "provider": provider(),
            }
            for url in draw(st.lists(urls, max_size=2))
        ],
    }
    return mapping


def outcome(result: ParseResult) -> tuple[Any, ...]:
    """What a build makes of a file: the record and the problems, their lines aside (styles differ)."""
    return result.record, tuple(replace(problem, line=None) for problem in result.problems)


def files_in(style: str, mappings: list[dict[str, Any]]) -> list[bytes]:
    return [f"---\n{text}---\n".encode() for text in styles.emit(style, mappings)]


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(record_mappings(texts()))
def test_any_data_through_every_python_emitter_gives_one_record(mapping: dict[str, Any]) -> None:
    results = {}
    for style in PYTHON_STYLES:
        (raw,) = files_in(style, [mapping])
        read_fast(raw)
        read_fast(styles.crlf_bom(raw))
        # Only where the emitter wrote what PyYAML reads back as the data: ruamel.yaml writes
        # YAML 1.2 (`yes` plain, a boolean to PyYAML) and folds some escaped strings wrongly
        # ("\t0" as "\t" then "0" on the next line, which reads "\t 0")
        if yaml.load(frontmatter.split(raw.decode())[0], Loader=yaml.CSafeLoader) == mapping:
            results[style] = outcome(parse_record("r.txt", raw))
        else:
            assert style == "ruamel", f"{style} does not write back what it was given"
    reference = results.pop("pyyaml")
    for style, result in results.items():
        assert result == reference, style


@SETTINGS
@given(record_mappings(plain_words))
def test_usual_records_through_every_python_emitter_take_the_fast_path(mapping: dict[str, Any]) -> None:
    for style in PYTHON_STYLES:
        (raw,) = files_in(style, [mapping])
        assert read_fast(raw) is not None, f"{style}:\n{raw.decode()}"
        assert read_fast(styles.crlf_bom(raw)) is not None, style


@needs_node
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_mappings(texts()), min_size=1, max_size=4), st.sampled_from([80, 40, -1]))
def test_any_data_through_js_yaml_gives_the_record_pyyaml_does(mappings: list[dict[str, Any]], width: int) -> None:
    texts = styles.jsyaml(mappings, {"lineWidth": width})
    for mapping, text in zip(mappings, texts, strict=True):
        raw = f"---\n{text}---\n".encode()
        read_fast(raw)
        # js-yaml gets JSON, whose timestamps are strings: compare with the same data from PyYAML
        reference = styles.emit("pyyaml", [styles._json_value(mapping)])[0]
        assert outcome(parse_record("r.txt", raw)) == outcome(parse_record("r.txt", f"---\n{reference}---\n".encode()))


@needs_node
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_mappings(plain_words), min_size=1, max_size=4))
def test_usual_records_through_js_yaml_take_the_fast_path(mappings: list[dict[str, Any]]) -> None:
    for text in styles.jsyaml(mappings):
        assert read_fast(f"---\n{text}---\n".encode()) is not None, text


# ---- one corpus in every style: the same output tree, byte for byte


def corpus() -> list[dict[str, Any]]:
    plus = timezone(timedelta(hours=5, minutes=30))
    long = "Councillors voted to add software that counts, tracks and flags “unusual behaviour”: " * 4
    variants = [
        make_record(),
        make_record(title="It's a “quoted” title: with a colon # and a hash", url="https://news.example.com/2"),
        make_record(excerpt=long + "...", url="https://news.example.com/3", topics=("AI", "C#", "R&D", "東京")),
        make_record(
            url="https://news.example.com/4",
            published_at=datetime(2024, 2, 29, 23, 59, 59, tzinfo=plus),
            provider=Provider(name="Metro: Pulse", key="metro.example.org", url="https://metro.example.org/"),
        ),
        make_record(
            url="https://news.example.com/5",
            title="Line one\nline two",
            images=(Image("https://img.example.com/b.jpg", 1200, 800, "NULL"), Image("https://img.example.com/c.png")),
            related=(RelatedLink("https://other.example.org/x", "- a dash", datetime(2024, 1, 1, tzinfo=UTC)),),
        ),
        make_record(url="https://news.example.com/6", is_published=False),
        make_record(url="https://news.example.com/7", title="true", excerpt="2024-01-01", topics=("null", "1.5")),
    ]
    return [record_mapping(record) for record in variants]


@pytest.mark.parametrize("style", [s for s in ALL_STYLES if s != "seed"])
def test_one_corpus_in_every_style_builds_the_same_tree(style: str, tmp_path: Path) -> None:
    def built(name: str, raws: list[bytes]) -> dict[Any, bytes]:
        folder = tmp_path / name
        folder.mkdir()
        for number, raw in enumerate(raws):
            (folder / f"{number:03d}.txt").write_bytes(raw)
        build(folder, tmp_path / f"{name}-out", SITE, NOW)
        return tree(tmp_path / f"{name}-out")

    seed = files_in("seed", corpus())
    other = styles.rewrite(style, seed)
    assert other != seed or style == "seed"
    for raw in other:
        assert read_fast(raw) is not None, raw.decode("utf-8-sig")
    expected = built("seed", seed)
    assert len(expected) > 10
    assert built(style, other) == expected
