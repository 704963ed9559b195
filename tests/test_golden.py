"""The committed dist/ is exactly what `feeds build` makes of seeds/ (pytest --update-golden rewrites it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feeds.model import Site
from feeds.publish import Report, build

from .conftest import DIST, NOW, SEEDS


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_dist_matches_a_fresh_build(request: pytest.FixtureRequest, built: tuple[Path, Report]) -> None:
    out, _ = built
    if request.config.getoption("--update-golden"):
        shutil.rmtree(DIST, ignore_errors=True)
        shutil.copytree(out, DIST)
    expected, actual = tree(DIST), tree(out)
    assert sorted(actual) == sorted(expected), "files differ; review and run pytest --update-golden"
    changed = [name for name in expected if expected[name] != actual[name]]
    assert not changed, f"golden files differ: {changed}; review and run pytest --update-golden"


def test_building_twice_is_byte_identical_and_writes_nothing(built: tuple[Path, Report], seed_site: Site) -> None:
    out, first = built
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    again = build(SEEDS, out, seed_site, NOW)
    assert again.written == ()
    assert again.unchanged == len(before)
    assert before == {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    assert first.written  # the first build did write
