"""Write a deterministic corpus of realistic record files for benchmarking ``feeds build``.

Each file has the shape of ``seeds/006_*.txt`` (same keys, key order and quoting)
and is about 4 KB. The same ``--count``/``--seed`` always give byte-identical files.

    python -m benchmarks.generate --count 100000 --out /tmp/bench/corpus-100000 --seed 1
    python -m benchmarks.generate --mutate add --out /tmp/bench/corpus-100000
    python -m benchmarks.generate --mutate edit --out /tmp/bench/corpus-100000
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import time
from bisect import bisect
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from random import Random

FILES_PER_FOLDER = 1_000
MARKER = ".benchmark-corpus.json"  # hidden, so feeds does not read it
START = int(datetime(2019, 1, 1, tzinfo=UTC).timestamp())
END = int(datetime(2026, 11, 25, tzinfo=UTC).timestamp())  # the runner builds with --now 2026-11-26
ADDED_AT = int(datetime(2026, 11, 25, 12, tzinfo=UTC).timestamp())  # newer than every generated record
FUTURE = int(datetime(2031, 1, 1, tzinfo=UTC).timestamp())
YEAR = 365 * 24 * 3600

SHARE_UNPUBLISHED = 0.10
SHARE_OFFSET = 0.03  # unquoted timestamp with a non-Z offset
SHARE_QUOTED = 0.02  # quoted timestamp (half of them with an offset)
SHARE_DUPLICATE_URL = 0.005
SHARE_FUTURE = 0.001

# fmt: off
TOPICS: tuple[str, ...] = (
    "AI", "Machine Learning", "Computer Vision", "Robotics", "Privacy", "Cybersecurity", "Open Source",
    "Climate", "Space", "Semiconductors", "Quantum Computing", "Cloud", "Data Centers", "Energy",
    "Electric Vehicles", "Batteries", "Biotech", "Health Tech", "Fintech", "Crypto", "Regulation",
    "Antitrust", "Startups", "Venture Capital", "Telecom", "5G", "Smartphones", "Wearables", "Gaming",
    "Social Media", "Streaming", "E-commerce", "Supply Chain", "Manufacturing", "Agriculture",
    "Transportation", "Aviation", "Drones", "Smart Cities", "Education", "Jobs", "Science",
    "Nuclear", "Weather", "Oceans", "C", "C++", "C#", "R&D", "人工知能",
)
TOPIC_WEIGHTS: tuple[float, ...] = tuple(1 / (rank + 2) for rank in range(len(TOPICS)))

_STEMS: tuple[tuple[str, str], ...] = (
    ("Daily", "daily"), ("Harbour", "harbour"), ("Northern", "northern"), ("Orbit", "orbit"),
    ("Green", "green"), ("Metro", "metro"), ("Coastline", "coastline"), ("Capital", "capital"),
    ("Pacific", "pacific"), ("Rheinblick", "rheinblick"), ("Kaigan", "kaigan"), ("Byte", "byte"),
    ("Silicon", "silicon"), ("Prairie", "prairie"), ("Summit", "summit"), ("Lakeside", "lakeside"),
    ("Zürcher", "zuercher"), ("Atlantic", "atlantic"), ("Evening", "evening"), ("Global", "global"),
)
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("Times", "times"), ("Signal", "signal"), ("Circuit", "circuit"), ("Weekly", "weekly"),
    ("Report", "report"), ("Post", "post"), ("Ledger", "ledger"), ("Courier", "courier"),
    ("Wire", "wire"), ("Herald", "herald"),
)
_TLDS: tuple[str, ...] = (
    "example.com", "example.org", "co.uk", "com", "news", "example", "de", "jp", "com.au", "ca", "test",
)
SECTIONS: tuple[str, ...] = (
    "news", "tech", "science", "business", "world", "local", "politics", "environment", "health", "culture",
)
DIMENSIONS: tuple[tuple[int, int], ...] = (
    (2048, 1536), (1200, 800), (1600, 900), (800, 600), (1920, 1080), (640, 480), (1280, 720),
)
IMAGE_SUFFIXES: tuple[str, ...] = ("jpg", "jpg", "jpg", "jpeg", "png", "webp")
OFFSETS: tuple[str, ...] = ("+01:00", "+02:00", "+05:30", "+09:00", "-04:00", "-05:00", "-07:00", "-08:00")
_VOCABULARY = """
the a of to in and for on with as by at from its new after over about more than says said could would
will may has have had been was were is are be not but also into under while amid despite against plan
council police government company companies researchers scientists engineers officials ministers regulators
report study data model models system systems network networks chip chips factory plant grid battery
batteries cars trucks drones satellites rocket launch mission orbit lander telescope camera cameras
privacy security breach attack hackers ransomware patch update software hardware cloud servers power
energy solar wind nuclear carbon emissions climate heat floods drought storm tides sea ice glacier
city cities rural schools hospitals patients doctors workers jobs wages prices costs billion million
market markets shares investors startup startups funding round deal merger lawsuit court judge ruling
law bill vote rules regulation ban fine inquiry review audit watchdog campaigners residents users
customers developers open source code release version kernel compiler language memory safety bug
record first largest fastest smallest cheaper faster slower delayed approved rejected announced
launched unveiled warned confirmed denied expects plans wants signs backs delays cuts raises expands
national local regional global european american asian african british german japanese canadian
australian indian chinese french brazilian week month year today yesterday morning evening quarter
decade future long-term short-term key major minor critical early late final second third
"""
WORDS: tuple[str, ...] = (
    *_VOCABULARY.split(),
    # what real headlines and teasers also carry: symbols, curly quotes, dashes, non-Latin scripts
    "R&D", "AT&T", "—", "–", "…", "“unusual behaviour”", "‘smart’", "“bespoke”", "€2bn", "$1.9bn",
    "5G", "3nm", "CO₂", "Zürich", "São Paulo", "東京", "<2%", "🚀",
)
POOL_WORDS = 200_000  # the text of every record is cut from one deterministic stream of this many words
# fmt: on


@dataclass(frozen=True)
class Provider:
    name: str
    domain: str
    style: int  # how this provider's article URLs look


PROVIDERS: tuple[Provider, ...] = tuple(
    Provider(
        f"{stem} {suffix}" if s % 7 else f"The {stem} {suffix}",
        f"{stem_d}{suffix_d}.{_TLDS[(s * 7 + t) % len(_TLDS)]}",
        (s + t) % 3,
    )
    for s, (stem, stem_d) in enumerate(_STEMS)
    for t, (suffix, suffix_d) in enumerate(_SUFFIXES)
)
PROVIDER_WEIGHTS: tuple[float, ...] = tuple(1 / (rank + 5) for rank in range(len(PROVIDERS)))
_CUM_TOPICS: tuple[float, ...] = tuple(sum(TOPIC_WEIGHTS[: i + 1]) for i in range(len(TOPICS)))
_CUM_PROVIDERS: tuple[float, ...] = tuple(sum(PROVIDER_WEIGHTS[: i + 1]) for i in range(len(PROVIDERS)))
_SLUG_PARTS: dict[str, str] = {}
_ZONES: dict[str, timezone] = {
    o: timezone(int(o[0] + "1") * timedelta(hours=int(o[1:3]), minutes=int(o[4:6]))) for o in OFFSETS
}


@dataclass(frozen=True)
class Stats:
    files: int
    bytes: int
    seconds: float


# ---------------------------------------------------------------- text pieces


def draw(rng: Random, n: int) -> int:
    """A number in [0, n): one call to ``random()``, several times faster than ``randrange``."""
    return int(rng.random() * n)


def weighted(rng: Random, cumulative: Sequence[float]) -> int:
    """An index drawn with the weights whose running totals are ``cumulative``."""
    return bisect(cumulative, rng.random() * cumulative[-1])


def quote(text: str) -> str:
    """A YAML double-quoted scalar, as the seeds write titles and excerpts."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Pool:
    """A long deterministic word stream; a text is a slice of it, which is fast to cut.

    Drawing every word with the random generator would make generation CPU-bound
    (100k records need about 30 million words); a slice costs two draws.
    """

    def __init__(self, seed: int, words: int = POOL_WORDS) -> None:
        drawn = Random(seed).choices(WORDS, k=words)
        self.text = " ".join(drawn)
        self.starts: list[int] = []
        position = 0
        for word in drawn:
            self.starts.append(position)
            position += len(word) + 1
        self.starts.append(position)

    def sentence(self, rng: Random, low: int, high: int) -> str:
        count = low + draw(rng, high - low + 1)
        first = draw(rng, len(self.starts) - 1 - count)
        text = self.text[self.starts[first] : self.starts[first + count] - 1]
        return text[0].upper() + text[1:]


_POOLS: dict[int, Pool] = {}


def pool(seed: int) -> Pool:
    """The pool for ``seed``, built once per process."""
    if seed not in _POOLS:
        _POOLS[seed] = Pool(seed)
    return _POOLS[seed]


def slug_part(word: str) -> str:
    part = _SLUG_PARTS.get(word)
    if part is None:
        part = "".join(c for c in word.lower() if c.isascii() and (c.isalnum() or c == "-")).strip("-")
        _SLUG_PARTS[word] = part
    return part


def slug(title: str, words: int = 6) -> str:
    parts = [slug_part(w) for w in title.split()[:words]]
    return "-".join(p for p in parts if p) or "story"


def timestamp(rng: Random, moment: int, *, plain: bool = False) -> str:
    """Mostly ``...Z`` unquoted; a few percent with another offset and/or quoted, like real exports."""
    roll = 1.0 if plain else rng.random()
    if roll >= SHARE_OFFSET + SHARE_QUOTED:
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    offset = OFFSETS[draw(rng, len(OFFSETS))]
    if roll >= SHARE_OFFSET and rng.random() < 0.5:
        text = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    else:
        text = datetime.fromtimestamp(moment, _ZONES[offset]).strftime("%Y-%m-%dT%H:%M:%S") + offset
    return quote(text) if roll >= SHARE_OFFSET else text


def pick_provider(rng: Random) -> Provider:
    return PROVIDERS[weighted(rng, _CUM_PROVIDERS)]


def pick_topics(rng: Random) -> list[str]:
    wanted = 1 + weighted(rng, (4, 8, 10))  # 1, 2 or 3 topics: 40%, 40%, 20%
    topics: list[str] = []
    while len(topics) < wanted:
        topic = TOPICS[weighted(rng, _CUM_TOPICS)]
        if topic not in topics:
            topics.append(topic)
    return topics


def article_url(rng: Random, provider: Provider, moment: int, title: str, unique: str) -> str:
    day = datetime.fromtimestamp(moment, UTC)
    section = SECTIONS[draw(rng, len(SECTIONS))]
    host = ("www." if provider.style == 1 else "") + provider.domain
    if provider.style == 0:
        return f"https://{host}/{section}/{day:%Y/%m/%d}/{slug(title)}-{unique}/"
    if provider.style == 1:
        return f"https://{host}/{section}/{slug(title)}-a{unique}.html"
    return f"https://{host}/{day:%Y/%m}/{slug(title)}-{unique}"


def secured(rng: Random) -> str:
    """Shaped like the real payload: base64 ciphertext;base64 IV (about 345 characters)."""
    ciphertext = base64.b64encode(rng.randbytes(216 + 3 * draw(rng, 16))).decode("ascii")
    return f"{ciphertext};{base64.b64encode(rng.randbytes(16)).decode('ascii')}"


# ---------------------------------------------------------------- records


def record_text(
    rng: Random,
    words: Pool,
    index: int,
    moment: int,
    *,
    published: bool,
    url: str | None = None,
    plain_time: bool = False,
) -> tuple[str, str]:
    """One record file (and its sourceUrl), in the key order and quoting style of ``seeds/006_*.txt``."""
    provider = pick_provider(rng)
    title = words.sentence(rng, 7, 15)
    if url is None:
        url = article_url(rng, provider, moment, title, f"{index:07d}")
    quality = 5 + draw(rng, 36)
    lines = [
        "---",
        "category: news",
        f"title: {quote(title)}",
        f"excerpt: {quote(words.sentence(rng, 150, 240) + ' ...')}",
        f"publishedDateTime: {timestamp(rng, moment, plain=plain_time)}",
        f"sourceUrl: {url}",
        "type: article",
        f"quality: {quality}",
        f"heat: {1 + draw(rng, quality)}",
        f"published: {'true' if published else 'false'}",
        "",
        "provider:",
        f"  name: {provider.name}",
        f"  domain: {provider.domain}",
        "",
        "topics:",
        *(f"  - {topic}" for topic in pick_topics(rng)),
        "",
    ]
    images = weighted(rng, (3, 7, 9, 10))  # 0–3 images: 30%, 40%, 20%, 10%
    if images:
        lines.append("images:")
        day = datetime.fromtimestamp(moment, UTC)
        for number in range(images):
            width, height = DIMENSIONS[draw(rng, len(DIMENSIONS))]
            suffix = IMAGE_SUFFIXES[draw(rng, len(IMAGE_SUFFIXES))]
            lines += [
                f"  - url: https://static.{provider.domain}/images/{day:%Y/%m/%d}/{slug(title, 4)}-{number}.{suffix}",
                f"    width: {width}",
                f"    height: {height}",
                f"    title: {quote(title)}",
            ]
    else:
        lines.append("images: []")
    lines.append("")
    related = weighted(rng, (2, 5, 7, 9, 10))  # 0–4 related items: 20%, 30%, 20%, 20%, 10%
    if related:
        lines.append("related:")
        for _ in range(related):
            other = pick_provider(rng)
            when = moment + 60 * (draw(rng, 30 * 60) - 6 * 60)  # 6 h before to 24 h after
            other_title = words.sentence(rng, 7, 14)
            link = article_url(rng, other, when, other_title, f"{rng.getrandbits(32):08x}")
            amp = f"{link.rstrip('/')}/amp/"
            cdn_host = amp.split("/")[2]
            lines += [
                f"  - title: {quote(other_title)}",
                f"    excerpt: {quote('... ' + words.sentence(rng, 45, 80) + ' ...')}",
                f"    publishedDateTime: {timestamp(rng, when)}",
                f"    sourceUrl: {link}",
                f"    ampUrl: {amp}",
                f"    cdnAmpUrl: https://{cdn_host.replace('.', '-')}.cdn.ampproject.org/c/s/{amp.split('://', 1)[1]}",
                "    type: article",
                "    provider:",
                f"      name: {other.name}",
                f"      domain: {other.domain}",
                f"    quality: {5 + draw(rng, 36)}",
            ]
    else:
        lines.append("related: []")
    lines += ["", f"secured: {quote(secured(rng))}", "---", "", ""]
    return "\n".join(lines), url


def write_folder(out: Path, count: int, seed: int, folder: int) -> tuple[int, int]:
    """Write the records of one subfolder; return (files, bytes).

    Each folder draws from its own generator seeded with (seed, folder), so the
    corpus is the same whether folders are written by one process or several.
    """
    rng = Random(f"feeds-benchmark:{seed}:{folder}")
    words = pool(seed)
    directory = out / f"{folder:03d}"
    directory.mkdir(parents=True, exist_ok=True)
    span = END - START
    step = max(60, span // max(count, 1))
    urls: list[str] = []
    total = 0
    for index in range(folder * FILES_PER_FOLDER, min(count, (folder + 1) * FILES_PER_FOLDER)):
        name = f"{index:06d}_{rng.getrandbits(64):016x}.txt"
        # Times grow with the file index (as in a chronological export), so the
        # newest records are the last files; the jitter stays within one step.
        moment = START + span * index // count + 60 * draw(rng, step // 60)
        moment -= moment % 60
        published = rng.random() >= SHARE_UNPUBLISHED
        url = None
        if urls and rng.random() < SHARE_DUPLICATE_URL:
            url = urls[draw(rng, len(urls))]  # a re-export of a story from shortly before
        if rng.random() < SHARE_FUTURE:
            moment, published = FUTURE + 60 * draw(rng, YEAR // 60), True  # scheduled for later
        text, url = record_text(rng, words, index, moment, published=published, url=url)
        urls.append(url)
        data = text.encode("utf-8")
        fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        total += len(data)
    return len(urls), total


def generate(count: int, out: Path, seed: int, jobs: int | None = None) -> Stats:
    """Write ``count`` records below ``out``, in subfolders 000/, 001/, … of 1,000 files."""
    started = time.perf_counter()
    folders = range((count + FILES_PER_FOLDER - 1) // FILES_PER_FOLDER)
    jobs = min(jobs or os.cpu_count() or 1, len(folders))
    out.mkdir(parents=True, exist_ok=True)
    if jobs <= 1:
        results = [write_folder(out, count, seed, folder) for folder in folders]
    else:
        # Creating files is mostly kernel time, which overlaps well across processes.
        pool(seed)  # built once here, inherited by forked workers
        with ProcessPoolExecutor(jobs) as executor:
            results = list(executor.map(partial(write_folder, out, count, seed), folders))
    return Stats(sum(r[0] for r in results), sum(r[1] for r in results), time.perf_counter() - started)


# ---------------------------------------------------------------- marker


def generator_digest() -> str:
    """Changes whenever this generator does, so a corpus from an older version is not reused."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def write_marker(corpus: Path, count: int, seed: int, *, pristine: bool) -> None:
    """Describe the corpus in a hidden file (``feeds`` skips hidden files)."""
    marker = {"count": count, "seed": seed, "generator": generator_digest(), "pristine": pristine}
    (corpus / MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n", encoding="utf-8")


def is_pristine(corpus: Path, count: int, seed: int) -> bool:
    """Whether ``corpus`` holds exactly what ``generate(count, corpus, seed)`` writes."""
    try:
        marker = json.loads((corpus / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    expected = {"count": count, "seed": seed, "generator": generator_digest(), "pristine": True}
    return bool(marker == expected)


def _mark_mutated(corpus: Path) -> None:
    try:
        marker = json.loads((corpus / MARKER).read_text(encoding="utf-8"))
        write_marker(corpus, marker["count"], marker["seed"], pristine=False)
    except (OSError, ValueError, KeyError, TypeError):
        pass


# ---------------------------------------------------------------- mutations for incremental builds


def record_files(corpus: Path) -> list[Path]:
    """The corpus's record files in the order ``feeds`` reads them (sorted by path)."""
    return sorted(corpus.glob("*/*.txt"))


def add_record(corpus: Path, seed: int = 1) -> Path:
    """Add one published record, newer than every generated one; return its path."""
    _mark_mutated(corpus)
    files = record_files(corpus)
    index = int(files[-1].name.split("_", 1)[0]) + 1 if files else 0
    rng = Random(seed * 1_000_003 + index)
    path = corpus / f"{index // FILES_PER_FOLDER:03d}" / f"{index:06d}_{rng.getrandbits(64):016x}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    text, _ = record_text(rng, pool(seed), index, ADDED_AT, published=True, plain_time=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def edit_record(corpus: Path, seed: int = 1, skip: Collection[Path] = ()) -> tuple[Path, bytes]:
    """Retitle the newest published record (so it is in the feeds); return its path and old bytes.

    The new title has about the old one's length, so the file keeps its size.
    """
    for path in reversed(record_files(corpus)):
        if path in skip:
            continue
        old = path.read_bytes()
        text = old.decode("utf-8")
        head = text.split("\n---\n", 1)[0]
        if "\npublished: true\n" not in head or "\npublishedDateTime: 2031" in head or '"2031' in head:
            continue
        start = text.index("\ntitle: ") + len("\ntitle: ")
        end = text.index("\n", start)
        rng = Random(seed * 1_000_003 + len(old))
        title = "Updated:"
        while len(title) < end - start - 2:
            title += " " + WORDS[draw(rng, len(WORDS))]
        if quote(title) == text[start:end]:
            title += " (corrected)"
        _mark_mutated(corpus)
        path.write_bytes((text[:start] + quote(title) + text[end:]).encode("utf-8"))
        return path, old
    raise SystemExit(f"{corpus}: no published record to edit")


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate",
        description="Write a deterministic corpus of record files, or change one record of it.",
    )
    parser.add_argument("--count", type=int, help="number of records to write")
    parser.add_argument("--out", type=Path, required=True, help="corpus folder (subfolders of 1,000 files)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--force", action="store_true", help="empty --out first if it holds files")
    parser.add_argument("--jobs", type=int, help="processes writing files (default: CPU count); same output")
    parser.add_argument(
        "--mutate",
        choices=("add", "edit"),
        help="instead of generating: add one new record, or retitle the newest published one",
    )
    args = parser.parse_args(argv)
    if args.mutate == "add":
        print(add_record(args.out, args.seed))
        return 0
    if args.mutate == "edit":
        print(edit_record(args.out, args.seed)[0])
        return 0
    if args.count is None or args.count < 0:
        parser.error("--count N is required (N >= 0) unless --mutate is given")
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            parser.error(f"{args.out} is not empty; pass --force to replace it")
        shutil.rmtree(args.out)
    stats = generate(args.count, args.out, args.seed, args.jobs)
    write_marker(args.out, args.count, args.seed, pristine=True)
    rate = stats.files / stats.seconds if stats.seconds else float("inf")
    print(
        f"wrote {stats.files} records ({stats.bytes / 1e6:.1f} MB, {stats.bytes / max(stats.files, 1):.0f} B each) "
        f"to {args.out} in {stats.seconds:.2f} s ({rate:,.0f} files/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
