"""What a build did: the summary line, ``--report``'s JSON and what scripts read."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from .model import Problem, Severity, Site
from .renderers.content import rfc3339


@dataclass(frozen=True)
class Report:
    """What a build did: for the summary line, ``--report`` and scripts."""

    read: int
    published: int
    unpublished: int
    scheduled: int
    duplicates: int
    problems: tuple[Problem, ...]
    feeds: int
    written: tuple[str, ...]
    unchanged: int
    next_due: datetime | None = None
    feeds_changed: tuple[str, ...] = ()
    urls_changed: tuple[str, ...] = ()  # feed (not archive) URLs whose bytes changed, for WebSub
    parsed: int = 0
    reused: int = 0
    removed: tuple[str, ...] = ()  # output files no build makes any more, removed
    cut: tuple[tuple[str, int, int], ...] = ()  # (feed folder, entries kept, entries it had) within max_feed_bytes
    warnings: tuple[str, ...] = ()  # what an operator should know: a cache made again, a stray file
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(1 for p in self.problems if p.severity is Severity.ERROR)

    def summary(self) -> str:
        return (
            f"{self.read} records read: {self.published} published, "
            f"{self.unpublished} unpublished, {self.scheduled} scheduled for later, "
            f"{self.duplicates} duplicate URLs, {self.rejected} rejected; "
            f"{self.feeds} feeds, {len(self.written)} files written, {self.unchanged} unchanged"
            + (f"; {len(self.cut)} feeds cut to fit max_feed_bytes" if self.cut else "")
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "records": {
                "read": self.read,
                "published": self.published,
                "unpublished": self.unpublished,
                "scheduled": self.scheduled,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "parsed": self.parsed,
                "from_cache": self.reused,
            },
            "next_due": None if self.next_due is None else rfc3339(self.next_due),
            "feeds": {"total": self.feeds, "changed": list(self.feeds_changed)},
            "files": {"written": list(self.written), "unchanged": self.unchanged, "removed": list(self.removed)},
            "cut": [{"feed": feed, "entries": kept, "of": total} for feed, kept, total in self.cut],
            "warnings": list(self.warnings),
            "problems": [p.as_dict() for p in self.problems],
            "timings": {name: round(seconds, 4) for name, seconds in self.timings.items()},
        }


FEED_FOLDERS = ("all", "topics", "providers")


def announced(changed: set[str], site: Site) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The feed folders whose files changed, and the feed URLs (not archive pages or pages) to tell hubs of."""
    folders: set[str] = set()
    urls: list[str] = []
    for path in sorted(changed):
        parts = PurePosixPath(path).parts
        if parts[0] not in FEED_FOLDERS:
            continue
        folders.add("all" if parts[0] == "all" else "/".join(parts[:2]))
        if "archive" not in parts and not path.endswith(".html"):
            urls.append(site.url(path))
    return tuple(sorted(folders)), tuple(urls)


class Clock:
    """Where a build's time goes, stage by stage (the report's timings)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self.last
        self.last = now

    def total(self) -> dict[str, float]:
        stages = dict.fromkeys(("read", "select", "render", "write"), 0.0)
        return {**stages, **self.laps, "total": time.perf_counter() - self.start}
