"""Time ``feeds build`` on generated corpora and print one tab-separated table.

    python -m benchmarks.run                 # 10k and 100k records
    python -m benchmarks.run --quick         # 10k only
    python -m benchmarks.run --million       # 10k, 100k and 1M (1M: minutes and about 4 GB of disk)
    python -m benchmarks.run --styles seed,pyyaml,pyyaml-unfolded,jsyaml,crlf-bom --sizes 10000
                                             # the same records as other emitters write them

Every build runs in its own process, started by a small wrapper process
(``--one``) that waits for it with ``os.wait4``: the rusage it gets is that one
build's CPU time and peak RSS, not a maximum over earlier runs. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

NOW = "2026-11-26T00:00:00Z"
REPO = Path(__file__).resolve().parent.parent  # builds run here: `-m feeds` is this tree, feeds.yaml applies
RACY_WAIT_S = 2.5  # feeds.scan.RACY_NS is 2 s
MILLION = 1_000_000  # behind --million: the corpus takes minutes to write and a cold build about two
SCENARIOS = ("cold", "cold_parse_only", "nochange", "add1", "edit1")
COLUMNS = ("scenario", "records", "wall_s", "cpu_s", "peak_rss_mb", "files_written")

# Run by the wrapper in a fresh interpreter: read_records alone, nothing written.
PARSE_ONLY = """\
import sys
from pathlib import Path, PurePosixPath
from typing import Any
from feeds.reading import read_records
records, problems = read_records(Path(sys.argv[1]))
print(len(records), len(problems))
"""

# Run in a fresh interpreter: parse_record over every file of a corpus, the bytes read first
# (CPU time: on a shared machine, less of what others do than wall time); then how many of them
# the fast path read.
READ_ONLY = """\
import json, sys, time
from pathlib import Path
from feeds import frontmatter
from feeds.records import parse_record
files = [(str(p), p.read_bytes()) for p in sorted(Path(sys.argv[1]).rglob("*.txt"))]
started = time.process_time()
for name, raw in files:
    parse_record(name, raw)
seconds = time.process_time() - started
fast = sum(frontmatter.load_raw(raw) is not None for _, raw in files)
print(json.dumps({"records": len(files), "seconds": seconds, "fast": fast}))
"""

# Run in a fresh interpreter: the first SAMPLE files of each corpus, parsed style after style,
# ROUNDS times; the least CPU time of each. Taking turns, the styles share whatever else the
# machine is doing, so their ratio means more than that of passes minutes apart.
READ_TURNS = """\
import json, sys, time
from pathlib import Path
from feeds.records import parse_record
sample, rounds, corpora = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
files = [[p.read_bytes() for p in sorted(Path(c).rglob("*.txt"))[:sample]] for c in corpora]
best = [float("inf")] * len(corpora)
for _ in range(rounds):
    for index, raws in enumerate(files):
        started = time.process_time()
        for raw in raws:
            parse_record("r.txt", raw)
        best[index] = min(best[index], (time.process_time() - started) / len(raws))
print(json.dumps(best))
"""
TURNS_SAMPLE, TURNS_ROUNDS = 1_000, 7

# What the child interpreter runs with, asked of that interpreter rather than assumed.
VERSIONS = """\
import json, sys, yaml, feeds
print(json.dumps({"python": sys.version.split()[0], "implementation": sys.implementation.name,
                  "pyyaml": yaml.__version__, "c_loader": hasattr(yaml, "CSafeLoader"),
                  "feeds": getattr(feeds, "__version__", "?")}))
"""


# ---------------------------------------------------------------- measuring one process


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    cpu_s: float  # user + system time of the measured process (and anything it waited for)
    peak_rss_mb: float  # its ru_maxrss
    returncode: int
    stderr_tail: str


def run_one(command: Sequence[str]) -> Measurement:
    """Run ``command`` and measure it; called inside the small ``--one`` wrapper process.

    ``os.wait4`` returns the rusage of exactly this child. Its ru_maxrss can be no
    lower than the RSS of the process that started it (Linux counts the memory
    the child had before ``exec``), which is why a small wrapper starts it.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        errors.seek(0)
        tail = errors.read()[-4000:].decode("utf-8", "replace")
    return Measurement(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        returncode=process.returncode,
        stderr_tail=tail,
    )


def measure(command: Sequence[str]) -> Measurement:
    """Measure ``command`` from a fresh wrapper process (see ``run_one``)."""
    wrapper = [sys.executable, "-m", "benchmarks.run", "--one", "--", *command]
    done = subprocess.run(wrapper, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark wrapper failed ({done.returncode}):\n{done.stderr}")
    data = json.loads(done.stdout)
    return Measurement(**data)


# ---------------------------------------------------------------- the build under test


@dataclass(frozen=True)
class BuildOptions:
    """Options of ``feeds build`` that this runner uses when the installed CLI has them."""

    cache_dir: bool
    report: bool


def detect_options() -> BuildOptions:
    done = subprocess.run(
        [sys.executable, "-m", "feeds", "build", "--help"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return BuildOptions(cache_dir="--cache-dir" in done.stdout, report="--report" in done.stdout)


@dataclass(frozen=True)
class Workspace:
    corpus: Path
    out: Path
    cache: Path
    reports: Path

    def report(self, scenario: str) -> Path:
        return self.reports / f"{scenario}.json"


def build_command(ws: Workspace, options: BuildOptions, scenario: str) -> list[str]:
    command = [sys.executable, "-m", "feeds", "build", str(ws.corpus), "-o", str(ws.out), "--now", NOW, "-q"]
    if options.cache_dir:
        command += ["--cache-dir", str(ws.cache)]
    if options.report:
        command += ["--report", str(ws.report(scenario))]
    return command


Snapshot = dict[str, tuple[int, int, int]]


def snapshot(out: Path) -> Snapshot:
    """(mtime, inode, size) of every output file: how to tell which ones a build wrote."""
    files: Snapshot = {}
    for root, _, names in os.walk(out):
        for name in names:
            path = os.path.join(root, name)
            st = os.stat(path)
            files[os.path.relpath(path, out)] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return files


def read_report(ws: Workspace, options: BuildOptions, scenario: str) -> dict[str, Any] | None:
    """The build's JSON report, if the CLI has ``--report`` and the build wrote one."""
    if not options.report:
        return None
    try:
        report = json.loads(ws.report(scenario).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def files_written(ws: Workspace, report: dict[str, Any] | None, before: Snapshot) -> list[str]:
    """From the report (``files`` → ``written``) when there is one, else by comparing mtimes."""
    try:
        if report is not None:
            return [str(path) for path in report["files"]["written"]]
    except (KeyError, TypeError):
        pass
    after = snapshot(ws.out)
    return sorted(path for path, stamp in after.items() if before.get(path) != stamp)


def stage_timings(report: dict[str, Any] | None) -> dict[str, float]:
    """Seconds per build stage, if the report has a ``timings`` mapping."""
    timings = report.get("timings") if report else None
    if not isinstance(timings, dict):
        return {}
    return {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)}


def _fold(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def outside_affected_feeds(out: Path, record: Path, written: Sequence[str]) -> list[str]:
    """The written files that belong to a feed the changed record is not in.

    The record is in the "all" feed, a feed per topic and its provider's feed;
    the folders of all feeds come from the build's ``manifest.json``. Files
    outside every feed folder (manifest, index pages) are site-wide, not counted.
    """
    text = record.read_text(encoding="utf-8")
    topics = text.split("\ntopics:\n", 1)[1].split("\n\n", 1)[0]
    names = {_fold(line[4:]) for line in topics.splitlines() if line.startswith("  - ")}
    domain = text.split("\n  domain: ", 1)[1].split("\n", 1)[0].removeprefix("www.")
    folders: dict[str, bool] = {}  # feed folder -> is the record in that feed
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for feed in manifest["feeds"]:
        kind = feed["kind"]
        affected = (
            kind == "all"
            or (kind == "topic" and (_fold(feed["name"]) in names or _fold(feed["key"]) in names))
            or (kind == "provider" and feed["key"] == domain)
        )
        for path in feed["paths"].values():
            folders[str(PurePosixPath(path).parent)] = affected
    return [path for path in written if folders.get(str(PurePosixPath(path).parent)) is False]


# ---------------------------------------------------------------- scenarios


@dataclass
class Row:
    scenario: str
    records: int
    measurement: Measurement
    written: int
    outside: list[str] | None = None  # add1/edit1: files written of feeds the change is not in
    stages: dict[str, float] = field(default_factory=dict)  # from the build's report, if any

    def cells(self) -> list[str]:
        m = self.measurement
        written = str(self.written) if m.returncode == 0 else f"failed:{m.returncode}"
        return [self.scenario, str(self.records), f"{m.wall_s:.2f}", f"{m.cpu_s:.2f}", f"{m.peak_rss_mb:.1f}", written]


@dataclass
class Results:
    rows: dict[tuple[str, int], Row] = field(default_factory=dict)
    failed: bool = False

    def add(self, size: int, row: Row) -> None:
        self.rows[(row.scenario, size)] = row
        if row.measurement.returncode != 0:
            self.failed = True
            print(f"{row.scenario} ({size} records) failed:\n{row.measurement.stderr_tail}", file=sys.stderr)
        print("\t".join(row.cells()), flush=True)


def ensure_corpus(corpus: Path, count: int, seed: int) -> None:
    from . import generate

    if generate.is_pristine(corpus, count, seed):
        return
    if corpus.exists():
        shutil.rmtree(corpus)
    stats = generate.generate(count, corpus, seed)
    generate.write_marker(corpus, count, seed, pristine=True)
    # Files written this close to a build's start are read again by the next build (the racy-mtime
    # rule, feeds.scan.RACY_NS): wait it out, or the first no-change build reads the newest ones again.
    time.sleep(RACY_WAIT_S)
    print(
        f"# generated {stats.files} records ({stats.bytes / 1e6:.0f} MB) in {stats.seconds:.1f} s "
        f"({stats.files / max(stats.seconds, 1e-9):,.0f} files/s) into {corpus}",
        file=sys.stderr,
        flush=True,
    )


@contextmanager
def mutations(corpus: Path, count: int, seed: int) -> Iterator[Callable[[str], Path]]:
    """Add or edit records for the incremental scenarios; undo all of it afterwards."""
    from . import generate

    added: list[Path] = []
    edited: list[tuple[Path, bytes]] = []

    def mutate(kind: str) -> Path:
        if kind == "add":
            added.append(generate.add_record(corpus, seed))
            return added[-1]
        path, old = generate.edit_record(corpus, seed, skip=added)
        edited.append((path, old))
        return path

    try:
        yield mutate
    finally:
        for path in added:
            path.unlink(missing_ok=True)
        for path, old in reversed(edited):
            path.write_bytes(old)
        generate.write_marker(corpus, count, seed, pristine=True)


def run_size(size: int, args: argparse.Namespace, options: BuildOptions, results: Results) -> None:
    corpus = args.data / f"corpus-{size}"
    ensure_corpus(corpus, size, args.seed)
    work = args.data / f"work-{size}"
    ws = Workspace(corpus=corpus, out=work / "out", cache=work / "cache", reports=work / "reports")
    if work.exists():
        shutil.rmtree(work)
    ws.reports.mkdir(parents=True)
    wanted = set(args.scenarios)

    def build(scenario: str, records: int, changed: Path | None = None) -> None:
        before = snapshot(ws.out)
        measured = measure(build_command(ws, options, scenario))
        report = read_report(ws, options, scenario)
        written = files_written(ws, report, before)
        outside = None
        if changed is not None and measured.returncode == 0:
            outside = outside_affected_feeds(ws.out, changed, written)
            if outside:
                listed = ", ".join(outside[:10])
                print(f"# {scenario}: written, of feeds without the changed record: {listed}", file=sys.stderr)
        results.add(size, Row(scenario, records, measured, len(written), outside, stage_timings(report)))

    # cold: nothing to compare with, nothing cached
    if "cold" in wanted:
        build("cold", size)
    if "cold_parse_only" in wanted and size < MILLION:  # a million records in one list: memory, not news
        measured = measure([sys.executable, "-c", PARSE_ONLY, str(corpus)])
        results.add(size, Row("cold_parse_only", size, measured, 0))
    incremental = wanted & {"nochange", "add1", "edit1"}
    if not incremental:
        return
    if "cold" not in wanted:  # the incremental scenarios start from a finished build
        measure(build_command(ws, options, "prepare"))
    if "nochange" in wanted:
        build("nochange", size)
    with mutations(corpus, size, args.seed) as mutate:
        records = size
        if "add1" in wanted:
            added = mutate("add")
            records += 1
            build("add1", records, added)
        if "edit1" in wanted:
            edited = mutate("edit")
            build("edit1", records, edited)


# ---------------------------------------------------------------- styles


@dataclass(frozen=True)
class StyleRow:
    style: str
    records: int
    read_us: float  # parse_record, CPU µs a record, the styles taking turns on a sample (READ_TURNS)
    pass_us: float  # parse_record, CPU µs a record, one pass over the whole corpus
    fast_share: float  # of the records, read by the fast path
    cold: Measurement

    def cells(self) -> list[str]:
        c = self.cold
        cold = f"{c.wall_s:.2f}" if c.returncode == 0 else f"failed:{c.returncode}"
        return [
            self.style, str(self.records), f"{self.read_us:.1f}", f"{self.pass_us:.1f}",
            f"{100 * self.fast_share:.1f}", cold, f"{c.cpu_s:.2f}", f"{c.peak_rss_mb:.1f}",
        ]  # fmt: skip


STYLE_COLUMNS = (
    "style", "records", "read_us_per_record", "read_us_one_pass", "fast_path_pct", "cold_wall_s", "cold_cpu_s",
    "peak_rss_mb",
)  # fmt: skip


def styled_corpus(args: argparse.Namespace, size: int, style: str) -> Path:
    """The corpus of ``size`` written again in ``style`` (benchmarks.styles), made once."""
    from . import styles

    base = args.data / f"corpus-{size}"
    ensure_corpus(base, size, args.seed)
    if style == "seed":
        return base
    corpus = args.data / f"corpus-{size}-{style}"
    marker = corpus / ".benchmark-style.json"
    base_marker = (base / ".benchmark-corpus.json").read_text(encoding="utf-8")
    stamp = json.dumps({"size": size, "seed": args.seed, "style": style, "base": base_marker})
    if marker.is_file() and marker.read_text(encoding="utf-8") == stamp:
        return corpus
    if corpus.exists():
        shutil.rmtree(corpus)
    started = time.perf_counter()
    count = styles.rewrite_corpus(base, style, corpus)
    marker.write_text(stamp, encoding="utf-8")
    print(f"# wrote {count} records in the {style} style in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return corpus


def run_styles(size: int, args: argparse.Namespace, options: BuildOptions) -> list[StyleRow]:
    rows = []
    corpora = [styled_corpus(args, size, style) for style in args.styles]
    turns = [sys.executable, "-c", READ_TURNS, str(TURNS_SAMPLE), str(TURNS_ROUNDS), *map(str, corpora)]
    done = subprocess.run(turns, cwd=REPO, capture_output=True, text=True, check=True)
    sampled = json.loads(done.stdout)
    for style, corpus, per_record in zip(args.styles, corpora, sampled, strict=True):
        done = subprocess.run(
            [sys.executable, "-c", READ_ONLY, str(corpus)], cwd=REPO, capture_output=True, text=True, check=True
        )
        read = json.loads(done.stdout)
        work = args.data / f"work-{size}-{style}"
        if work.exists():
            shutil.rmtree(work)
        ws = Workspace(corpus=corpus, out=work / "out", cache=work / "cache", reports=work / "reports")
        ws.reports.mkdir(parents=True)
        cold = measure(build_command(ws, options, "cold"))
        if cold.returncode != 0:
            print(f"cold build of the {style} style failed:\n{cold.stderr_tail}", file=sys.stderr)
        records = int(read["records"])
        row = StyleRow(style, records, 1e6 * per_record, 1e6 * read["seconds"] / records, read["fast"] / records, cold)
        print("\t".join(row.cells()), flush=True)
        rows.append(row)
    return rows


def style_check_lines(rows: Sequence[StyleRow]) -> list[str]:
    """The style targets: cold 100k within 12 s and 600 MB in every style; reading within 1.25x."""
    checks: list[tuple[str, str, str, bool]] = []
    for size in sorted({row.records for row in rows}):
        same_size = [row for row in rows if row.records == size]
        label = f"{size // 1000}k" if size % 1000 == 0 else str(size)
        if size >= 100_000:
            for row in same_size:
                wall, rss = row.cold.wall_s, row.cold.peak_rss_mb
                checks.append((f"cold_{label}_{row.style}_wall_s", f"{wall:.2f}", "12", wall <= 12))
                checks.append((f"cold_{label}_{row.style}_peak_rss_mb", f"{rss:.1f}", "600", rss <= 600))
        if len(same_size) > 1:
            ratio = max(r.read_us for r in same_size) / min(r.read_us for r in same_size)
            checks.append((f"read_{label}_slowest_over_fastest_style", f"{ratio:.2f}", "1.25", ratio <= 1.25))
    return [f"{name}\t{value}\t{limit}\t{'ok' if ok else 'MISS'}" for name, value, limit, ok in checks]


# ---------------------------------------------------------------- report


def machine_lines(options: BuildOptions) -> list[str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ",".join(f"{x:.2f}" for x in os.getloadavg())
    done = subprocess.run([sys.executable, "-c", VERSIONS], cwd=REPO, capture_output=True, text=True, check=True)
    v = json.loads(done.stdout)
    flags = f"--cache-dir={'yes' if options.cache_dir else 'no'} --report={'yes' if options.report else 'no'}"
    return [
        f"# machine: nproc={os.cpu_count()} cpu={cpu} mem_gib={memory:.1f} loadavg={load} os={platform.system()}",
        f"# python={v['python']} ({v['implementation']}) pyyaml={v['pyyaml']} "
        f"c_loader={'yes' if v['c_loader'] else 'no'} feeds={v['feeds']}",
        f"# build: feeds build CORPUS -o OUT --now {NOW} -q; options found: {flags}",
    ]


def check_lines(results: Results, sizes: Sequence[int]) -> list[str]:
    """The targets from README.md, each as: target, measured, limit, ok/MISS."""
    checks: list[tuple[str, str, str, bool]] = []

    def row(scenario: str, size: int) -> Row | None:
        found = results.rows.get((scenario, size))
        return found if found and found.measurement.returncode == 0 else None

    if cold := row("cold", 100_000):
        m = cold.measurement
        checks.append(("cold_100k_wall_s", f"{m.wall_s:.2f}", "12", m.wall_s <= 12))
        checks.append(("cold_100k_peak_rss_mb", f"{m.peak_rss_mb:.1f}", "600", m.peak_rss_mb <= 600))
    if (cold := row("cold", MILLION)) and (hundred := row("cold", 100_000)):
        ratio = cold.measurement.wall_s / hundred.measurement.wall_s
        checks.append(("cold_1m_over_100k_wall", f"{ratio:.1f}", "10", ratio <= 10))
        checks.append(
            ("cold_1m_peak_rss_mb", f"{cold.measurement.peak_rss_mb:.1f}", "1024", cold.measurement.peak_rss_mb <= 1024)
        )

    def at_most(name: str, value: float, limit: float | None, shown: str) -> None:
        if limit is not None:
            checks.append((name, shown, f"{limit:g}", value <= limit))

    for size in sizes:
        label = "1m" if size == MILLION else f"{size // 1000}k" if size % 1000 == 0 else str(size)
        # (wall s, peak MB or None) for a build with nothing to do, and for one with one record changed
        quiet, touched = ((5.0, 300.0), (6.0, 300.0)) if size >= MILLION else ((1.0, None), (2.0, None))
        if nochange := row("nochange", size):
            m = nochange.measurement
            at_most(f"nochange_{label}_wall_s", m.wall_s, quiet[0], f"{m.wall_s:.2f}")
            at_most(f"nochange_{label}_peak_rss_mb", m.peak_rss_mb, quiet[1], f"{m.peak_rss_mb:.1f}")
            at_most(f"nochange_{label}_files_written", nochange.written, 0, str(nochange.written))
        for scenario in ("add1", "edit1"):
            if changed := row(scenario, size):
                m = changed.measurement
                at_most(f"{scenario}_{label}_wall_s", m.wall_s, touched[0], f"{m.wall_s:.2f}")
                at_most(f"{scenario}_{label}_peak_rss_mb", m.peak_rss_mb, touched[1], f"{m.peak_rss_mb:.1f}")
                if changed.outside is not None:
                    outside = len(changed.outside)
                    at_most(f"{scenario}_{label}_files_of_other_feeds", outside, 0, str(outside))
    small, large = row("cold", 10_000), row("cold", 100_000)
    if small and large:
        ratio = large.measurement.wall_s / small.measurement.wall_s
        checks.append(("cold_100k_over_10k_wall", f"{ratio:.1f}", "11", ratio <= 11))
    return [f"{name}\t{value}\t{limit}\t{'ok' if ok else 'MISS'}" for name, value, limit, ok in checks]


def stage_lines(results: Results) -> list[str]:
    """Where the time went inside each build, as the build itself reports it (seconds)."""
    names: list[str] = []
    for row in results.rows.values():
        names += [name for name in row.stages if name not in names]
    if not names:
        return []
    lines = ["# stages (s, from --report)\t" + "\t".join(["records", *names])]
    for row in results.rows.values():
        if row.stages:
            cells = [f"{row.stages[name]:.2f}" if name in row.stages else "" for name in names]
            lines.append("\t".join([row.scenario, str(row.records), *cells]))
    return lines


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 10000,100000, found {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def parse_scenarios(text: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        choices = ", ".join(SCENARIOS)
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {', '.join(unknown)}; choose from {choices}")
    return chosen


def parse_styles(text: str) -> list[str]:
    from .styles import STYLES

    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(STYLES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown style(s) {', '.join(unknown)}; choose from {', '.join(STYLES)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--one"]:  # internal: the wrapper around one measured process
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        print(json.dumps(asdict(run_one(command))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description="Benchmark `feeds build`.")
    parser.add_argument("--sizes", type=parse_sizes, default=[10_000, 100_000], help="default: 10000,100000")
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    parser.add_argument("--million", action="store_true", help="also 1,000,000 records (minutes, about 4 GB of disk)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default: 1)")
    parser.add_argument(
        "--data", type=Path, default=Path("/tmp/bench"), help="corpora and build output (default: /tmp/bench)"
    )
    parser.add_argument(
        "--scenarios", type=parse_scenarios, default=list(SCENARIOS), help=f"default: {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--styles",
        type=parse_styles,
        help="instead of the scenarios: read time and cold build for each style, e.g. "
        "seed,pyyaml,pyyaml-unfolded,jsyaml,crlf-bom (see benchmarks/styles.py)",
    )
    args = parser.parse_args(argv)
    args.data = args.data.resolve()
    sizes: list[int] = [10_000] if args.quick else args.sizes
    if args.million and MILLION not in sizes:
        sizes.append(MILLION)
    options = detect_options()
    for line in machine_lines(options):
        print(line)
    if args.styles:
        print("\t".join(STYLE_COLUMNS), flush=True)
        rows = [row for size in sizes for row in run_styles(size, args, options)]
        print()
        print("# target\tmeasured\tlimit\tresult")
        for line in style_check_lines(rows):
            print(line)
        print(f"# loadavg after: {','.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 1 if any(row.cold.returncode for row in rows) else 0
    print("\t".join(COLUMNS), flush=True)
    results = Results()
    for size in sizes:
        run_size(size, args, options, results)
    print()
    print("# target\tmeasured\tlimit\tresult")
    for line in check_lines(results, sizes):
        print(line)
    stages = stage_lines(results)
    if stages:
        print()
        for line in stages:
            print(line)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
