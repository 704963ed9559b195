"""Every feed.json built from the bundled seeds against JSON Feed 1.1.

Rules are from https://jsonfeed.org/version/1.1 (quoted in each test's
docstring). A MUST of the spec, or a SHOULD this project claims to follow, is
one test; each test checks every feed.json of the build and lists every
violation it finds, so one failure names all the offending feeds and items.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest

from feeds.config import load_site
from feeds.model import Site
from feeds.publish import build
from feeds.reading import read_records

ROOT = Path(__file__).parent.parent
NOW = datetime(2026, 11, 26, tzinfo=UTC)
VERSION_URL = "https://jsonfeed.org/version/1.1"

# The keys JSON Feed 1.1 defines, per object; `author` is the 1.0 field that
# 1.1 deprecates but keeps valid ("Deprecated items remain valid forever").
TOP_LEVEL_KEYS = frozenset(
    {
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "user_comment",
        "next_url",
        "icon",
        "favicon",
        "authors",
        "author",
        "language",
        "expired",
        "hubs",
        "items",
    }
)
ITEM_KEYS = frozenset(
    {
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "image",
        "banner_image",
        "date_published",
        "date_modified",
        "authors",
        "author",
        "tags",
        "language",
        "attachments",
    }
)
AUTHOR_KEYS = frozenset({"name", "url", "avatar"})
ATTACHMENT_KEYS = frozenset({"url", "mime_type", "title", "size_in_bytes", "duration_in_seconds"})
HUB_KEYS = frozenset({"type", "url"})
URL_KEYS = ("home_page_url", "feed_url", "next_url", "icon", "favicon", "url", "external_url", "image", "banner_image")

# RFC 3339 §5.6 date-time, upper-case T and Z, offset required (no "-00:00" trick needed).
RFC3339 = re.compile(
    r"(?P<date>\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))"
    r"T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
# RFC 5646 language tag, the common shapes (language, script, region, variants).
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?(-([A-Za-z0-9]{5,8}|\d[A-Za-z0-9]{3}))*")
# RFC 6838 type/subtype.
MEDIA_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
# "Names must start with an _ character followed by a letter."
EXTENSION_NAME = re.compile(r"_[A-Za-z][^.]*")


# ---------------------------------------------------------------- the build


class Built:
    """The output of one build of the seeds: every feed.json, raw and parsed."""

    def __init__(self, out: Path, site: Site) -> None:
        self.out = out
        self.site = site
        self.raw: dict[PurePosixPath, bytes] = {
            PurePosixPath(path.relative_to(out).as_posix()): path.read_bytes()
            for path in sorted(out.rglob("feed.json"))
        }
        self.docs: dict[PurePosixPath, dict[str, Any]] = {
            path: json.loads(data.decode("utf-8")) for path, data in self.raw.items()
        }

    def items(self) -> Iterator[tuple[PurePosixPath, int, dict[str, Any]]]:
        for path, doc in self.docs.items():
            for index, item in enumerate(doc.get("items", [])):
                yield path, index, item


@pytest.fixture(scope="module")
def jf(tmp_path_factory: pytest.TempPathFactory) -> Built:
    site = load_site(ROOT / "feeds.yaml")
    out = tmp_path_factory.mktemp("jsonfeed-spec")
    build(ROOT / "seeds", out, site, NOW)
    return Built(out, site)


@pytest.fixture(scope="module")
def paged(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The seeds with archive pages and WebSub hubs, so next_url and hubs are written (the rules on them can fail)."""
    site = replace(
        load_site(ROOT / "feeds.yaml"),
        archives=True,
        max_items=5,
        archive_page_size=5,
        hubs=("https://hub.example.org/", "https://pubsub.example.net/hub"),
    )
    out = tmp_path_factory.mktemp("jsonfeed-spec-paged")
    build(ROOT / "seeds", out, site, NOW)
    return Built(out, site)


def _is_http_url(value: object) -> bool:
    """An absolute http(s) URL with a host, no spaces or controls, valid port."""
    if not isinstance(value, str) or not value or any(c.isspace() or ord(c) < 0x20 for c in value):
        return False
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _objects(value: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in ``value`` with a readable path to it."""
    if isinstance(value, dict):
        yield where or "/", value
        for key, child in value.items():
            yield from _objects(child, f"{where}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _objects(child, f"{where}[{index}]")


def _report(problems: list[str]) -> str:
    return f"{len(problems)} violation(s):\n" + "\n".join(problems[:50])


# ---------------------------------------------------------------- the corpus


def test_every_feed_has_a_json_feed_and_the_rules_below_are_exercised(jf: Built) -> None:
    """Guard against vacuous passes: every planned feed has a feed.json, and the
    seeds produce items with each optional part the rules below check."""
    manifest = json.loads((jf.out / "manifest.json").read_text(encoding="utf-8"))
    planned = {PurePosixPath(feed["paths"]["json"]) for feed in manifest["feeds"]}
    assert planned == set(jf.raw)
    assert len(jf.raw) >= 10
    items = [item for _, _, item in jf.items()]
    assert items
    for key in ("summary", "image", "tags", "attachments", "authors", "_related", "date_published"):
        assert any(key in item for item in items), f"no item has {key!r}; the seeds no longer exercise it"
    assert any(len(doc["items"]) > 1 for doc in jf.docs.values())


# ---------------------------------------------------------------- encoding


def test_encoded_as_utf8_without_bom(jf: Built) -> None:
    """'JSON Feeds should be encoded using UTF-8'; RFC 8259 §8.1: no BOM."""
    problems = []
    for path, data in jf.raw.items():
        if data.startswith(b"\xef\xbb\xbf"):
            problems.append(f"{path}: starts with a byte order mark")
        try:
            data.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            problems.append(f"{path}: not UTF-8: {e}")
    assert not problems, _report(problems)


def test_document_is_a_json_object(jf: Built) -> None:
    """A feed is a JSON object (the top-level structure of every example)."""
    problems = [f"{path}: top level is {type(doc).__name__}" for path, doc in jf.docs.items() if type(doc) is not dict]
    assert not problems, _report(problems)


# ---------------------------------------------------------------- top level


def test_version_is_the_1_1_url(jf: Built) -> None:
    """`version` (required, string) is the URL of the version of the format."""
    problems = [
        f"{path}: version is {doc.get('version')!r}"
        for path, doc in jf.docs.items()
        if doc.get("version") != VERSION_URL
    ]
    assert not problems, _report(problems)


def test_version_appears_at_the_very_top(jf: Built) -> None:
    """`version` 'should appear at the very top' (a SHOULD we follow)."""
    problems = [
        f"{path}: first key is {next(iter(doc), None)!r}"
        for path, doc in jf.docs.items()
        if next(iter(doc), None) != "version"
    ]
    assert not problems, _report(problems)


def test_title_is_a_non_empty_string(jf: Built) -> None:
    """`title` (required, string) is the name of the feed."""
    problems = [
        f"{path}: title is {doc.get('title')!r}"
        for path, doc in jf.docs.items()
        if not isinstance(doc.get("title"), str) or not doc["title"].strip()
    ]
    assert not problems, _report(problems)


def test_items_is_an_array_of_objects(jf: Built) -> None:
    """`items` is an array, and is required."""
    problems = []
    for path, doc in jf.docs.items():
        items = doc.get("items")
        if not isinstance(items, list):
            problems.append(f"{path}: items is {type(items).__name__}")
            continue
        problems.extend(
            f"{path}: items[{i}] is {type(item).__name__}" for i, item in enumerate(items) if type(item) is not dict
        )
    assert not problems, _report(problems)


def test_home_page_url_and_feed_url_are_present(jf: Built) -> None:
    """`home_page_url` and `feed_url` are 'optional but strongly recommended' and
    'should be considered required for feeds on the public web'."""
    problems = [
        f"{path}: no {key}" for path, doc in jf.docs.items() for key in ("home_page_url", "feed_url") if key not in doc
    ]
    assert not problems, _report(problems)


def test_feed_url_is_where_the_file_is_published(jf: Built) -> None:
    """`feed_url` 'is the URL of the feed': the base URL plus the file's path."""
    problems = []
    for path, doc in jf.docs.items():
        expected = jf.site.base_url + str(path)
        if doc.get("feed_url") != expected:
            problems.append(f"{path}: feed_url is {doc.get('feed_url')!r}, published at {expected!r}")
    assert not problems, _report(problems)


def test_feed_urls_are_unique(jf: Built) -> None:
    """`feed_url` 'serves as the unique identifier for the feed'."""
    counts = Counter(doc.get("feed_url") for doc in jf.docs.values())
    problems = [f"{url!r} is the feed_url of {n} feeds" for url, n in counts.items() if n > 1]
    assert not problems, _report(problems)


def test_next_url_differs_from_feed_url(paged: Built) -> None:
    """'`next_url` must not be the same as `feed_url`'; ours names an older page of the same feed, which exists."""
    with_next = [(path, doc) for path, doc in paged.docs.items() if "next_url" in doc]
    assert len(with_next) >= 10, "no feed.json pages back; the rule below checks nothing"
    problems = [
        f"{path}: next_url equals feed_url" for path, doc in with_next if doc["next_url"] == doc.get("feed_url")
    ]
    for path, doc in with_next:
        target = PurePosixPath(doc["next_url"].removeprefix(paged.site.base_url))
        if target not in paged.docs:
            problems.append(f"{path}: next_url {doc['next_url']!r} is not a feed.json of the build")
    assert not problems, _report(problems)


def test_language_is_an_rfc5646_tag(jf: Built) -> None:
    """`language` (optional, string), top level and per item, is an RFC 5646 tag."""
    problems = []
    for path, doc in jf.docs.items():
        holders = [("feed", doc)] + [(f"items[{i}]", item) for i, item in enumerate(doc.get("items", []))]
        for where, holder in holders:
            if "language" in holder and not (
                isinstance(holder["language"], str) and LANGUAGE_TAG.fullmatch(holder["language"])
            ):
                problems.append(f"{path}: {where}.language is {holder['language']!r}")
    assert not problems, _report(problems)


def test_expired_is_a_boolean(jf: Built, paged: Built) -> None:
    """`expired` (optional, boolean) 'says whether or not the feed is finished': a feed (or archive
    page: a withdrawn record rewrites it) that a later build may change is not."""
    problems = [
        f"{path}: expired is {doc['expired']!r}"
        for built in (jf, paged)
        for path, doc in built.docs.items()
        if "expired" in doc and doc["expired"] is not False
    ]
    assert not problems, _report(problems)


def test_string_fields_are_strings(jf: Built) -> None:
    """Fields the spec types as strings are strings, wherever they appear."""
    top = (
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "user_comment",
        "next_url",
        "icon",
        "favicon",
    )
    item_keys = ("url", "external_url", "title", "content_html", "content_text", "summary", "image", "banner_image")
    item_keys += ("date_published", "date_modified", "language")
    problems = []
    for path, doc in jf.docs.items():
        problems.extend(
            f"{path}: {key} is {type(doc[key]).__name__}" for key in top if key in doc and not isinstance(doc[key], str)
        )
    for path, index, item in jf.items():
        problems.extend(
            f"{path}: items[{index}].{key} is {type(item[key]).__name__}"
            for key in item_keys
            if key in item and not isinstance(item[key], str)
        )
    assert not problems, _report(problems)


# ---------------------------------------------------------------- items


def test_each_item_id_is_a_non_empty_string(jf: Built) -> None:
    """`id` (required, string); 'If an id is blank ... the item must be discarded'."""
    problems = [
        f"{path}: items[{index}].id is {item.get('id')!r}"
        for path, index, item in jf.items()
        if not isinstance(item.get("id"), str) or not item["id"].strip()
    ]
    assert not problems, _report(problems)


def test_item_ids_are_unique_within_each_feed(jf: Built) -> None:
    """`id` 'is unique for that item for that feed'."""
    problems = []
    for path, doc in jf.docs.items():
        counts = Counter(item.get("id") for item in doc.get("items", []))
        problems.extend(f"{path}: id {key!r} used by {n} items" for key, n in counts.items() if n > 1)
    assert not problems, _report(problems)


def test_item_id_is_the_items_url(jf: Built) -> None:
    """'Ideally, the id is the full URL of the resource described by the item';
    `url` 'may be the same as the id — but should be present regardless'."""
    problems = [
        f"{path}: items[{index}] id {item.get('id')!r} url {item.get('url')!r}"
        for path, index, item in jf.items()
        if "url" not in item or item.get("id") != item["url"]
    ]
    assert not problems, _report(problems)


def test_each_item_has_content_html_or_content_text(jf: Built) -> None:
    """'content_html and content_text are each optional strings — but one or both must be present'."""
    problems = []
    for path, index, item in jf.items():
        present = [key for key in ("content_html", "content_text") if key in item]
        if not present:
            problems.append(f"{path}: items[{index}] has neither content_html nor content_text")
        problems.extend(
            f"{path}: items[{index}].{key} is not a non-empty string"
            for key in present
            if not isinstance(item[key], str) or not item[key].strip()
        )
    assert not problems, _report(problems)


def test_dates_are_rfc3339_with_offset(jf: Built) -> None:
    """`date_published` / `date_modified` 'in RFC 3339 format'
    (e.g. 2010-02-07T14:04:00-05:00): full date, time and an offset."""
    problems = []
    seen = 0
    for path, index, item in jf.items():
        for key in ("date_published", "date_modified"):
            if key not in item:
                continue
            seen += 1
            value = item[key]
            if not isinstance(value, str) or not RFC3339.fullmatch(value):
                problems.append(f"{path}: items[{index}].{key} is {value!r}")
                continue
            try:  # the regex checks the shape; this checks the calendar (no 30 February)
                datetime.fromisoformat(value.replace("Z", "+00:00").replace(":60", ":59"))
            except ValueError as e:
                problems.append(f"{path}: items[{index}].{key} {value!r}: {e}")
    assert seen
    assert not problems, _report(problems)


def test_items_are_newest_first(jf: Built) -> None:
    """Our claim: items are sorted by publication time, newest first, ties by id."""
    problems = []
    for path, doc in jf.docs.items():
        keys = []
        for item in doc.get("items", []):
            when = datetime.fromisoformat(item["date_published"].replace("Z", "+00:00"))
            keys.append((-when.timestamp(), item["id"]))
        if keys != sorted(keys):
            problems.append(f"{path}: items are not newest first: {[item['id'] for item in doc['items']]}")
    assert not problems, _report(problems)


def test_date_modified_is_not_before_date_published(jf: Built) -> None:
    """A modification cannot precede publication (consistency of the two dates)."""
    problems = []
    for path, index, item in jf.items():
        if "date_published" in item and "date_modified" in item:
            published = datetime.fromisoformat(item["date_published"].replace("Z", "+00:00"))
            modified = datetime.fromisoformat(item["date_modified"].replace("Z", "+00:00"))
            if modified < published:
                problems.append(f"{path}: items[{index}] modified {modified} before published {published}")
    assert not problems, _report(problems)


def test_tags_are_an_array_of_strings(jf: Built) -> None:
    """`tags` (optional, array of strings)."""
    problems = []
    for path, index, item in jf.items():
        if "tags" not in item:
            continue
        tags = item["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) and tag.strip() for tag in tags):
            problems.append(f"{path}: items[{index}].tags is {tags!r}")
        elif len(set(tags)) != len(tags):
            problems.append(f"{path}: items[{index}].tags repeats a tag: {tags!r}")
    assert not problems, _report(problems)


def test_title_and_summary_are_plain_text(jf: Built) -> None:
    """`title` 'is plain text', `summary` is 'a plain text sentence or two';
    'the only place HTML is allowed in this format is in content_html'.
    So they carry the record's text as written, never HTML-escaped."""
    records, _ = read_records(ROOT / "seeds")
    by_url = {record.url: record for record in records}
    problems = []
    for path, index, item in jf.items():
        record = by_url[item["url"]]
        if item.get("title") != record.title:
            problems.append(f"{path}: items[{index}].title {item.get('title')!r} != {record.title!r}")
        if item.get("summary", record.excerpt) != record.excerpt:
            problems.append(f"{path}: items[{index}].summary differs from the record's excerpt")
    assert any("&" in record.title or "<" in record.title for record in records)  # the seeds test escaping
    assert not problems, _report(problems)


# ---------------------------------------------------------------- authors, attachments


def _authors(jf: Built) -> Iterator[tuple[str, Any]]:
    for path, doc in jf.docs.items():
        if "authors" in doc:
            yield f"{path}: authors", doc["authors"]
        for index, item in enumerate(doc.get("items", [])):
            if "authors" in item:
                yield f"{path}: items[{index}].authors", item["authors"]


def test_authors_are_objects_with_name_url_or_avatar(jf: Built) -> None:
    """`authors` (optional, array of objects): 'if you provide an author object,
    then at least one [of name, url, avatar] is required'."""
    problems = []
    seen = 0
    for where, authors in _authors(jf):
        if not isinstance(authors, list) or not authors:
            problems.append(f"{where} is {authors!r}")
            continue
        for index, author in enumerate(authors):
            seen += 1
            if not isinstance(author, dict):
                problems.append(f"{where}[{index}] is {type(author).__name__}")
                continue
            present = [key for key in AUTHOR_KEYS if isinstance(author.get(key), str) and author[key].strip()]
            if not present:
                problems.append(f"{where}[{index}] has none of name, url, avatar: {author!r}")
            problems.extend(
                f"{where}[{index}].{key} is not a string"
                for key in AUTHOR_KEYS & author.keys()
                if not isinstance(author[key], str)
            )
    assert seen
    assert not problems, _report(problems)


def test_author_urls_and_avatars_are_absolute_http_urls(jf: Built) -> None:
    """An author's `url` is 'the URL of a site owned by the author', `avatar` an image URL."""
    problems = [
        f"{where}[{index}].{key} is {author[key]!r}"
        for where, authors in _authors(jf)
        for index, author in enumerate(authors)
        for key in ("url", "avatar")
        if key in author and not _is_http_url(author[key])
    ]
    assert not problems, _report(problems)


def test_attachments_have_url_and_mime_type(jf: Built) -> None:
    """Each attachment: `url` (required, string), `mime_type` (required, string);
    `title` string, `size_in_bytes` and `duration_in_seconds` numbers."""
    problems = []
    seen = 0
    for path, index, item in jf.items():
        if "attachments" not in item:
            continue
        attachments = item["attachments"]
        if not isinstance(attachments, list) or not attachments:
            problems.append(f"{path}: items[{index}].attachments is {attachments!r}")
            continue
        for number, attachment in enumerate(attachments):
            seen += 1
            where = f"{path}: items[{index}].attachments[{number}]"
            if not isinstance(attachment, dict):
                problems.append(f"{where} is {type(attachment).__name__}")
                continue
            if not _is_http_url(attachment.get("url")):
                problems.append(f"{where}.url is {attachment.get('url')!r}")
            if not isinstance(attachment.get("mime_type"), str) or not MEDIA_TYPE.fullmatch(attachment["mime_type"]):
                problems.append(f"{where}.mime_type is {attachment.get('mime_type')!r}")
            if "title" in attachment and not isinstance(attachment["title"], str):
                problems.append(f"{where}.title is {attachment['title']!r}")
            for key in ("size_in_bytes", "duration_in_seconds"):
                value = attachment.get(key, 0)
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    problems.append(f"{where}.{key} is {value!r}")
    assert seen
    assert not problems, _report(problems)


def test_hubs_have_type_and_url(paged: Built) -> None:
    """`hubs`: 'Each object has a type and url, both of which are required'; ours are the configured WebSub hubs."""
    problems = []
    for path, doc in paged.docs.items():
        hubs = doc.get("hubs")
        if not isinstance(hubs, list) or len(hubs) != len(paged.site.hubs):
            problems.append(f"{path}: hubs is {hubs!r}, not the {len(paged.site.hubs)} configured")
            continue
        for index, hub in enumerate(hubs):
            required = isinstance(hub, dict) and all(isinstance(hub.get(key), str) and hub[key] for key in HUB_KEYS)
            if not required or hub["type"] != "WebSub" or not _is_http_url(hub["url"]):
                problems.append(f"{path}: hubs[{index}] is {hub!r}")
    assert not problems, _report(problems)


# ---------------------------------------------------------------- URLs


def test_urls_are_absolute_http_urls(jf: Built) -> None:
    """url, external_url, image, banner_image, feed_url, home_page_url, next_url,
    icon, favicon: 'the URL of ...' — absolute http(s) URLs (a feed is read out of
    context, so a relative URL would resolve against nothing)."""
    problems = []
    seen = 0
    for path, doc in jf.docs.items():
        holders = [("feed", doc)] + [(f"items[{i}]", item) for i, item in enumerate(doc.get("items", []))]
        for where, holder in holders:
            for key in URL_KEYS:
                if key in holder:
                    seen += 1
                    if not _is_http_url(holder[key]):
                        problems.append(f"{path}: {where}.{key} is {holder[key]!r}")
    assert seen
    assert not problems, _report(problems)


def test_item_image_is_one_of_its_attachments(jf: Built) -> None:
    """Our claim: an item's `image` is its first image, which is also attached."""
    problems = [
        f"{path}: items[{index}].image {item['image']!r} is not among its attachments"
        for path, index, item in jf.items()
        if "image" in item and item["image"] not in [a.get("url") for a in item.get("attachments", [])]
    ]
    assert not problems, _report(problems)


# ---------------------------------------------------------------- keys and extensions


def test_no_unknown_keys(jf: Built) -> None:
    """Only the keys the spec defines, plus extensions ('_'-prefixed: 'No standard
    keys will ever begin with an _'), in the feed, items, authors, attachments, hubs."""
    problems = []

    def check(where: str, obj: dict[str, Any], allowed: frozenset[str]) -> None:
        problems.extend(
            f"{where}: unknown key {key!r}" for key in obj if key not in allowed and not key.startswith("_")
        )

    for path, doc in jf.docs.items():
        check(f"{path}: feed", doc, TOP_LEVEL_KEYS)
        for index, author in enumerate(doc.get("authors", [])):
            check(f"{path}: authors[{index}]", author, AUTHOR_KEYS)
        for index, hub in enumerate(doc.get("hubs", [])):
            check(f"{path}: hubs[{index}]", hub, HUB_KEYS)
        for index, item in enumerate(doc.get("items", [])):
            check(f"{path}: items[{index}]", item, ITEM_KEYS)
            for number, author in enumerate(item.get("authors", [])):
                check(f"{path}: items[{index}].authors[{number}]", author, AUTHOR_KEYS)
            for number, attachment in enumerate(item.get("attachments", [])):
                check(f"{path}: items[{index}].attachments[{number}]", attachment, ATTACHMENT_KEYS)
    assert not problems, _report(problems)


def _extensions(jf: Built) -> Iterator[tuple[PurePosixPath, str, str, Any]]:
    """(file, where, name, value) of every '_'-prefixed key at a standard object's level."""
    for path, doc in jf.docs.items():
        for where, obj in _objects(doc):
            if "/_" in where:  # inside an extension: its members are the extension's business
                continue
            for key, value in obj.items():
                if key.startswith("_"):
                    yield path, where, key, value


def test_extension_names_start_with_underscore_and_a_letter(jf: Built) -> None:
    """'Names must start with an _ character followed by a letter'; 'the extension
    name and its member keys must not contain any . characters'."""
    problems = []
    found = 0
    for path, where, name, _ in _extensions(jf):
        found += 1
        if not EXTENSION_NAME.fullmatch(name):
            problems.append(f"{path}: {where}: bad extension name {name!r}")
    assert found
    assert not problems, _report(problems)


def test_extensions_are_objects(jf: Built) -> None:
    """Extensions are 'custom objects'."""
    problems = [
        f"{path}: {where}.{name} is {type(value).__name__}"
        for path, where, name, value in _extensions(jf)
        if type(value) is not dict
    ]
    assert not problems, _report(problems)


def test_extension_member_keys_have_no_dot_and_no_leading_underscore(jf: Built) -> None:
    """'The extension name, and only the extension name, must begin with an _';
    member keys 'must not contain any . characters'."""
    problems = []
    for path, where, name, value in _extensions(jf):
        for inner_where, obj in _objects(value, f"{where}.{name}"):
            problems.extend(
                f"{path}: {inner_where}: member key {key!r}" for key in obj if "." in key or key.startswith("_")
            )
    assert not problems, _report(problems)


def test_each_extension_says_what_it_is_about(jf: Built) -> None:
    """'The about string ... should appear at least once in a feed that may contain
    multiple uses' of an extension; we claim it on every use, as an absolute URL
    of a page this build publishes."""
    problems = []
    for path, where, name, value in _extensions(jf):
        about = value.get("about") if isinstance(value, dict) else None
        if not _is_http_url(about):
            problems.append(f"{path}: {where}.{name}.about is {about!r}")
        elif not about.startswith(jf.site.base_url):
            problems.append(f"{path}: {where}.{name}.about {about!r} is not on this site")
        elif not (jf.out / about.removeprefix(jf.site.base_url)).is_file():
            problems.append(f"{path}: {where}.{name}.about {about!r} is not published by the build")
    assert not problems, _report(problems)
