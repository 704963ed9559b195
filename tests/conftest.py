"""Shared fixtures: a record factory, the bundled seeds built once, --update-golden."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from hypothesis import settings

from feeds.config import load_site
from feeds.model import Feed, FeedKey, FeedKind, Image, Provider, Record, RelatedLink, Site
from feeds.publish import Report, build, documents
from feeds.selection import KnownFeed

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DIST = ROOT / "dist"
DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 26, tzinfo=UTC)  # the golden tree is built as of this moment
SITE = Site(title="Test Feeds", base_url="https://feeds.example.org/")

# CI explores the same examples on every run, so a result never depends on luck;
# locally Hypothesis keeps looking for new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite dist/ from seeds/ instead of comparing")


def make_record(**overrides: Any) -> Record:
    """A valid published record; override any field in one line."""
    base = Record(
        path="seeds/example.txt",
        title="Chip plant opens",
        url="https://news.example.com/chip-plant",
        published_at=datetime(2025, 3, 14, 8, 15, tzinfo=UTC),
        is_published=True,
        provider=Provider(name="Daily Circuit", key="news.example.com", url="https://news.example.com/"),
        excerpt="A new plant opens.",
        topics=("Semiconductors",),
        images=(Image("https://img.example.com/a.jpg", 800, 600, "The plant"),),
        related=(RelatedLink("https://other.example.org/story", "Other coverage"),),
    )
    return replace(base, **overrides)


def record_mapping(record: Record) -> dict[str, Any]:
    """The front matter an export would write for ``record``."""

    def provider(of: Provider) -> dict[str, str]:
        return {"name": of.name, "domain": of.key}

    data: dict[str, Any] = {
        "title": record.title,
        "sourceUrl": record.url,
        "publishedDateTime": record.published_at,
        "published": record.is_published,
        "provider": provider(record.provider),
    }
    if record.excerpt is not None:
        data["excerpt"] = record.excerpt
    if record.category is not None:
        data["category"] = record.category
    if record.topics:
        data["topics"] = list(record.topics)
    if record.images:
        data["images"] = [
            {k: v for k, v in {"url": i.url, "width": i.width, "height": i.height, "title": i.title}.items() if v}
            for i in record.images
        ]
    if record.related:
        data["related"] = [
            {
                "title": link.title,
                "sourceUrl": link.url,
                **({"publishedDateTime": link.published} if link.published else {}),
                **({"provider": provider(link.provider)} if link.provider else {}),
            }
            for link in record.related
        ]
    return data


def write_records(folder: Path, records: Iterable[Record]) -> list[Path]:
    """Write each record as a record file into ``folder``: named as its path, or by its position when names repeat."""
    records = list(records)
    folder.mkdir(parents=True, exist_ok=True)
    names = [Path(record.path).name for record in records]
    if len(set(names)) < len(names):
        names = [f"{number:05d}.txt" for number in range(len(records))]
    paths = []
    for name, record in zip(names, records, strict=True):
        text = yaml.safe_dump(record_mapping(record), allow_unicode=True, sort_keys=False)
        path = folder / name
        path.write_bytes(f"---\n{text}---\n".encode())
        paths.append(path)
    return paths


def documents_of(
    records: Iterable[Record], site: Site = SITE, now: datetime = NOW, known: Sequence[KnownFeed] = ()
) -> tuple[Feed, ...]:
    """The feed documents a build publishes for these records, through the build's own path."""
    with tempfile.TemporaryDirectory() as folder:
        write_records(Path(folder), records)
        return documents(Path(folder), site, now, known=known)


def tree(folder: Path) -> dict[PurePosixPath, bytes]:
    """Every file below ``folder`` but hidden ones, by relative path."""
    return {
        PurePosixPath(path.relative_to(folder).as_posix()): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }


def tree_of(records: Iterable[Record], site: Site = SITE, now: datetime = NOW) -> dict[PurePosixPath, bytes]:
    """Every file a build of these records writes, by relative path."""
    with tempfile.TemporaryDirectory() as folder:
        write_records(Path(folder) / "records", records)
        build(Path(folder) / "records", Path(folder) / "out", site, now)
        return tree(Path(folder) / "out")


def make_feed(records: Sequence[Record], site: Site = SITE, key: FeedKey | None = None, name: str = "") -> Feed:
    """A feed document of exactly these records, newest first, for renderer tests."""
    ordered = tuple(sorted(records, key=lambda r: (-r.published_at.timestamp(), r.url)))
    key = key or FeedKey(FeedKind.ALL, "all")
    updated = ordered[0].published_at if ordered else None
    return Feed(key, "" if key.kind is FeedKind.ALL else name, name or site.title, ordered, len(ordered), updated)


def record_file(fields: str, body: str = "") -> bytes:
    """A record file's bytes from the YAML of its front matter."""
    return f"---\n{fields.strip()}\n---\n{body}".encode()


@pytest.fixture(scope="session")
def seed_site() -> Site:
    return load_site(ROOT / "feeds.yaml")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, seed_site: Site) -> tuple[Path, Report]:
    """The bundled seeds built into a fresh folder, as the golden tree is."""
    out = tmp_path_factory.mktemp("dist")
    return out, build(SEEDS, out, seed_site, NOW)
