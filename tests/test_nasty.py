"""The corpus of hostile and messy records in tests/data/nasty: each file is one case, named after it.

Every case ends in "published, cleaned" or "rejected with a clear line", and a
build of the whole corpus keeps every promise: no traceback, no leak, every
file well-formed and inside the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds.model import Severity
from feeds.publish import Report, build
from feeds.records import parse_record

from .conftest import DATA, NOW, SITE

NASTY = DATA / "nasty"

# file -> (outcome, the start of its first problem's "field: message", or None)
EXPECTED = {
    "bad_image_and_related_urls.txt": ("published", "images[0]: url is not an absolute http(s) URL"),
    "control_characters_in_text.txt": ("published", "2 control characters removed"),
    "date_after_9999.txt": ("rejected", "publishedDateTime: not an ISO 8601 date-time"),
    "date_as_integer.txt": ("rejected", "publishedDateTime: expected an ISO 8601 date-time, found the integer"),
    "date_before_1970.txt": ("rejected", "publishedDateTime: date-time before 1970 is not plausible: 1969-07-20"),
    "date_only.txt": ("published", None),
    "date_yesterday.txt": ("rejected", "publishedDateTime: not an ISO 8601 date-time: 'yesterday'"),
    "duplicate_source_url_newer.txt": ("published", None),
    "duplicate_source_url_older.txt": ("published", None),
    "emoji_cjk_rtl.txt": ("published", None),
    "empty_tagged_float.txt": ("published", "heat: value cannot be read ('' is not a valid float)"),
    "huge_and_negative_dimensions.txt": ("published", "images[0]: width must be a positive whole number"),
    "impossible_date.txt": ("rejected", "publishedDateTime: value cannot be read ('2024-13-45'"),
    "impossible_unquoted_timestamp.txt": (
        "rejected",
        "publishedDateTime: value cannot be read ('2020-02-30T10:00:00Z'",
    ),
    "iri_source_url.txt": ("published", None),
    "javascript_source_url.txt": ("rejected", "sourceUrl: not an absolute http(s) URL"),
    "lone_surrogate_escape.txt": ("rejected", "YAML syntax error: found invalid Unicode character escape code"),
    "naive_timestamp.txt": ("published", None),
    "null_everywhere.txt": ("published", "images[0]: expected a mapping with url, found nothing (null)"),
    "offset_plus_0530_quoted.txt": ("published", None),
    "published_one.txt": ("unpublished", "published: must be true or false, found the integer 1"),
    "published_string_false.txt": ("unpublished", "published: must be true or false, found the string 'false'"),
    "published_string_true.txt": ("unpublished", "published: must be true or false, found the string 'true'"),
    "published_yes.txt": ("unpublished", "published: write true or false, found 'yes'"),
    "relative_source_url.txt": ("rejected", "sourceUrl: not an absolute http(s) URL"),
    "script_in_title_and_excerpt.txt": ("published", None),
    "source_url_with_spaces.txt": ("rejected", "sourceUrl: not an absolute http(s) URL"),
    "tagged_values.txt": ("published", "quality: value cannot be read ('high' is not a valid int)"),
    "title_is_a_number.txt": ("rejected", "title: expected text, found the integer 1984 (quote it)"),
    "topic_path_traversal.txt": ("published", "topics[4]: expected a topic name, found the string ''"),
    "topics_differing_only_by_symbols.txt": ("published", None),
    "unknown_fields_and_secret.txt": ("published", None),
    "unpublished_with_secret.txt": ("unpublished", None),
    "wrong_types_everywhere.txt": ("published", "excerpt: expected text, found the integer 42"),
}


def test_every_file_of_the_corpus_has_an_expectation() -> None:
    assert sorted(p.name for p in NASTY.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "outcome", "problem"), [(n, *e) for n, e in sorted(EXPECTED.items())])
def test_each_case_is_published_cleaned_or_rejected_with_a_clear_line(
    name: str, outcome: str, problem: str | None
) -> None:
    result = parse_record(name, (NASTY / name).read_bytes())
    if outcome == "rejected":
        assert result.record is None
        assert result.problems[-1].severity is Severity.ERROR
    else:
        assert result.record is not None
        assert result.record.is_published is (outcome == "published")
        assert all(p.severity is Severity.WARNING for p in result.problems)
    if problem is None:
        assert result.problems == ()
    else:
        first = result.problems[0]
        assert f"{first.field}: {first.message}".startswith(problem) or first.message.startswith(problem)
        assert str(first).startswith(name) and "\n" not in str(first)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    out = tmp_path_factory.mktemp("nasty")
    return out, build(NASTY, out, SITE, NOW)


def test_the_corpus_builds_and_every_file_is_well_formed_and_inside(corpus: tuple[Path, Report]) -> None:
    out, report = corpus
    assert report.rejected == sum(1 for outcome, _ in EXPECTED.values() if outcome == "rejected")
    root = out.resolve()
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(root)
        assert all(len(part) <= 80 for part in path.relative_to(out).parts)
        if path.suffix in (".xml", ".opml", ".xsl"):
            etree.fromstring(path.read_bytes())
        elif path.suffix == ".json":
            json.loads(path.read_bytes())
    for path in out.rglob("*.xml"):
        assert not feedparser.parse(path.read_bytes()).bozo, path


def test_dangerous_topic_names_get_short_safe_distinct_folders(corpus: tuple[Path, Report]) -> None:
    out, _ = corpus
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    topics = {f["name"]: f["slug"] for f in manifest["feeds"] if f["kind"] == "topic"}
    for name in ("..", "../../etc/passwd", "/etc", "a/b\\\\c", "!!!", "CON", "nul", "x" * 200, "C", "C++", "C#"):
        assert name in topics, name
    assert len(set(topics.values())) == len(topics)
    assert topics["CON"] == "con-topic" and topics["nul"] == "nul-topic"
    assert topics["C"] == "c" and topics["C++"] == "c-plus-plus" and topics["C#"] == "c-sharp"
    assert all(slug and len(slug) <= 60 and slug not in (".", "..") for slug in topics.values())


def test_markup_in_records_never_becomes_live_markup(corpus: tuple[Path, Report]) -> None:
    out, _ = corpus
    for path in out.rglob("*"):
        if path.is_file() and path.suffix != ".json":
            text = path.read_text(encoding="utf-8")
            assert "<script>alert" not in text and "<img src=x" not in text, path
    item = next(
        i for i in json.loads((out / "all" / "feed.json").read_text(encoding="utf-8"))["items"] if "script" in i["id"]
    )
    assert item["title"] == "<script>alert('t')</script> Breaking"  # plain text, as JSON Feed defines title
    assert "<script>" not in item["content_html"]


def test_nothing_secret_or_unpublished_leaks(corpus: tuple[Path, Report]) -> None:
    out, _ = corpus
    everything = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    for secret in (b"SECRET-PAYLOAD", b"SECRET-HIDDEN", b"IV-xyz", b"do not publish", b"wordCount"):
        assert secret not in everything
    for hidden in ("phidden", "ppublished_yes.txt", "ppublished_one.txt", "/hidden"):
        assert f"news.example.com/{hidden}".encode() not in everything


def test_one_entry_per_url_and_the_newer_version_wins(corpus: tuple[Path, Report]) -> None:
    out, report = corpus
    items = json.loads((out / "all" / "feed.json").read_text(encoding="utf-8"))["items"]
    dup = [i for i in items if i["id"] == "https://news.example.com/dup"]
    assert [i["title"] for i in dup] == ["Updated version"] and report.duplicates == 1


def test_iris_are_percent_encoded_and_unicode_text_is_kept(corpus: tuple[Path, Report]) -> None:
    out, _ = corpus
    items = json.loads((out / "all" / "feed.json").read_text(encoding="utf-8"))["items"]
    ids = {i["id"] for i in items}
    assert "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC" in ids
    assert any(i["title"] == "人工知能のニュース 🚀" and i["summary"] == "😀 中文 العربية עברית" for i in items)


def test_an_unforeseen_exception_rejects_only_that_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import feeds.records as records

    def explode(path: str, doc: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(records, "_check", explode)
    result = parse_record("x.txt", (NASTY / "emoji_cjk_rtl.txt").read_bytes())
    assert result.record is None
    assert str(result.problems[0]) == f"x.txt: error: cannot be read: ZeroDivisionError ({records.INTERNAL})"
