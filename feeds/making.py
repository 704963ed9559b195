"""Make a build's pending files a piece at a time, feeds first, and stage each one as it is made.

Feeds go first: with a byte budget, what each keeps decides what its newest
archive page holds. A piece holds at most ``RENDER_CHUNK`` documents' full
records, so a build with archive pages never holds every record at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace

from .budget import with_let_go
from .fetching import Fetcher
from .model import Draft, FeedKey, Site
from .outputs import Output, chunks, make_all
from .planning import Plan
from .report import Clock
from .workers import Workers
from .writing import OutputTree

RENDER_CHUNK = 20_000  # entries whose full records a build holds at once (archive pages make many)


def make_and_stage(
    pending: list[Output],
    drafted: Plan,
    fetcher: Fetcher,
    site: Site,
    workers: Workers,
    tree: OutputTree,
    clock: Clock,
    kept: dict[FeedKey, int],
) -> dict[str, tuple[str, int]]:
    """Render and stage the ``pending`` files, a piece at a time; each one's digest and size.

    Feeds go first: with a byte budget, what each keeps decides what its newest
    archive page holds (``kept`` gets the counts). The staged files are renamed
    later in the order readers follow links, whatever the order they were made in.
    """
    sizes: dict[str, tuple[str, int]] = {}
    writing = 0.0
    feeds = [o for o in pending if o.draft is not None and o.draft.page is None]
    archived = [o for o in pending if o.draft is not None and o.draft.page is not None]
    rest = [o for o in pending if o.draft is None]
    phases: tuple[Callable[[], list[Output]], ...] = (
        lambda: feeds,
        lambda: _with_let_go(archived, drafted, kept, site),  # once the feeds have said what they keep
        lambda: rest,
    )
    for phase in phases:
        for chunk in chunks(phase(), RENDER_CHUNK):
            redo = list({id(o.draft): o.draft for o in chunk if o.draft is not None}.values())
            documents = dict(zip(map(id, redo), fetcher.complete(redo, drafted), strict=True))
            for output, data in zip(chunk, make_all(chunk, documents, site, workers, kept), strict=True):
                sizes[str(output.path)] = (output.digest or "", len(data))
                start = time.perf_counter()
                tree.stage(output.path, data)
                writing += time.perf_counter() - start
    clock.lap("render")
    clock.laps["render"] -= writing
    clock.laps["write"] = writing
    return sizes


def _with_let_go(outputs: list[Output], drafted: Plan, kept: Mapping[FeedKey, int], site: Site) -> list[Output]:
    """The archive pages' outputs, each newest page holding what its feed let go to fit the byte budget."""
    if site.max_feed_bytes is None:
        return outputs
    amended: dict[int, Draft] = {}
    found = []
    for output in outputs:
        draft = output.draft
        assert draft is not None
        if draft.page == draft.pages and draft.key in kept:
            if id(draft) not in amended:
                amended[id(draft)] = with_let_go(draft, drafted.head(draft.key), kept[draft.key])
            output = replace(output, draft=amended[id(draft)])
        found.append(output)
    return found
