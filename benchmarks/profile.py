"""Profile one cold ``feeds build`` in-process with pyinstrument and print where the time goes.

    python -m benchmarks.profile                       # the 10k corpus in /tmp/bench
    python -m benchmarks.profile --size 100000 --top 25 --html /tmp/bench/profile.html

pyinstrument is a sampling profiler (``pip install pyinstrument``); it is only
imported here, so nothing else in the project needs it.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .run import NOW, REPO, ensure_corpus

Key = tuple[str, str]  # (function, where it is defined)


@dataclass(frozen=True)
class Entry:
    function: str
    location: str
    self_s: float
    total_s: float


def aggregate(root: Any) -> list[Entry]:
    """Self and total time per function over the whole call tree.

    A function's total counts each sample once even when it recurses, so totals
    are comparable with the build's wall time.
    """
    self_time: dict[Key, float] = defaultdict(float)
    total_time: dict[Key, float] = defaultdict(float)
    stack: list[tuple[Any, frozenset[Key]]] = [(root, frozenset())]
    while stack:
        frame, above = stack.pop()
        if frame.is_synthetic:
            continue
        key = (frame.function, f"{frame.file_path_short or frame.file_path or '?'}:{frame.line_no or 0}")
        self_time[key] += frame.total_self_time
        if key not in above:
            total_time[key] += frame.time
        below = above | {key}
        stack.extend((child, below) for child in frame.children)
    return [Entry(key[0], key[1], self_time[key], total_time[key]) for key in total_time]


def table(entries: Sequence[Entry], total: float, by: str, top: int) -> list[str]:
    ranked = sorted(entries, key=lambda e: (-(e.self_s if by == "self" else e.total_s), e.function, e.location))
    lines = ["rank\tself_s\tself_%\ttotal_s\ttotal_%\tfunction\tlocation"]
    for rank, e in enumerate(ranked[:top], start=1):
        lines.append(
            f"{rank}\t{e.self_s:.3f}\t{100 * e.self_s / total:.1f}\t{e.total_s:.3f}\t{100 * e.total_s / total:.1f}"
            f"\t{e.function}\t{e.location}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description="Profile one cold feeds build.")
    parser.add_argument("--size", type=int, default=10_000, help="corpus size, generated if missing (default: 10000)")
    parser.add_argument("--corpus", type=Path, help="profile this folder of records instead of a generated corpus")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default: 1)")
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench"), help="scratch folder (default: /tmp/bench)")
    parser.add_argument("--top", type=int, default=15, help="entries per table (default: 15)")
    parser.add_argument("--interval", type=float, default=0.001, help="sampling interval in seconds (default: 0.001)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="parse processes (default: 1, so the profile sees the parsing; 0: the build's own default, "
        "whose worker processes the profiler cannot see)",
    )
    parser.add_argument("--tree", action="store_true", help="also print pyinstrument's call tree")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's interactive HTML report here")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
    except ImportError:
        print(
            "benchmarks.profile needs pyinstrument, which is not installed in this interpreter:\n"
            f"    {sys.executable} -m pip install pyinstrument",
            file=sys.stderr,
        )
        return 2
    from feeds.clean import parse_time
    from feeds.config import load_site
    from feeds.publish import build

    data = args.data.resolve()
    corpus = args.corpus.resolve() if args.corpus else data / f"corpus-{args.size}"
    if args.corpus is None:
        ensure_corpus(corpus, args.size, args.seed)
    work = data / f"profile-{corpus.name}"
    if work.exists():
        shutil.rmtree(work)  # a cold build: no previous output, no cache
    # What `feeds build CORPUS -o OUT --now NOW --cache-dir CACHE` does, through the library
    # call the CLI makes, so that the number of parse processes can be set.
    accepted = inspect.signature(build).parameters
    options: dict[str, Any] = {}
    if "cache_dir" in accepted:
        options["cache_dir"] = work / "cache"
    if "workers" in accepted and args.workers:
        options["workers"] = args.workers
    elif args.workers:
        print("# this build has no `workers` parameter: it runs as it always does", file=sys.stderr)
    site = load_site(REPO / "feeds.yaml" if (REPO / "feeds.yaml").is_file() else None)

    profiler = Profiler(interval=args.interval)
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.start()
    try:
        build(corpus, work / "out", site, parse_time(NOW), **options)
    finally:
        profiler.stop()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started

    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None:
        print("no samples were taken", file=sys.stderr)
        return 1
    entries = aggregate(root)
    workers = options.get("workers", "default")
    print(
        f"# cold build of {corpus} under pyinstrument, parse workers={workers}: "
        f"wall {wall:.2f} s, cpu {cpu:.2f} s (this process), sampled {root.time:.2f} s"
    )
    print(f"# top {args.top} by self time (time spent in the function's own code)")
    print("\n".join(table(entries, root.time, "self", args.top)))
    print()
    print(f"# top {args.top} by total time (including what it calls)")
    print("\n".join(table(entries, root.time, "total", args.top)))
    if args.tree:
        print()
        print(profiler.output_text(unicode=True, color=False))
    if args.html:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
        print(f"# HTML report: {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
