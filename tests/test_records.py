"""Reading record files: one small file per input quirk, and every field's checks."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.clean import canonical_url, clean_text, clean_url, parse_time
from feeds.model import Severity
from feeds.reading import read_records
from feeds.records import parse_record

from .conftest import DATA, ROOT, record_file

VALID = """
title: A story
sourceUrl: https://news.example.com/a
publishedDateTime: 2025-03-14T08:15:00Z
published: true
"""


def parse(fields: str, body: str = ""):  # type: ignore[no-untyped-def]
    return parse_record("r.txt", record_file(fields, body))


def only_problem(result) -> str:  # type: ignore[no-untyped-def]
    assert result.record is None
    assert len(result.problems) == 1
    return str(result.problems[0])


# ---- file shapes (tests/data holds one file per quirk, named after it)

ACCEPTED = ["bom_utf8.txt", "crlf_line_endings.txt", "horizontal_rule_in_body.txt", "duplicate_keys.txt"]
REJECTED = {
    "empty_file.txt": "empty_file.txt:1: error: file is empty",
    "no_front_matter.txt": "no_front_matter.txt:1: error: no front matter",
    "unclosed_front_matter.txt": "unclosed_front_matter.txt:1: error: front matter is not closed",
    "front_matter_is_a_list.txt": "front_matter_is_a_list.txt:2: error: front matter must be a YAML mapping",
    "front_matter_is_a_scalar.txt": "front_matter_is_a_scalar.txt:2: error: front matter must be a YAML mapping",
    "yaml_syntax_error.txt": "yaml_syntax_error.txt:6: error: YAML syntax error",
    "latin1_not_utf8.txt": "latin1_not_utf8.txt:2: error: not valid UTF-8 (byte 0xe9",
    "utf16_with_bom.txt": "utf16_with_bom.txt: error: file contains NUL bytes",
    "nul_bytes.txt": "nul_bytes.txt: error: file contains NUL bytes",
    "alias_bomb.txt": "alias_bomb.txt:2: error: YAML expands to more than",
    # 40 levels of block mappings: far below libyaml's own limit (1000), beyond frontmatter's 32;
    # the fast path declines at its 16, so this is frontmatter's check speaking
    "deep_nesting.txt": "deep_nesting.txt:39: error: YAML is nested deeper than 32 levels",
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_quirky_but_valid_files_are_read(name: str) -> None:
    result = parse_record(name, (DATA / name).read_bytes())
    assert result.record is not None
    assert result.record.is_published


@pytest.mark.parametrize(("name", "message"), sorted(REJECTED.items()))
def test_broken_files_are_rejected_with_one_line(name: str, message: str) -> None:
    text = only_problem(parse_record(name, (DATA / name).read_bytes()))
    assert text.startswith(message)
    assert "\n" not in text


def test_crlf_and_bom_do_not_leak_into_values() -> None:
    record = parse_record("x", (DATA / "crlf_line_endings.txt").read_bytes()).record
    assert record is not None and record.title == "CRLF"
    record = parse_record("x", (DATA / "bom_utf8.txt").read_bytes()).record
    assert record is not None and record.title == "BOM first"


def test_duplicate_keys_warn_and_keep_the_last_value() -> None:
    result = parse_record("d.txt", (DATA / "duplicate_keys.txt").read_bytes())
    assert result.record is not None and result.record.title == "Second"
    assert [str(p) for p in result.problems] == [
        "d.txt:3: warning: title: appears more than once; the last value is used"
    ]


def test_the_reference_record_parses_and_its_secret_is_not_kept() -> None:
    raw = (ROOT / "seeds" / "006_fff5d0ba3aaf71aa.txt").read_bytes()
    result = parse_record("ref.txt", raw)
    assert result.record is not None and result.problems == ()
    secret = raw.split(b'secured: "')[1].split(b";")[0].decode()
    assert secret not in repr(result.record)
    assert "secured" not in type(result.record).__dataclass_fields__


# ---- required fields


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("sourceUrl: https://a.example.com/\npublishedDateTime: 2025-01-01", "r.txt: error: title: missing"),
        (
            "title: 1984\nsourceUrl: https://a.example.com/\npublishedDateTime: 2025-01-01",
            "r.txt:2: error: title: expected text, found the integer 1984 (quote it)",
        ),
        (
            "title: '  '\nsourceUrl: https://a.example.com/\npublishedDateTime: 2025-01-01",
            "r.txt:2: error: title: is empty",
        ),
        ("title: t\npublishedDateTime: 2025-01-01", "r.txt: error: sourceUrl: missing"),
        (
            "title: t\nsourceUrl: javascript:alert(1)\npublishedDateTime: 2025-01-01",
            "r.txt:3: error: sourceUrl: not an absolute http(s) URL",
        ),
        (
            "title: t\nsourceUrl: /relative/path\npublishedDateTime: 2025-01-01",
            "r.txt:3: error: sourceUrl: not an absolute http(s) URL",
        ),
        ("title: t\nsourceUrl: https://a.example.com/", "r.txt: error: publishedDateTime: missing"),
        (
            "title: t\nsourceUrl: https://a.example.com/\npublishedDateTime: yesterday",
            "r.txt:4: error: publishedDateTime: not an ISO 8601 date-time: 'yesterday'",
        ),
        (
            "title: t\nsourceUrl: https://a.example.com/\npublishedDateTime: '2024-13-45'",
            "r.txt:4: error: publishedDateTime: not a valid ISO 8601 date-time",
        ),
        (
            "title: t\nsourceUrl: https://a.example.com/\npublishedDateTime: 1969-07-20T20:17:00Z",
            "r.txt:4: error: publishedDateTime: date-time before 1970",
        ),
        (
            "title: t\nsourceUrl: https://a.example.com/\npublishedDateTime: 1700000000",
            "r.txt:4: error: publishedDateTime: expected an ISO 8601 date-time, found the integer",
        ),
    ],
)
def test_a_record_without_a_usable_required_field_is_rejected(fields: str, message: str) -> None:
    assert only_problem(parse(fields)).startswith(message)


# ---- published flag


@pytest.mark.parametrize(
    ("value", "published", "warned"),
    [
        ("true", True, False),
        ("false", False, False),
        ('"true"', False, True),
        ("yes", False, True),
        ("on", False, True),
        ("True", True, False),
        ("1", False, True),
    ],
)
def test_only_the_yaml_boolean_true_publishes(value: str, published: bool, warned: bool) -> None:
    result = parse(VALID.replace("published: true", f"published: {value}"))
    assert result.record is not None and result.record.is_published is published
    assert bool(result.problems) is warned


def test_a_missing_published_flag_means_unpublished_without_a_warning() -> None:
    result = parse(VALID.replace("published: true", ""))
    assert result.record is not None and not result.record.is_published and not result.problems


# ---- times


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            datetime(2025, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            datetime(2025, 1, 1, 21, 34, tzinfo=UTC),
        ),
        (datetime(2025, 1, 2, 3, 4), datetime(2025, 1, 2, 3, 4, tzinfo=UTC)),  # noqa: DTZ001 - naive on purpose
        (date(2025, 1, 2), datetime(2025, 1, 2, tzinfo=UTC)),
        ("2025-06-02T17:45:00+02:00", datetime(2025, 6, 2, 15, 45, tzinfo=UTC)),
        ("2025-06-02T17:45:00Z", datetime(2025, 6, 2, 17, 45, tzinfo=UTC)),
        ("2025-06-02 17:45", datetime(2025, 6, 2, 17, 45, tzinfo=UTC)),
        ("20250602T174500-0800", datetime(2025, 6, 3, 1, 45, tzinfo=UTC)),
    ],
)
def test_times_become_aware_utc(value: object, expected: datetime) -> None:
    assert parse_time(value) == expected
    assert parse_time(value).tzinfo is UTC


def test_unquoted_yaml_offsets_are_honoured() -> None:
    result = parse(VALID.replace("2025-03-14T08:15:00Z", "2025-03-14T08:15:00-08:00"))
    assert result.record is not None and result.record.published_at == datetime(2025, 3, 14, 16, 15, tzinfo=UTC)


# ---- optional fields: a bad value is dropped with a warning, the record is kept


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        ("excerpt: 42", "excerpt: expected text, found the integer 42"),
        ("topics: AI", "topics: expected a list of topics, found the string 'AI'"),
        ("topics: [AI, 3]", "topics[1]: expected a topic name, found the integer 3"),
        ("images: {url: https://a.example.com/i.jpg}", "images: expected a list of images, found the mapping"),
        ("images: [{url: 'data:image/png;base64,AAAA'}]", "images[0]: url is not an absolute http(s) URL"),
        (
            "images: [{url: 'https://a.example.com/i.jpg', width: -5}]",
            "images[0]: width must be a positive whole number",
        ),
        ("images: [{url: 'https://a.example.com/i.jpg', height: 99999999}]", "images[0]: height must be a positive"),
        (
            "related: [{sourceUrl: 'file:///etc/passwd', title: x}]",
            "related[0]: sourceUrl is not an absolute http(s) URL",
        ),
        (
            "related: [{sourceUrl: 'https://b.example.com/', publishedDateTime: soon}]",
            "related[0]: publishedDateTime: not an ISO 8601",
        ),
        ("provider: Daily Circuit", "provider: expected a mapping with name and domain"),
        ("provider: {name: X, domain: 'not a host!'}", "provider: domain is not a host name"),
    ],
)
def test_a_bad_optional_field_is_dropped_with_a_warning(extra: str, warning: str) -> None:
    result = parse(VALID + extra)
    assert result.record is not None
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert problem.severity is Severity.WARNING
    assert f"{problem.field}: {problem.message}".startswith(warning)
    assert problem.line is not None and problem.line >= 2


def test_image_and_related_problems_point_at_their_own_line() -> None:
    result = parse(VALID + "images:\n  - url: https://a.example.com/ok.jpg\n  - url: ftp://a.example.com/x.jpg\n")
    assert result.record is not None and len(result.record.images) == 1
    assert result.problems[0].line == 8


def test_provider_falls_back_to_the_host_of_the_story() -> None:
    record = parse(VALID + "provider: {name: Wire Desk}").record
    assert record is not None
    assert (record.provider.name, record.provider.key, record.provider.url) == (
        "Wire Desk",
        "news.example.com",
        "https://news.example.com/",
    )
    record = parse(VALID.replace("https://news", "https://www.news")).record
    assert record is not None and record.provider.name == "news.example.com"


# ---- cleaning


def test_control_characters_are_removed_and_unicode_kept() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x85e\ud800f 😀 中文 עברית") == "abcdef 😀 中文 עברית"
    assert clean_text("  two\n lines  ", single_line=True) == "two lines"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.COM/a b", None),
        ("https://example.com/ä?q=ü#frag", "https://example.com/%C3%A4?q=%C3%BC#frag"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("HTTP://example.com", "http://example.com/"),
        ("https://example.com:8443/p", "https://example.com:8443/p"),
        ("https://user:pw@example.com/", None),
        ("javascript:alert(1)", None),
        ("data:text/html,hi", None),
        ("file:///etc/passwd", None),
        ("//example.com/x", None),
        ("https://exa\tmple.com/", None),
        ("https://example.com/%41", "https://example.com/%41"),
        ("https:///nohost", None),
        ("http://[::1]/a", "http://[::1]/a"),
        ("http://[2001:DB8::0:1]:8080/", "http://[2001:db8::1]:8080/"),
        ("http://[not:an:ip]/", None),
        ("https://example.com:99999/", None),
    ],
)
def test_only_absolute_http_urls_survive(url: str, expected: str | None) -> None:
    assert clean_url(url) == expected


def test_read_records_walks_folders_and_skips_hidden_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for i, where in enumerate(["a.txt", "nested/b.md", "nested/deeper/c.yaml", "d.YML", ".hidden/e.txt", "f.json"]):
        (tmp_path / where).write_bytes(record_file(VALID.replace("/a", f"/{i}")))
    (tmp_path / "broken.txt").write_bytes(b"nonsense")
    records, problems = read_records(tmp_path)
    assert sorted(Path(r.path).name for r in records) == ["a.txt", "b.md", "c.yaml", "d.YML"]
    assert [Path(p.path).name for p in problems] == ["broken.txt"]


def test_files_over_the_size_limit_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(record_file(VALID, "x" * 5000))
    records, problems = read_records(tmp_path, max_bytes=1000)
    assert records == ()
    assert "over the limit of 1000" in str(problems[0])


@settings(max_examples=500, deadline=None)
@given(st.from_regex(r"https?://[a-zA-Z0-9.\-]{1,12}(:[0-9]{1,6})?(/[ -~]{0,24})?", fullmatch=True))
def test_the_fast_path_for_clean_urls_agrees_with_the_full_check(url: str) -> None:
    assert clean_url(url) == canonical_url(url)


def test_the_fast_yaml_path_and_pyyaml_give_the_same_records() -> None:
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        raw = path.read_bytes()
        assert parse_record("x", raw) == parse_record("x", raw, exact=True), path.name


def test_remembered_providers_and_texts_depend_only_on_what_they_are_remembered_by() -> None:
    good = 'provider: {name: "  Example\u00a0News ", domain: WWW.Example.com}'
    bad = "provider: {name: Other, domain: not a host}"
    for _ in range(2):  # the second time from memory
        for provider, url, key in [
            (good, "https://a.example.org/x", "example.com"),
            (good, "https://b.example.net/y", "example.com"),
            (bad, "https://a.example.org/x", "a.example.org"),
            (bad, "https://b.example.net/y", "b.example.net"),
        ]:
            record = parse(VALID.replace("https://news.example.com/a", url) + provider).record
            assert record is not None
            assert record.provider.key == key
            assert record.provider.name == ("Example News" if provider == good else "Other")
        assert clean_text(" a\tb\u00a0 ", single_line=True) == "a b"
        assert clean_text(" a\tb\u00a0 ") == "a\tb"


def _clean_text_as_it_was(value: str, single_line: bool) -> str:
    """clean_text before its shortcuts: the reference."""
    text = re.sub(
        "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]", "", unicodedata.normalize("NFC", value)
    )
    if single_line:
        text = re.sub(r"\s+", " ", text)
    return text.strip()[:10_000]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from([" ", "  ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\ufeff"])
        | st.text()
    ).map("".join),
    st.booleans(),
)
def test_clean_text_keeps_its_old_results(value: str, single_line: bool) -> None:
    for _ in range(2):  # the second time from memory, for short texts
        assert clean_text(value, single_line=single_line) == _clean_text_as_it_was(value, single_line)
    long = value * (1 + 100 // (len(value) + 1))
    assert clean_text(long, single_line=single_line) == _clean_text_as_it_was(long, single_line)


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1900, 2100), st.integers(0, 13), st.integers(0, 32)),
    st.tuples(st.integers(0, 25), st.integers(0, 60), st.integers(0, 61)),
    st.sampled_from(["T", " "]),
    st.sampled_from(["", ".123", ".123456"]),
    st.sampled_from(["Z", "+00:00", "-08:00", "+05:30", "+23:59", "+24:00", "-99:00"]),
)
def test_quoted_timestamps_read_as_isoparse_reads_them(day, clock, sep, fraction, offset):  # type: ignore[no-untyped-def]
    from dateutil.parser import isoparse

    text = "{:04d}-{:02d}-{:02d}".format(*day) + sep + "{:02d}:{:02d}:{:02d}".format(*clock) + fraction + offset
    try:
        expected = isoparse(text).astimezone(UTC)
    except (ValueError, OverflowError):
        with pytest.raises(ValueError, match="date-time"):
            parse_time(text)
        return
    if expected < datetime(1970, 1, 1, tzinfo=UTC):
        return
    assert parse_time(text) == expected
    assert parse_time(text).tzinfo is UTC
