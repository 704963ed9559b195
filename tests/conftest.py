"""Shared fixtures: a record factory, the bundled seeds built once, --update-golden."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from feeds.config import load_site
from feeds.model import Image, Provider, Record, RelatedLink, Site
from feeds.publish import Report, build

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
